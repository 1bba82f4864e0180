"""The default torch thread count: the cores no other process is busy on (textkit.threads)."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from textkit import threads
from textkit.training import TrainConfig


@pytest.mark.parametrize("usable, busy, expected", [
    (2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 2.0, 1), (2, 7.0, 1),  # a loaded 2-core machine: 1, never 0
    (64, 10.0, 54),
])
def test_default_is_the_free_cores_at_least_one(monkeypatch, usable, busy, expected):
    monkeypatch.setattr(threads, "usable_cores", lambda: usable)
    monkeypatch.setattr(threads, "busy_cores", lambda seconds=0.1: busy)
    before = torch.get_num_threads()
    torch.set_num_threads(64)  # torch's own default caps it (one thread per core)
    try:
        assert threads.default_threads() == expected
    finally:
        torch.set_num_threads(before)


def test_busy_cores_sees_a_busy_process():
    idle_or_not = threads.busy_cores()
    assert 0.0 <= idle_or_not <= (threads.os.cpu_count() or 1) + 0.01
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)  # started and spinning
        assert threads.busy_cores(0.3) >= 0.5
    finally:
        hog.kill()
        hog.wait()


def test_torch_threads_sets_and_restores():
    before = torch.get_num_threads()
    with threads.torch_threads(1) as chosen:
        assert chosen == 1 and torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with threads.torch_threads(None) as chosen:
        assert 1 <= chosen <= threads.usable_cores()
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match=r"threads must be an int >= 1 or None \(the free cores\), got 0"):
        with threads.torch_threads(0):
            pass


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_train_config_refuses_a_bad_thread_count(value):
    with pytest.raises(ValueError, match=r"TrainConfig threads must be an int >= 1 or None \(the free cores\)"):
        TrainConfig(threads=value)


@pytest.mark.parametrize("count", [1, 2])
def test_training_runs_with_its_threads_and_leaves_torch_as_it_was(count):
    from textkit.models import build_model
    from textkit.training import train

    before = torch.get_num_threads()
    seen = []
    model = build_model("bow", vocab_size=10, num_classes=2)
    data = ([[2, 3], [4, 5, 6], [7], [8, 9]] * 3, [0, 1, 0, 1] * 3)
    train(model, data, config=TrainConfig(epochs=2, threads=count, progress=False, device="cpu"),
          on_epoch_end=lambda record: seen.append(torch.get_num_threads()))
    assert seen == [count, count]
    assert torch.get_num_threads() == before
