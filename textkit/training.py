"""Stage 6: the training loop.

:func:`train` reads top to bottom, nanoGPT-style::

    device, seed -> loader (length-bucketed batches) -> optimizer, schedule, AMP scaler, loss
    -> [resume from checkpoint] -> for each epoch:
           for each batch: forward (autocast) -> loss -> backward -> unscale -> clip -> step
                           -> schedule -> model.apply_constraints()
           validate -> early stopping -> checkpoint + history.jsonl (both atomic)
    -> restore the best weights

Data comes in already encoded: ``(sequences, labels)`` where ``sequences`` is a list of id
lists (``TextPipeline.encode``), or the pages ``LayoutPipeline.encode`` placed on grids, and
``labels`` class indices ``(N,)``, or for ``multi_label=True`` a 0/1 matrix ``(N, L)``. Each
batch of texts is padded to its own longest row (never to a global maximum) and at least to
``model.min_length``; a batch of pages is a dense ``(B, H, W, S)`` grid made from the pages'
placed tokens.

Reproducibility: on CPU the same seed gives the same weights and metrics, and a run killed
after epoch k and resumed from its checkpoint ends exactly where an uninterrupted run ends
(the checkpoint holds the model, optimizer, schedule, AMP scaler, every RNG state, the
early-stopping state and the history; the batch order of epoch e depends on (seed, e) only).
"""
from __future__ import annotations

import dataclasses
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import distributed, metrics
from .batching import as_dataset, check_data, class_weights, make_loader
from .checkpoints import (
    CHECKPOINT_FILE,
    HISTORY_FILE,
    check_same_tensors,
    write_history,
    load_checkpoint,
    rng_state,
    run_fingerprint,
    save_checkpoint,
    set_rng_state,
)
from .fileio import is_number, remove_stale_temporaries
from .threads import torch_threads
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
             f"a finite number in (0, {MAX_LR:g}] (textkit.training.MAX_LR), or None for the optimizer's usual one")
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


@dataclass
class TrainResult:
    """What :func:`train` returns; ``history`` has one dict per epoch (as in history.jsonl)."""

    history: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    best_metric: float | None = None
    monitor: str = "accuracy"
    stopped_early: bool = False


