"""The training loop: devices, seeding, batching, clipping, early stopping, resume, divergence."""
from __future__ import annotations

import dataclasses
import json
import re
import math
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

from textkit.padding import PAD_ID
from textkit.batching import LengthBucketSampler, class_weights, make_loader
from textkit.checkpoints import CHECKPOINT_FILE, HISTORY_FILE, load_checkpoint
from textkit.optim import lr_factor, make_optimizer
from textkit.training import StopTraining, TrainConfig, predict_logits, resolve_device, seed_everything, train

VOCAB = 40


@dataclass
class TinyConfig:
    vocab_size: int
    num_classes: int
    dim: int = 16
    dropout: float = 0.2


class TinyModel(nn.Module):
    """Follows the models/ contract: forward(ids, lengths), config, min_length, apply_constraints."""

    def __init__(self, vocab_size: int = VOCAB, num_classes: int = 3, *, min_length: int = 1, **config) -> None:
        super().__init__()
        self.config = TinyConfig(vocab_size, num_classes, **config)
        self.min_length = min_length
        self.embed = nn.Embedding(vocab_size, self.config.dim, padding_idx=PAD_ID)
        self.drop = nn.Dropout(self.config.dropout)
        self.out = nn.Linear(self.config.dim, num_classes)
        self.constraint_calls = 0
        self.widths: list[int] = []

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        assert ids.shape[1] >= self.min_length, (ids.shape, self.min_length)
        self.widths.append(ids.shape[1])
        mask = torch.arange(ids.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)
        summed = (self.embed(ids) * mask.unsqueeze(-1)).sum(1)  # (B, E)
        pooled = summed / lengths.clamp(min=1).unsqueeze(1)
        return self.out(self.drop(pooled))  # (B, C)

    def apply_constraints(self) -> None:
        self.constraint_calls += 1


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: as fast as two for these tiny models, and robust when other processes
    share the cores (two spinning threads made this file 2.6x slower under load)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def make_data(n: int = 240, num_classes: int = 3, seed: int = 0):
    """Class c texts hold a few copies of token 2 + c among noise tokens 10..39, lengths 2..24."""
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for _ in range(n):
        c = int(rng.integers(num_classes))
        length = int(rng.integers(2, 25))
        seq = rng.integers(10, VOCAB, size=length)
        seq[rng.choice(length, size=max(1, length // 4), replace=False)] = 2 + c
        sequences.append(seq.tolist())
        labels.append(c)
    return sequences, np.array(labels)


def fresh_model(seed: int = 0, **kwargs) -> TinyModel:
    seed_everything(seed)
    return TinyModel(**kwargs)


def quiet(**options) -> TrainConfig:
    return TrainConfig(progress=False, device="cpu", **options)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def same_weights(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("seconds", "tokens_per_s")} for r in history]


# -- device and config -------------------------------------------------------------------------
def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert resolve_device("auto").type == expected
    with pytest.raises(ValueError, match=r"device must be .*got 'tpu'"):
        resolve_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_is_a_clear_error():
    with pytest.raises(ValueError, match=r"device='cuda' was requested but no CUDA GPU is available"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match=r"device='cuda:1' was requested"):
        train(TinyModel(), make_data(20), config=TrainConfig(device="cuda:1", progress=False))


@pytest.mark.parametrize("option, value, message", [
    ("optimizer", "adamax", r"optimizer must be one of \['adadelta', 'adam', 'adamw', 'sgd'\], got 'adamax'"),
    ("monitor", "f1", r"monitor must be one of .*got 'f1'"),
    ("epochs", 0, r"epochs must be an int >= 1, got 0"),
    ("warmup", 1.5, r"warmup must be a fraction .*got 1.5"),
    ("class_weight", [1.0, -2.0], r"class_weight must be 'balanced', None or a list"),
    ("amp", "yes", r"amp must be True or False, got 'yes'"),
    ("seed", -1, r"seed must be an int in \[0, 2\*\*32 - 1\]"),  # scikit-learn's range: it failed in there
    ("seed", 2**32, r"seed must be an int in \[0, 2\*\*32 - 1\]"),
])
def test_config_errors_name_option_expected_and_received(option, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{option: value})


def test_class_weight_may_be_an_array():
    assert TrainConfig(class_weight=np.array([1, 2.5])).class_weight == [1.0, 2.5]
    assert TrainConfig(class_weight=torch.tensor([1.0, 3.0])).class_weight == [1.0, 3.0]


def test_optimizers_by_name_with_their_usual_learning_rates():
    params = [nn.Parameter(torch.ones(3))]
    expected = {"adamw": (torch.optim.AdamW, 1e-3), "adam": (torch.optim.Adam, 1e-3),
                "adadelta": (torch.optim.Adadelta, 1.0), "sgd": (torch.optim.SGD, 0.1)}
    for name, (cls, lr) in expected.items():
        optimizer = make_optimizer(name, params)
        assert type(optimizer) is cls and optimizer.param_groups[0]["lr"] == lr
    assert make_optimizer("adadelta", params).param_groups[0]["rho"] == 0.95  # Kim 2014
    assert make_optimizer("sgd", params, lr=0.5).param_groups[0]["lr"] == 0.5


def test_schedules_warm_up_then_decay_to_zero():
    factor = {s: [lr_factor(t, schedule=s, warmup_steps=10, total_steps=110) for t in range(110)]
              for s in ("constant", "linear", "cosine")}
    for values in factor.values():
        assert values[:10] == pytest.approx([(t + 1) / 10 for t in range(10)])
    assert factor["constant"][10:] == [1.0] * 100
    assert factor["linear"][10] == 1.0 and factor["linear"][60] == pytest.approx(0.5)
    assert factor["cosine"][60] == pytest.approx(0.5) and factor["cosine"][35] > factor["linear"][35]
    assert factor["linear"][-1] < 0.011 and factor["cosine"][-1] < 0.001


def test_balanced_class_weights_follow_sklearn_rule():
    labels = np.array([0, 0, 0, 1])
    assert class_weights(labels, "balanced", 2).tolist() == pytest.approx([4 / 6, 4 / 2])
    multi = np.array([[1, 0], [1, 1], [1, 0], [0, 0]], dtype=np.float32)
    assert class_weights(multi, "balanced", 2, multi_label=True).tolist() == pytest.approx([1 / 3, 3.0])
    with pytest.raises(ValueError, match=r"class indices \[2\] have no example"):
        class_weights(labels, "balanced", 3)
    with pytest.raises(ValueError, match=r"class_weight has 2 weights but there are 3 classes"):
        class_weights(labels, [1.0, 2.0], 3)


# -- batching ------------------------------------------------------------------------------------
def test_length_buckets_cover_every_index_cut_padding_and_stay_random():
    lengths = np.random.default_rng(1).integers(1, 200, size=1000)
    sampler = LengthBucketSampler(lengths, 10, chunk_batches=20, seed=3)
    sampler.set_epoch(1)
    epoch1 = list(sampler)
    assert len(epoch1) == len(sampler) == 100
    assert sorted(i for batch in epoch1 for i in batch) == list(range(1000))
    assert list(sampler) == epoch1  # (seed, epoch) alone fixes the order
    sampler.set_epoch(2)
    assert list(sampler) != epoch1
    plain = LengthBucketSampler(lengths, 10, bucket=False, seed=3)
    padded = lambda batches: sum(len(b) * lengths[b].max() for b in batches)  # noqa: E731
    assert padded(epoch1) < 0.6 * padded(list(plain))
    widths = [lengths[b].max() for b in epoch1]
    assert widths != sorted(widths) and widths != sorted(widths, reverse=True)  # batch order shuffled


def test_loader_pads_each_batch_to_its_own_longest_row_and_min_length():
    sequences = [[5] * n for n in (1, 2, 2, 3, 30, 31)]
    loader = make_loader(sequences, np.zeros(6, dtype=np.int64), batch_size=3, min_length=3, shuffle=False)
    widths = [batch.ids.shape[1] for batch in loader]
    assert widths == [3, 31]  # first batch raised to min_length, not padded to 31
    batch = next(iter(loader))
    assert batch.lengths.tolist() == [1, 2, 2] and batch.labels.dtype == torch.int64


# -- the loop --------------------------------------------------------------------------------------
def test_learns_calls_constraints_every_step_and_writes_history(tmp_path):
    data, valid = make_data(240), make_data(60, seed=1)
    model = fresh_model(min_length=4)
    result = train(model, data, valid, quiet(epochs=4, batch_size=20, lr=0.05, patience=None, schedule="linear"),
                   out_dir=tmp_path)
    assert model.constraint_calls == 4 * 12
    assert min(model.widths) >= 4
    assert result.history[-1]["valid_accuracy"] >= 0.9
    lines = (tmp_path / HISTORY_FILE).read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3, 4]
    assert {"train_loss", "valid_loss", "valid_accuracy", "valid_macro_f1", "lr", "tokens_per_s"} <= set(json.loads(lines[0]))
    assert result.history[-1]["lr"] < 0.05 / 12  # linear decay reached (nearly) zero


def test_same_seed_same_result_different_seed_different():
    data, valid = make_data(), make_data(60, seed=1)
    runs = []
    for seed in (7, 7, 8):
        model = fresh_model(seed)
        result = train(model, data, valid, quiet(epochs=2, batch_size=16, seed=seed, lr=0.02))
        runs.append((weights(model), without_timing(result.history)))
    assert same_weights(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert not same_weights(runs[0][0], runs[2][0])


def test_gradient_clipping_bounds_every_parameters_step():
    data = make_data(64)
    model = fresh_model(dropout=0.0)
    before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
    config = quiet(epochs=1, batch_size=64, optimizer="sgd", lr=1.0, momentum=0.0, schedule="constant", clip_norm=1e-3)
    train(model, data, config=config)  # one step: the update is lr * clipped gradient
    after = torch.cat([p.detach().flatten() for p in model.parameters()])
    assert 0 < (after - before).norm() <= 1e-3 * 1.0001


def test_early_stopping_really_stops_and_restores_the_best_weights():
    data = make_data()
    flipped = make_data(60, seed=1)
    flipped = (flipped[0], (flipped[1] + 1) % 3)  # validation rewards the opposite of training
    snapshots = {}
    model = fresh_model()
    result = train(model, data, flipped, quiet(epochs=20, batch_size=20, lr=0.05, patience=2, monitor="loss"),
                   on_epoch_end=lambda record: snapshots.update({record["epoch"]: weights(model)}))
    assert result.stopped_early
    assert len(result.history) == result.best_epoch + 2 < 20
    assert sorted(snapshots) == [r["epoch"] for r in result.history]
    assert same_weights(weights(model), snapshots[result.best_epoch])
    assert not same_weights(weights(model), snapshots[len(result.history)])


def test_on_epoch_end_can_stop_a_run_as_early_stopping_does():
    data, valid = make_data(), make_data(60, seed=1)
    snapshots = {}
    model = fresh_model()

    def stop_after_three(record):
        snapshots[record["epoch"]] = weights(model)
        if record["epoch"] == 3:
            raise StopTraining

    result = train(model, data, valid, quiet(epochs=20, batch_size=20, lr=0.05, patience=None),
                   on_epoch_end=stop_after_three)
    assert result.stopped_early and len(result.history) == 3
    assert same_weights(weights(model), snapshots[result.best_epoch])  # the best of the three, restored


class Crash(Exception):
    pass


def test_resume_after_a_kill_reaches_the_uninterrupted_result(tmp_path):
    data, valid = make_data(), make_data(60, seed=1)
    config = quiet(epochs=3, batch_size=16, lr=3e-3, optimizer="adamw", weight_decay=0.01, warmup=0.2,
                   schedule="cosine", clip_norm=0.5, patience=None)
    straight = fresh_model()
    expected = train(straight, data, valid, config)

    def crash_after_epoch_2(record):
        if record["epoch"] == 2:
            raise Crash

    with pytest.raises(Crash):
        train(fresh_model(), data, valid, config, out_dir=tmp_path, on_epoch_end=crash_after_epoch_2)
    assert load_checkpoint(tmp_path / CHECKPOINT_FILE)["epoch"] == 2
    # A new model object (different init seed: resume must not depend on it) and a new loop.
    resumed = fresh_model(seed=123)
    result = train(resumed, data, valid, config, out_dir=tmp_path, resume=True)
    assert same_weights(weights(resumed), weights(straight))
    assert without_timing(result.history) == without_timing(expected.history)
    assert len((tmp_path / HISTORY_FILE).read_text().splitlines()) == 3
    # The finished run resumes to itself without training again.
    again = fresh_model(seed=5)
    train(again, data, valid, config, out_dir=tmp_path, resume=True)
    assert same_weights(weights(again), weights(straight)) and again.constraint_calls == 0
    # A larger `epochs` continues the finished run for the extra epoch only.
    longer = fresh_model(seed=9)
    result = train(longer, data, valid, dataclasses.replace(config, epochs=4), out_dir=tmp_path, resume=True)
    assert [r["epoch"] for r in result.history] == [1, 2, 3, 4] and longer.constraint_calls == 15


def test_checkpoint_is_plain_data_loadable_with_weights_only(tmp_path):
    train(fresh_model(), make_data(40), make_data(20, seed=1), quiet(epochs=1), out_dir=tmp_path)
    state = torch.load(tmp_path / CHECKPOINT_FILE, weights_only=True)
    assert {"model", "optimizers", "schedulers", "scaler", "rng", "epoch", "best_metric", "bad_epochs",
            "sampler", "history"} <= set(state)
    assert not list(tmp_path.glob("*.tmp"))
    (tmp_path / CHECKPOINT_FILE).write_bytes((tmp_path / CHECKPOINT_FILE).read_bytes()[:500])
    with pytest.raises(ValueError, match=r"checkpoint file .*checkpoint.pt' is damaged"):
        train(fresh_model(), make_data(40), config=quiet(epochs=1), out_dir=tmp_path, resume=True)


def test_resume_refuses_a_different_run(tmp_path):
    train(fresh_model(), make_data(40), config=quiet(epochs=1, lr=0.01), out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"cannot resume .*lr=0.01 in the checkpoint, 0.02 now"):
        train(fresh_model(), make_data(40), config=quiet(epochs=2, lr=0.02), out_dir=tmp_path, resume=True)
    # what TrainConfig does not hold: the model and the data (these used to resume silently, mixing
    # two runs, or fail inside torch's load_state_dict)
    with pytest.raises(ValueError, match=r"cannot resume .*\(another model \(name, options or sizes\)\)"):
        train(fresh_model(dim=8), make_data(40), config=quiet(epochs=2, lr=0.01), out_dir=tmp_path, resume=True)
    sequences, labels = make_data(40)
    with pytest.raises(ValueError, match=r"other training data \(texts, labels, pipeline or vocabulary\)"):
        train(fresh_model(), (sequences, labels[::-1].copy()), config=quiet(epochs=2, lr=0.01), out_dir=tmp_path,
              resume=True)
    with pytest.raises(ValueError, match=r"\(other validation data\)"):
        train(fresh_model(), make_data(40), make_data(10, seed=1), config=quiet(epochs=2, lr=0.01),
              out_dir=tmp_path, resume=True)
    train(fresh_model(), make_data(40), config=quiet(epochs=2, lr=0.01), out_dir=tmp_path, resume=True)  # same run


class PoisonedModel(TinyModel):
    """Returns NaN logits on its third forward call."""

    def forward(self, ids, lengths):
        logits = super().forward(ids, lengths)
        return logits * math.nan if len(self.widths) == 3 else logits


def test_nan_loss_stops_naming_epoch_step_and_causes():
    with pytest.raises(FloatingPointError, match=r"loss is nan at epoch 2, step 1 of 2.*learning rate too high"):
        train(PoisonedModel(), make_data(40), config=quiet(epochs=3, batch_size=20))


def test_bad_labels_name_the_range():
    sequences, labels = make_data(20)
    labels[3] = 7
    with pytest.raises(ValueError, match=r"train_data: labels must be class indices in \[0, 3\).*got \[7\]"):
        train(TinyModel(), (sequences, labels), config=quiet(epochs=1))


def test_multi_label_trains_with_bce():
    rng = np.random.default_rng(0)
    sequences = [rng.integers(10, VOCAB, size=int(rng.integers(3, 12))).tolist() for _ in range(300)]
    targets = rng.integers(0, 2, size=(300, 3))
    for seq, row in zip(sequences, targets):  # label j is on iff token 2 + j occurs
        seq.extend(2 + j for j in np.flatnonzero(row))
    model = fresh_model(num_classes=3, dropout=0.0)
    data, valid = (sequences[:240], targets[:240]), (sequences[240:], targets[240:])
    result = train(model, data, valid, quiet(epochs=8, batch_size=20, lr=0.05, monitor="micro_f1"), multi_label=True)
    assert result.history[-1]["valid_micro_f1"] >= 0.9
    probs = torch.sigmoid(torch.from_numpy(predict_logits(model, valid[0])))
    assert probs.shape == (60, 3)
    with pytest.raises(ValueError, match=r"multi-label labels must be a 0/1 matrix \(N, L\), got shape \(240,\)"):
        train(model, (sequences[:240], targets[:240, 0]), config=quiet(epochs=1), multi_label=True)


def test_predict_logits_keeps_input_order_and_ignores_padding():
    model = fresh_model(dropout=0.0).eval()
    sequences = [[3, 4, 5, 6, 7, 8], [2], [9, 9, 9]]
    together = predict_logits(model, sequences, batch_size=2)
    one_by_one = np.concatenate([predict_logits(model, [s]) for s in sequences])
    np.testing.assert_allclose(together, one_by_one, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer, sparse_class", [("adamw", torch.optim.SparseAdam), ("sgd", torch.optim.SGD)])
def test_sparse_embeddings_train_with_their_sparse_optimizer_decay_and_clipping(optimizer, sparse_class):
    from textkit.models import build_model
    from textkit.optim import make_optimizers

    torch.manual_seed(0)
    model = build_model("bow", vocab_size=20, num_classes=2, embed_dim=8, sparse=True)
    config = TrainConfig(epochs=30, batch_size=2, optimizer=optimizer, lr=0.05, weight_decay=0.01, clip_norm=1.0,
                         progress=False, bucket=False)
    dense, sparse = make_optimizers(config, model)
    assert type(sparse) is sparse_class and sparse.param_groups[0]["params"] == [model.embedding.weight]
    assert all(p is not model.embedding.weight for p in dense.param_groups[0]["params"])
    data = ([[2, 3], [4, 5, 6], [7], [8, 9]], np.array([0, 1, 0, 1]))
    before = model.embedding.weight.detach().clone()
    result = train(model, data, None, config)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    changed = (model.embedding.weight.cpu() != before.cpu()).any(1)  # train() may have moved it to a GPU
    assert changed[[2, 3, 4, 5, 6, 7, 8, 9]].all() and not changed[10:].any()  # untouched rows stay put


def test_sparse_embeddings_refuse_an_optimizer_without_sparse_support():
    from textkit.models import build_model

    model = build_model("bow", vocab_size=20, num_classes=2, sparse=True)
    data = ([[2, 3], [4, 5, 6]], np.array([0, 1]))
    with pytest.raises(ValueError, match=r"sparse=True.*optimizer='adadelta' cannot take; use 'adamw'"):
        train(model, data, None, TrainConfig(epochs=1, batch_size=2, optimizer="adadelta", progress=False))


def test_clip_grad_norm_counts_sparse_gradients_like_dense_ones():
    from textkit.optim import clip_grad_norm

    sparse_param, dense_param = nn.Parameter(torch.zeros(4, 2)), nn.Parameter(torch.zeros(3))
    # row 1 appears twice: the norm is over the summed (coalesced) gradient, [6, 8] -> 10
    sparse_param.grad = torch.sparse_coo_tensor([[1, 1]], torch.tensor([[3.0, 4.0], [3.0, 4.0]]), (4, 2),
                                               check_invariants=True)
    dense_param.grad = torch.tensor([0.0, 0.0, 0.0])
    clip_grad_norm([sparse_param, dense_param], 5.0)
    assert torch.allclose(sparse_param.grad.to_dense()[1], torch.tensor([3.0, 4.0]), atol=1e-5)


@pytest.mark.parametrize("progress", [None, True])
def test_each_epoch_is_one_human_line_on_stderr_even_without_a_terminal(capsys, progress):
    # was: a raw JSON dict with 16-digit floats on stdout, and nothing at all without a terminal
    train(fresh_model(), make_data(40), make_data(20, seed=1), TrainConfig(progress=progress, device="cpu", epochs=2))
    captured = capsys.readouterr()  # pytest's stderr is no terminal: what a log file gets
    assert captured.out == ""
    lines = [line for line in captured.err.splitlines() if "tokens/s" in line]  # not the bar's redraws
    assert len(lines) == 2
    for i, line in enumerate(lines, 1):
        assert re.fullmatch(rf"epoch {i}/2: loss \d\.\d{{4}}; valid accuracy \d\.\d{{4}}( \(best\))?, macro-F1 "
                            r"\d\.\d{4}, loss \d+\.\d{4}; \d+\.\d s, [\d,]+ tokens/s", line), line


def test_progress_false_prints_nothing(capsys):
    train(fresh_model(), make_data(40), make_data(20, seed=1), TrainConfig(progress=False, device="cpu", epochs=2))
    assert capsys.readouterr() == ("", "")


# -- numbers that cannot train are refused up front (issue #13) ---------------------------------------
@pytest.mark.parametrize("option, value, message", [
    ("lr", float("inf"), r"TrainConfig lr must be a finite number in \(0, 10\] \(textkit.train_config.MAX_LR\), or None"),
    ("lr", float("nan"), r"TrainConfig lr must be a finite number in \(0, 10\]"),
    ("lr", 1e30, r"TrainConfig lr must be a finite number in \(0, 10\].*got 1e\+30"),  # NaN weights after a step
    ("lr", 10**400, r"TrainConfig lr must be a finite number"),
    ("lr", 10.5, r"TrainConfig lr must be a finite number in \(0, 10\]"),
    ("weight_decay", float("inf"), r"TrainConfig weight_decay must be a finite number >= 0, got inf"),
    ("clip_norm", float("inf"), r"TrainConfig clip_norm must be a finite number > 0 or None, got inf"),
])
def test_non_finite_and_absurd_numbers_are_refused_before_training(option, value, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{option: value})


def test_the_largest_learning_rate_is_accepted():
    assert TrainConfig(lr=10).lr == 10 and TrainConfig(lr=10.0, optimizer="adadelta").lr == 10.0
