"""Averaging a few models: ``build_model(name, ..., members=k)`` (``TextClassifier`` option
``model_config={"members": k}``, CLI ``--members k``).

::

    ids, lengths ─► member 1 ─► logits (B, C) ─┐
                 ─► ...                          ├─► mean ─► logits (B, C)      (eval)
                 ─► member k ─► logits (B, C) ─┘
                                    stacked ─► (k, B, C): one loss per member   (train)

Each member is the named model with its own random initialisation; they are trained
side by side on the same batches, each on its own loss (``training.train`` sums them, and clips
each member's gradients alone), so each member learns as a run of its own on those batches
would; early stopping watches the averaged model's validation metric. The average is of
logits, which serves softmax and sigmoid outputs alike and is what the model returns in eval
mode, to ``predict``, ``explain`` and ``export`` as to any other model. Why: a small model's
errors vary with its initialisation, and averaging cancels part of that variance, for k times
the training and prediction work (what it bought on TREC is in ``textkit/recipes.py``).
"""
from __future__ import annotations

import torch
from torch import nn

from .base import TextModel

MAX_MEMBERS = 32


class Averaged(TextModel):
    """``members`` models of one kind; eval: their mean logits ``(B, C)``; train: the stack
    ``(k, B, C)``."""

    def __init__(self, members: list[TextModel]) -> None:
        first = members[0]
        super().__init__(first.vocab_size, first.num_classes, first.config)
        self.name, self.inputs, self.config_class = first.name, first.inputs, first.config_class
        self.members = nn.ModuleList(members)

    @property
    def min_length(self) -> int:
        return self.members[0].min_length

    def apply_constraints(self) -> None:
        for member in self.members:
            member.apply_constraints()

    def get_config(self) -> dict:
        return {**self.members[0].get_config(), "members": len(self.members)}

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``ids``, ``lengths`` as a member takes them -> logits ``(B, C)`` (eval) or the members'
        logits ``(k, B, C)`` (train)."""
        stacked = torch.stack([member(ids, lengths) for member in self.members])
        return stacked if self.training else stacked.mean(0)

    def extra_repr(self) -> str:
        return f"members={len(self.members)}"


def member_groups(model: nn.Module) -> list[list[nn.Parameter]]:
    """The trainable parameters, one list per member of an :class:`Averaged` model (one list
    for any other model): what gradient clipping treats as one model."""
    parts = model.members if isinstance(model, Averaged) else [model]
    return [[p for p in part.parameters() if p.requires_grad] for part in parts]
