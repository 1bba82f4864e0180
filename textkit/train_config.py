"""``TrainConfig``: every knob of :func:`textkit.training.train`, checked when it is made, so a
bad value is one line before any data is touched."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .fileio import is_number

# name -> (class, default learning rate). Adadelta's 1.0 with rho=0.95, eps=1e-6 is Kim (2014).
OPTIMIZERS: dict[str, tuple[type, float]] = {
    "adamw": (torch.optim.AdamW, 1e-3),
    "adam": (torch.optim.Adam, 1e-3),
    "adadelta": (torch.optim.Adadelta, 1.0),
    "sgd": (torch.optim.SGD, 0.1),
}
SCHEDULES = ("constant", "linear", "cosine")
MONITORS = ("loss", "accuracy", "macro_f1", "micro_f1", "weighted_f1")
# Fields a resumed run may change without invalidating the checkpoint: they move work
# around (device, loader processes, logging) or extend the run, but do not redefine it.
_RESUMABLE_CHANGES = ("epochs", "device", "num_workers", "threads", "progress", "log_interval")
# The largest learning rate TrainConfig takes: ten times the largest usual one (Adadelta's 1.0).
# Past it no optimizer here trains (`--lr 1e30` made NaN weights after one step, and a one-epoch
# run saved them), and a typo like 1e3 for 1e-3 is caught before training, not epochs into it.
MAX_LR = 10.0


@dataclass
class TrainConfig:
    """Every knob of :func:`train`, with defaults that train a Kim-style CNN well.

    epochs: passes over the training data (the most; early stopping may end sooner).
    batch_size: texts per optimizer step (Kim 2014: 50).
    optimizer: ``"adamw"``, ``"adam"``, ``"adadelta"`` (Kim's choice) or ``"sgd"`` (momentum).
    lr: learning rate in (0, ``MAX_LR`` = 10]; ``None`` picks the optimizer's usual one
        (Adam/AdamW 1e-3, Adadelta 1.0, SGD 0.1).
    weight_decay: decoupled for AdamW, L2 for the others. A model with sparse embedding
        gradients (``bow`` with ``sparse=True``) trains those tables with ``SparseAdam``
        (Adam/AdamW) or momentum-free SGD, without weight decay (see ``make_optimizers``).
    momentum: SGD only.
    schedule: ``"constant"``, ``"linear"`` or ``"cosine"`` decay to 0 over all steps,
        after ``warmup`` (a fraction of all steps) of linear warmup from 0.
    clip_norm: clip the global gradient norm to this value; ``None`` turns clipping off.
    patience: stop after this many epochs without a better ``monitor`` value on the
        validation data (``None``: never stop early). With validation data the best
        epoch's weights are always restored at the end.
    monitor: validation metric for early stopping and "best": ``"loss"`` (lower is
        better) or ``"accuracy"``, ``"macro_f1"``, ``"micro_f1"``, ``"weighted_f1"``.
    class_weight: ``None``, ``"balanced"`` (weights n / (C * count); for multi-label a
        per-label positive weight negatives / positives) or one weight per class.
    device: ``"auto"`` (CUDA, then Apple MPS, then CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``.
    amp: mixed precision on CUDA (bf16 where supported, else fp16 with a GradScaler);
        ignored on CPU and MPS.
    seed: seeds Python, NumPy and torch, the batch order and (in ``TextClassifier``) the
        validation split.
    bucket: length-bucketed batches: shuffle, sort by length within chunks of
        ``bucket_chunk`` batches, shuffle the batch order. Less padding, batches stay random.
    num_workers: DataLoader processes for padding batches; 0 pads in the training
        process, which is fastest for short texts on few cores.
    eval_batch_size: texts per batch for validation and prediction.
    threads: torch CPU threads while training; ``None`` (default): the cores no other process
        is busy on when the run starts (see :mod:`textkit.threads`; several threads on busy
        cores ran 8-20x slower than one).
    progress: what a run shows on stderr. ``None`` (default): a tqdm bar with loss and
        tokens/s on a terminal, and one line per epoch (loss, validation scores, time) on a
        terminal or in a log; ``True``: the bar too when stderr is not a terminal; ``False``:
        nothing. The per-epoch records themselves go to ``history.jsonl`` (with ``out_dir``)
        and ``TrainResult.history``.
    log_interval: steps between progress updates; on a GPU also between loss checks
        (reading the loss syncs with the GPU, so it is batched: one sync per interval).
    """

    epochs: int = 10
    batch_size: int = 50
    optimizer: str = "adamw"
    lr: float | None = None
    weight_decay: float = 0.0
    momentum: float = 0.9
    schedule: str = "constant"
    warmup: float = 0.0
    clip_norm: float | None = 5.0
    patience: int | None = 3
    monitor: str = "accuracy"
    class_weight: str | list[float] | None = None
    device: str = "auto"
    amp: bool = True
    seed: int = 0
    bucket: bool = True
    bucket_chunk: int = 50
    num_workers: int = 0
    eval_batch_size: int = 256
    threads: int | None = None
    progress: bool | None = None
    log_interval: int = 20

    def __post_init__(self) -> None:
        def need(ok: bool, name: str, expected: str) -> None:
            if not ok:
                raise ValueError(f"TrainConfig {name} must be {expected}, got {getattr(self, name)!r}")

        def positive_int(name: str) -> None:
            value = getattr(self, name)
            need(isinstance(value, int) and not isinstance(value, bool) and value >= 1, name, "an int >= 1")

        for name in ("epochs", "batch_size", "bucket_chunk", "eval_batch_size", "log_interval"):
            positive_int(name)
        need(self.optimizer in OPTIMIZERS, "optimizer", f"one of {sorted(OPTIMIZERS)}")
        need(self.lr is None or (_is_finite(self.lr) and 0 < self.lr <= MAX_LR), "lr",
             f"a finite number in (0, {MAX_LR:g}] (textkit.train_config.MAX_LR), or None for the optimizer's usual one")
        need(_is_finite(self.weight_decay) and self.weight_decay >= 0, "weight_decay", "a finite number >= 0")
        need(is_number(self.momentum) and 0 <= self.momentum < 1, "momentum", "a number in [0, 1)")
        need(self.schedule in SCHEDULES, "schedule", f"one of {SCHEDULES}")
        need(is_number(self.warmup) and 0 <= self.warmup < 1, "warmup", "a fraction of all steps in [0, 1)")
        need(self.clip_norm is None or (_is_finite(self.clip_norm) and self.clip_norm > 0),
             "clip_norm", "a finite number > 0 or None")
        need(self.patience is None or (isinstance(self.patience, int) and self.patience >= 1),
             "patience", "an int >= 1 or None")
        need(self.monitor in MONITORS, "monitor", f"one of {MONITORS}")
        if isinstance(self.class_weight, (np.ndarray, torch.Tensor)):  # one weight per class, as a list
            self.class_weight = self.class_weight.tolist()
        if isinstance(self.class_weight, (list, tuple)):
            need(all(is_number(w) and w > 0 and math.isfinite(w) for w in self.class_weight),
                 "class_weight", "'balanced', None or a list of finite weights > 0")
            self.class_weight = [float(w) for w in self.class_weight]
        else:
            need(self.class_weight in (None, "balanced"), "class_weight",
                 "'balanced', None or a list of finite weights > 0")
        need(isinstance(self.device, str), "device", "a str such as 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps'")
        need(isinstance(self.seed, int) and not isinstance(self.seed, bool) and 0 <= self.seed < 2**32, "seed",
             "an int in [0, 2**32 - 1] (numpy's and scikit-learn's seed range)")
        need(isinstance(self.num_workers, int) and self.num_workers >= 0, "num_workers", "an int >= 0")
        for name in ("amp", "bucket"):
            need(isinstance(getattr(self, name), bool), name, "True or False")
        need(self.progress in (None, True, False), "progress", "True, False or None")
        need(self.threads is None or (isinstance(self.threads, int) and not isinstance(self.threads, bool)
                                      and self.threads >= 1), "threads", "an int >= 1 or None (the free cores)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown TrainConfig option(s) {unknown}; valid: "
                             f"{[f.name for f in dataclasses.fields(cls)]}")
        return cls(**data)


def _is_finite(value: Any) -> bool:
    """A number that is not NaN or infinite (an int always is; ``math.isfinite`` overflows on 10**400)."""
    return is_number(value) and (isinstance(value, int) or math.isfinite(value))