# -- device and seeds ------------------------------------------------------------------------
def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA if available, then Apple MPS, then CPU; explicit names are checked."""
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a str such as 'auto', 'cpu', 'cuda', 'cuda:1' or 'mps', got {device!r}")
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps', got {device!r}") from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was requested but no CUDA GPU is available "
                             f"(torch {torch.__version__}, torch.cuda.is_available() is False); "
                             f"use device='cpu' or 'auto'")
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(f"device={device!r} was requested but only {torch.cuda.device_count()} "
                             f"CUDA device(s) exist (indices 0..{torch.cuda.device_count() - 1})")
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={device!r} was requested but Apple MPS is not available; use 'cpu' or 'auto'")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:<index>' or 'mps', got {device!r}")
    return resolved


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def autocast_dtype(device: torch.device, amp: bool) -> torch.dtype | None:
    """bf16 on CUDA where supported (no loss scaling needed), else fp16; ``None`` = no autocast."""
    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16

# -- optimizer and schedule --------------------------------------------------------------------


def make_optimizer(name: str, params: list[nn.Parameter], *, lr: float | None = None,
                   weight_decay: float = 0.0, momentum: float = 0.9) -> torch.optim.Optimizer:
    if name not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    cls, default_lr = OPTIMIZERS[name]
    options: dict[str, Any] = {"lr": default_lr if lr is None else lr, "weight_decay": weight_decay}
    if name == "adadelta":
        options.update(rho=0.95, eps=1e-6)
    elif name == "sgd":
        options.update(momentum=momentum)
    return cls(params, **options)


def sparse_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The trainable tables whose gradients are sparse (``bow`` with ``sparse=True``)."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))
            and m.sparse and m.weight.requires_grad]


def make_optimizers(config: TrainConfig, model: nn.Module) -> list[torch.optim.Optimizer]:
    """The configured optimizer over the dense parameters, plus, when the model has sparse
    embedding gradients, its sparse counterpart over those tables (``SparseAdam`` for Adam/AdamW,
    ``SGD`` without momentum for SGD): each step then touches only the rows a batch used, not
    all ``(V, E)`` of a large n-gram table. Weight decay applies to the dense parameters only;
    the two are stepped, scheduled and checkpointed together."""
    sparse = sparse_parameters(model)
    dense = [p for p in model.parameters() if p.requires_grad and all(p is not q for q in sparse)]
    optimizers = [make_optimizer(config.optimizer, dense, lr=config.lr, weight_decay=config.weight_decay,
                                 momentum=config.momentum)] if dense or not sparse else []
    if sparse:
        lr = OPTIMIZERS[config.optimizer][1] if config.lr is None else config.lr
        if config.optimizer in ("adam", "adamw"):
            optimizers.append(torch.optim.SparseAdam(sparse, lr=lr))
        elif config.optimizer == "sgd":
            optimizers.append(torch.optim.SGD(sparse, lr=lr))  # torch's momentum buffer would be dense
        else:
            raise ValueError(f"the model has sparse embedding gradients (sparse=True), which optimizer="
                             f"{config.optimizer!r} cannot take; use 'adamw', 'adam' or 'sgd', or sparse=False")
    return optimizers


def clip_grad_norm(params: list[nn.Parameter], max_norm: float) -> None:
    """``nn.utils.clip_grad_norm_`` that also takes sparse gradients: one global norm over
    the dense gradients and the (coalesced) values of the sparse ones."""
    grads = [p.grad for p in params if p.grad is not None]
    if not any(g.is_sparse for g in grads):
        nn.utils.clip_grad_norm_(params, max_norm)
        return
    norms = [(g.coalesce().values() if g.is_sparse else g).norm() for g in grads]
    factor = (max_norm / (torch.stack(norms).norm() + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(factor)  # linear, so an uncoalesced sparse gradient scales correctly too


def lr_factor(step: int, *, schedule: str, warmup_steps: int, total_steps: int) -> float:
    """Multiplier of the base learning rate at optimizer step ``step`` (0-based)."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 1.0 - progress if schedule == "linear" else 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, schedule: str, *, total_steps: int,
                   warmup: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step schedule; a ``partial`` (not a lambda) so its state_dict holds plain data."""
    if schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {schedule!r}")
    factor = partial(lr_factor, schedule=schedule, warmup_steps=round(warmup * total_steps),
                     total_steps=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# -- evaluation ----------------------------------------------------------------------------
@torch.no_grad()
def predict_logits(model: nn.Module, sequences: Sequence[Sequence[int]], *, batch_size: int = 256,
                   amp: bool = True) -> np.ndarray:
    """Logits ``(N, C)`` float32 in input order, on the model's device, in eval mode.

    Texts are batched in length order (padding does not change a model's logits, so
    this only saves work) and put back in input order at the end.
    """
    model.eval()
    device = next(model.parameters()).device
    dtype = autocast_dtype(device, amp)
    min_length = getattr(model, "min_length", 1)
    data = as_dataset(sequences, min_length=min_length)
    # by length (less padding); rows in shards also shard by shard, so each shard is read once
    order = data.evaluation_order() if hasattr(data, "evaluation_order") else np.argsort(data.lengths, kind="stable")
    outputs = []
    for start in range(0, len(order), batch_size):
        batch = data.batch(order[start:start + batch_size]).to(device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            outputs.append(model(batch.ids, batch.lengths).float())
    if not outputs:
        raise ValueError("predict_logits needs at least one sequence, got none")
    logits = torch.cat(outputs).cpu().numpy()  # one device -> host copy (and sync) for everything
    result = np.empty_like(logits)
    result[order] = logits
    return result


def score(logits: np.ndarray, labels: np.ndarray, multi_label: bool, threshold: float = 0.5) -> dict[str, float]:
    """Validation metrics from logits: accuracy, macro/micro/weighted F1 (no loss)."""
    if multi_label:
        predicted = (1.0 / (1.0 + np.exp(-logits)) >= threshold).astype(np.int64)
        labels, classes = labels.astype(np.int64), None
    else:  # only the scores: no per-class lists or confusions, which grow with the class count, every epoch
        predicted, classes = logits.argmax(axis=1), logits.shape[1]
    return {"accuracy": metrics.accuracy(labels, predicted),
            **{f"{avg}_f1": metrics.f1(labels, predicted, average=avg, num_classes=classes)
               for avg in metrics.F1_AVERAGES}}


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _num_outputs(model: nn.Module) -> int | None:
    """Classes the model predicts, when it says (``model.num_classes`` or its config's)."""
    found = getattr(model, "num_classes", None)
    return found if found is not None else getattr(getattr(model, "config", None), "num_classes", None)


# -- the loop -----------------------------------------------------------------------------------
def train(
    model: nn.Module,
    train_data: tuple[Sequence[Sequence[int]], Any],
    valid_data: tuple[Sequence[Sequence[int]], Any] | None = None,
    config: TrainConfig | None = None,
    *,
    multi_label: bool = False,
    out_dir: str | os.PathLike | None = None,
    resume: bool = False,
    on_epoch_end: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Train ``model`` in place on encoded data; see the module doc for the steps.

    ``out_dir``: where ``checkpoint.pt`` (every epoch) and ``history.jsonl`` (one JSON line
    per epoch) go; ``None`` writes nothing. ``resume=True`` continues from
    ``out_dir/checkpoint.pt`` when it exists (a finished run returns at once, unless
    ``epochs`` grew) and starts fresh when it does not, so the same command can be rerun
    after a kill.
    ``on_epoch_end(record)`` runs after each epoch's checkpoint is on disk.

    The model must follow textkit's contract: ``forward(ids, lengths) -> logits``; its
    optional ``min_length`` (pad batches at least this wide) and ``apply_constraints()``
    (called after each optimizer step) are honoured.
    """
    config = config or TrainConfig()
    with torch_threads(config.threads):
        return _train(model, train_data, valid_data, config, multi_label=multi_label, out_dir=out_dir,
                      resume=resume, on_epoch_end=on_epoch_end)


def _train(model: nn.Module, train_data: tuple, valid_data: tuple | None, config: TrainConfig, *,
           multi_label: bool, out_dir: str | os.PathLike | None, resume: bool,
           on_epoch_end: Callable[[dict], None] | None) -> TrainResult:
    device = distributed.setup(resolve_device(config.device))  # its own GPU under torchrun
    rank, world = distributed.world()
    writes = rank == 0  # one process writes checkpoints, history and progress
    seed_everything(config.seed)
    num_classes = _num_outputs(model)
    sequences, labels = check_data(train_data, "train_data", multi_label, num_classes)
    if valid_data is not None:
        valid_sequences, valid_labels = check_data(valid_data, "valid_data", multi_label, num_classes)
    out_dir = None if out_dir is None else Path(out_dir)
    if resume and out_dir is None:
        raise ValueError("resume=True needs out_dir, the directory holding checkpoint.pt")
    if out_dir is not None and writes:
        out_dir.mkdir(parents=True, exist_ok=True)
        # atomic_write sweeps a killed run's temporaries of the file it writes; this sweeps the
        # rest now, for a resumed run that has nothing left to write (and so writes nothing)
        remove_stale_temporaries(out_dir)

    # Model, data, optimizer, schedule, AMP, loss.
    model.to(device)
    net = distributed.wrap(model, device)  # DDP under torchrun: gradients averaged across processes
    params = [p for p in model.parameters() if p.requires_grad]  # a list: clipping must see every tensor
    on_cuda = device.type == "cuda"
    loader = make_loader(sequences, labels, batch_size=config.batch_size, min_length=getattr(model, "min_length", 1),
                         bucket=config.bucket, chunk_batches=config.bucket_chunk, seed=config.seed,
                         num_workers=config.num_workers, pin_memory=on_cuda, rank=rank, world=world)
    steps_per_epoch = len(loader)
    optimizers = make_optimizers(config, model)
    schedulers = [make_scheduler(o, config.schedule, total_steps=config.epochs * steps_per_epoch,
                                 warmup=config.warmup) for o in optimizers]
    amp_dtype = autocast_dtype(device, config.amp)
    # fp16 needs loss scaling against gradient underflow; bf16 has fp32's range and does not.
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    n_outputs = labels.shape[1] if multi_label else (num_classes or int(labels.max()) + 1)
    weights = class_weights(labels, config.class_weight, n_outputs, multi_label)
    weights = None if weights is None else weights.to(device)
    criterion = nn.BCEWithLogitsLoss(pos_weight=weights) if multi_label else nn.CrossEntropyLoss(weight=weights)
    constrain = getattr(model, "apply_constraints", None)
    lower_is_better = config.monitor == "loss"

    # Training state: everything a checkpoint must carry besides the tensors above.
    start_epoch, history, best_state = 1, [], None
    best_metric, best_epoch, bad_epochs, finished, stopped_early = None, None, 0, False, False
    checkpoint_path = None if out_dir is None else out_dir / CHECKPOINT_FILE
    fingerprint = None if out_dir is None else run_fingerprint(  # only checkpoints need it
        model, (sequences, labels), None if valid_data is None else (valid_sequences, valid_labels))
    if resume and checkpoint_path.exists():
        state = load_checkpoint(checkpoint_path)  # checks the keys, their kinds and the RNG state
        _check_resumable(state, config, checkpoint_path, len(sequences), multi_label, fingerprint)
        try:  # what load_checkpoint cannot check without the model and optimizers: do they fit them
            model.load_state_dict(state["model"])
            if (len(state["optimizers"]), len(state["schedulers"])) != (len(optimizers), len(schedulers)):
                raise ValueError(f"it holds {len(state['optimizers'])} optimizer(s) and {len(state['schedulers'])} "
                                 f"schedule(s), the run has {len(optimizers)}")
            for optimizer, saved in zip(optimizers, state["optimizers"]):
                optimizer.load_state_dict(saved)
            for scheduler, saved in zip(schedulers, state["schedulers"]):
                scheduler.load_state_dict(saved)
            scaler.load_state_dict(state["scaler"])
            loader.batch_sampler.load_state_dict(state["sampler"])
            if state["best_model"] is not None:
                check_same_tensors(model, state["best_model"])
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError, OverflowError) as exc:
            raise ValueError(f"checkpoint file {str(checkpoint_path)!r} is damaged ({type(exc).__name__}: "
                             f"{' '.join(str(exc).split())[:300]}); resume=False starts the run over") from None
        start_epoch, history, best_state = state["epoch"] + 1, state["history"], state["best_model"]
        best_metric, best_epoch, bad_epochs = state["best_metric"], state["best_epoch"], state["bad_epochs"]
        stopped_early = state["stopped_early"]
        finished = stopped_early or state["epoch"] >= config.epochs  # a larger `epochs` continues the run
        set_rng_state(state["rng"])  # last: nothing above may draw random numbers after it

    # tqdm: progress=None lets tqdm decide (off when stderr is not a terminal).
    disable = None if config.progress is None else not config.progress
    if not writes:
        disable = True
    say_epochs = config.progress is not False and writes
    # On CPU reading the loss is free, so it is checked every step; on a GPU each read is a sync.
    check_every = 1 if device.type == "cpu" else config.log_interval
    for epoch in range(start_epoch, config.epochs + 1):
        if finished:
            break
        loader.batch_sampler.set_epoch(epoch)
        model.train()
        started, tokens, loss_sum, pending = time.perf_counter(), 0, 0.0, []
        bar = tqdm(loader, total=steps_per_epoch, desc=f"epoch {epoch}/{config.epochs}", unit="batch",
                   disable=disable, leave=False, dynamic_ncols=True)
        for step, batch in enumerate(bar, 1):
            tokens += int(batch.lengths.sum())  # lengths are still on the CPU: no sync
            batch = batch.to(device, non_blocking=on_cuda)  # async copy from pinned memory
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = net(batch.ids, batch.lengths)
                loss = criterion(logits.float(), batch.labels)
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.clip_norm is not None:
                for optimizer in optimizers:
                    scaler.unscale_(optimizer)  # clip the true gradients, not the fp16-scaled ones
                clip_grad_norm(params, config.clip_norm)
            for optimizer in optimizers:
                scaler.step(optimizer)  # skips the step if fp16 gradients overflowed
            scaler.update()
            for scheduler in schedulers:
                scheduler.step()
            if constrain is not None:
                constrain()  # e.g. Kim's max-norm on the CNN's output layer
            pending.append(loss.detach())
            if len(pending) == check_every or step == steps_per_epoch:
                values = torch.stack(pending).tolist()  # one GPU sync per interval
                _check_finite(values, epoch, step - len(values) + 1, steps_per_epoch, optimizers[0], amp_dtype)
                loss_sum += sum(values)
                pending.clear()
            if step % config.log_interval == 0 or step == steps_per_epoch:
                elapsed = time.perf_counter() - started
                bar.set_postfix(loss=f"{loss_sum / max(1, step - len(pending)):.4f}",
                                tok_s=f"{tokens / max(elapsed, 1e-9):,.0f}", refresh=False)
        bar.close()
        seconds = time.perf_counter() - started
        loss_sum, tokens = distributed.sum_across(loss_sum, tokens, device=device)  # all processes' steps
        record = {"epoch": epoch, "train_loss": loss_sum / (steps_per_epoch * world),
                  "lr": optimizers[0].param_groups[0]["lr"], "seconds": round(seconds, 3),
                  "tokens_per_s": round(tokens / max(seconds, 1e-9), 1)}

        # Validation and early stopping: the best weights are kept, not just reported.
        if valid_data is not None:
            logits = torch.from_numpy(predict_logits(model, valid_sequences, batch_size=config.eval_batch_size,
                                                     amp=config.amp))
            target = torch.from_numpy(valid_labels)
            record["valid_loss"] = criterion(logits.to(device), target.to(device)).item()
            record.update({f"valid_{k}": v for k, v in score(logits.numpy(), valid_labels, multi_label).items()})
            value = record[f"valid_{config.monitor}"]
            if best_metric is None or (value < best_metric if lower_is_better else value > best_metric):
                best_metric, best_epoch, bad_epochs = value, epoch, 0
                best_state = _state_copy(model)
            else:
                bad_epochs += 1
            record["best"] = best_epoch == epoch
            if config.patience is not None and bad_epochs >= config.patience:
                stopped_early = True
        finished = stopped_early or epoch == config.epochs
        history.append(record)

        if out_dir is not None and writes:
            save_checkpoint(checkpoint_path, {
                "epoch": epoch, "config": config.to_dict(), "n_train": len(sequences), "multi_label": multi_label,
                "fingerprint": fingerprint,
                "model": model.state_dict(), "best_model": best_state,
                "optimizers": [o.state_dict() for o in optimizers],
                "schedulers": [s.state_dict() for s in schedulers], "scaler": scaler.state_dict(),
                "sampler": loader.batch_sampler.state_dict(), "rng": rng_state(), "history": history,
                "best_metric": best_metric, "best_epoch": best_epoch, "bad_epochs": bad_epochs,
                "finished": finished, "stopped_early": stopped_early,
            })
            write_history(out_dir / HISTORY_FILE, history)
        if say_epochs:  # after the checkpoint: an epoch shown is an epoch a resume keeps
            tqdm.write(epoch_line(record, config.epochs, config.monitor), file=sys.stderr)  # above a live bar
        if on_epoch_end is not None:
            on_epoch_end(record)
        if stopped_early:
            break

    if best_state is not None:
        model.load_state_dict(best_state)  # end on the best validated epoch, not the last one
    model.eval()
    return TrainResult(history=history, best_epoch=best_epoch, best_metric=best_metric,
                       monitor=config.monitor, stopped_early=stopped_early)


def epoch_line(record: dict, epochs: int, monitor: str = "accuracy") -> str:
    """One epoch for a person: ``epoch 5/10: loss 0.1288; valid accuracy 0.8477 (best), macro-F1
    0.8518, loss 0.4488; 1.0 s, 50,757 tokens/s`` (the monitored score first)."""
    line = f"epoch {record['epoch']}/{epochs}: loss {record['train_loss']:.4f}"
    shown_keys = {monitor, "accuracy", "macro_f1", "loss"}  # the rest is in history.jsonl
    scores = [(k.removeprefix("valid_"), v) for k, v in record.items()
              if k.startswith("valid_") and k.removeprefix("valid_") in shown_keys]
    if scores:
        scores.sort(key=lambda kv: (kv[0] != monitor, kv[0] == "loss"))  # the monitored score first, loss last
        names = {"macro_f1": "macro-F1", "micro_f1": "micro-F1", "weighted_f1": "weighted-F1"}
        shown = [f"{names.get(k, k.replace('_', ' '))} {v:.4f}" + (" (best)" if k == monitor and record.get("best")
                                                                   else "")
                 for k, v in scores]
        line += "; valid " + ", ".join(shown)
    return line + f"; {record['seconds']:.1f} s, {record['tokens_per_s']:,.0f} tokens/s"


def _check_finite(values: list[float], epoch: int, first_step: int, steps_per_epoch: int,
                  optimizer: torch.optim.Optimizer, amp_dtype: torch.dtype | None) -> None:
    for offset, value in enumerate(values):
        if not math.isfinite(value):
            causes = [f"a learning rate too high (lr={optimizer.param_groups[0]['lr']:.3g}: try it 10x lower "
                      f"or set clip_norm)", "bad inputs (NaN/inf in class_weight, labels out of range)"]
            if amp_dtype == torch.float16:
                causes.insert(1, "fp16 overflow under mixed precision (try amp=False)")
            raise FloatingPointError(
                f"training loss is {value} at epoch {epoch}, step {first_step + offset} of {steps_per_epoch}; "
                f"stopping. Likely causes: {'; '.join(causes)}"
            )


def _check_resumable(state: dict, config: TrainConfig, path: Path, n_train: int, multi_label: bool,
                     fingerprint: dict[str, str]) -> None:
    saved = state["config"]
    changed = [f"{k}={saved.get(k)!r} in the checkpoint, {v!r} now" for k, v in config.to_dict().items()
               if k not in _RESUMABLE_CHANGES and saved.get(k) != v]
    if state["n_train"] != n_train:
        changed.append(f"{state['n_train']} training texts in the checkpoint, {n_train} now")
    old = state.get("fingerprint") or fingerprint  # checkpoints from before fingerprints: not checked
    what_changed = {"model": "another model (name, options or sizes)",
                    "train data": "other training data (texts, labels, pipeline or vocabulary)",
                    "valid data": "other validation data"}
    changed += [what_changed[k] for k in fingerprint if old.get(k) != fingerprint[k]]
    if state["multi_label"] != multi_label:
        changed.append(f"multi_label={state['multi_label']} in the checkpoint, {multi_label} now")
    if changed:
        raise ValueError(f"cannot resume from {str(path)!r}: the run differs ({'; '.join(changed)}). "
                         f"Use a new out_dir, or resume=False to start over")
