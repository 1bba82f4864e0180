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

import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
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
from .fileio import remove_stale_temporaries
from .models.ensemble import member_groups
from .optim import clip_grad_norm, make_optimizers, make_scheduler
from .threads import torch_threads
from .train_config import _RESUMABLE_CHANGES, TrainConfig


class StopTraining(Exception):
    """Raised by ``on_epoch_end`` to end a run there, as early stopping ends it (the best epoch's
    weights restored): how the tuner stops a trial at its time budget and keeps what it learnt."""


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
    ``on_epoch_end(record)`` runs after each epoch's checkpoint is on disk; raising
    :class:`StopTraining` there ends the run as early stopping would.

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
    # one list per member of an averaged model (one list otherwise): each is clipped as one model
    clip_groups = member_groups(model)
    members = len(clip_groups)
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
                logits = net(batch.ids, batch.lengths)  # (B, C); an averaged model's members: (k, B, C)
                if members == 1:
                    loss = criterion(logits.float(), batch.labels)
                else:  # each member learns from its own loss, as a run of its own would
                    loss = torch.stack([criterion(one.float(), batch.labels) for one in logits]).sum()
            for optimizer in optimizers:
                optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config.clip_norm is not None:
                for optimizer in optimizers:
                    scaler.unscale_(optimizer)  # clip the true gradients, not the fp16-scaled ones
                for group in clip_groups:
                    clip_grad_norm(group, config.clip_norm)
            for optimizer in optimizers:
                scaler.step(optimizer)  # skips the step if fp16 gradients overflowed
            scaler.update()
            for scheduler in schedulers:
                scheduler.step()
            if constrain is not None:
                constrain()  # e.g. Kim's max-norm on the CNN's output layer
            pending.append(loss.detach() / members)  # reported per member, comparable to one model's
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
            try:
                on_epoch_end(record)
            except StopTraining:
                stopped_early = True
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
