"""Optimizers and learning-rate schedules for :func:`textkit.training.train`: dense and sparse
parameters stepped together, one clipping rule for both, per-step schedules with warmup."""
from __future__ import annotations

import math
from functools import partial
from typing import Any

import torch
from torch import nn

from .train_config import OPTIMIZERS, SCHEDULES, TrainConfig


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
