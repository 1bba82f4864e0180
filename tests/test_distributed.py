"""Training on several processes (DistributedDataParallel under torchrun, gloo on CPU)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from textkit.batching import LengthBucketSampler

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("n, batch_size, world", [(103, 10, 2), (100, 10, 3), (57, 4, 4)])
def test_each_process_takes_its_own_equal_share_of_every_epoch(n, batch_size, world):
    lengths = [1 + (i * 7) % 13 for i in range(n)]
    whole = list(LengthBucketSampler(lengths, batch_size, seed=3))
    for epoch in (1, 2):
        shares = []
        for rank in range(world):
            sampler = LengthBucketSampler(lengths, batch_size, seed=3, rank=rank, world=world)
            sampler.set_epoch(epoch)
            shares.append(list(sampler))
            assert len(shares[-1]) == len(sampler) == len(whole) // world  # the same step count everywhere
        one = LengthBucketSampler(lengths, batch_size, seed=3)
        one.set_epoch(epoch)
        batches = list(one)
        kept = len(batches) // world * world
        # dealt round-robin from the one-process order; the last < world batches left out
        assert [b for rank_batches in zip(*shares) for b in rank_batches] == batches[:kept]
    assert len(whole) == -(-n // batch_size)


def test_fewer_batches_than_processes_is_refused():
    with pytest.raises(ValueError, match=r"3 training texts make 1 batch\(es\) of 50, fewer than the 2 processes"):
        LengthBucketSampler([1, 2, 3], 50, rank=0, world=2)


def write_reviews(folder, n: int, n_train: int, tail: str = "") -> None:
    """train.csv and test.csv of separable one-line reviews, alternately pos and neg."""
    rows = [("pos" if i % 2 else "neg", f"a {'great fun' if i % 2 else 'dull awful'} film number {i}{tail}")
            for i in range(n)]
    for name, part in (("train.csv", rows[:n_train]), ("test.csv", rows[n_train:])):
        (folder / name).write_text("label,text\n" + "".join(f"{label},{text}\n" for label, text in part),
                                   encoding="utf-8")


def test_torchrun_two_processes_train_and_rank_0_writes_the_run(tmp_path):
    write_reviews(tmp_path, 200, 160)
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "textkit", "train",
         "--train", "train.csv", "--test", "test.csv", "--model", "bow", "--epochs", "3", "--batch-size", "16", "--lr", "0.05",
         "--device", "cpu", "--out", "run"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("data: files") == 1 and done.stdout.count("\nwrote run/") == 1  # rank 0 speaks
    assert [line.split(":")[0] for line in done.stderr.splitlines() if line.startswith("epoch ")] == \
        ["epoch 1/3", "epoch 2/3", "epoch 3/3"]  # once each, not once per process
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and len(metrics["history"]) == 3 and metrics["accuracy"] > 0.9
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run", "test.csv", "train.csv"]  # nothing else written

    from textkit import TextClassifier

    clf = TextClassifier.load(tmp_path / "run" / "model", device="cpu")
    assert clf.predict(["a great fun film", "a dull awful film"]) == ["pos", "neg"]


def test_an_error_in_one_process_names_its_rank(tmp_path, monkeypatch, capsys):
    from textkit.cli import main

    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--train", str(tmp_path / "nope.csv"), "--test", str(tmp_path / "nope.csv"),
                 "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err.startswith("textkit: error: [rank 1 of 2] ")


def test_torchrun_interrupted_then_resumed_ends_where_an_uninterrupted_run_ends(tmp_path):
    import signal

    write_reviews(tmp_path, 2400, 2000, tail=" of many")
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    base = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "textkit", "train",
            "--train", "train.csv", "--test", "test.csv", "--model", "cnn", "--epochs", "3", "--batch-size", "8",
            "--device", "cpu", "--threads", "1"]
    done = subprocess.run([*base, "--out", "straight"], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=env)
    assert done.returncode == 0, done.stderr
    # SIGINT to torchrun after epoch 1: it stops both workers; rank 0 keeps the finished epoch
    process = subprocess.Popen([*base, "--out", "run"], cwd=tmp_path, stderr=subprocess.PIPE, text=True, env=env,
                               stdout=subprocess.DEVNULL)
    for line in process.stderr:
        if line.startswith("epoch 1/3"):
            process.send_signal(signal.SIGINT)
            break
    process.stderr.read()
    assert process.wait(timeout=120) != 0 and not (tmp_path / "run").exists()
    done = subprocess.run([*base, "--out", "run", "--resume"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, done.stderr
    assert "epoch 1/3" not in done.stderr and "epoch 3/3" in done.stderr  # continued, not started over
    straight, resumed = (json.loads((tmp_path / name / "metrics.json").read_text()) for name in ("straight", "run"))
    untimed = [[{k: v for k, v in r.items() if k not in ("seconds", "tokens_per_s")} for r in m["history"]]
               for m in (straight, resumed)]
    assert untimed[0] == untimed[1] and resumed["accuracy"] == straight["accuracy"]
