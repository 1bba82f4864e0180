"""Kim (2014), "Convolutional Neural Networks for Sentence Classification".

::

    ids (B, T) ─► embed (B, T, E) ─► zero the pads ─► transpose (B, E, T)
      ─► for each kernel size k: Conv1d(E, F, k) + ReLU (B, F, T-k+1) ─► masked max over time (B, F)
      ─► concat (B, F·K) ─► Dropout(0.5) ─► Linear ─► logits (B, C)

Embedding modes (Kim's four variants):

* ``rand``         random init, trained (no ``embeddings``; passing them is an error)
* ``static``       pretrained ``embeddings``, frozen
* ``non-static``   pretrained ``embeddings``, fine-tuned
* ``multichannel`` two copies of ``embeddings``, one frozen and one fine-tuned; the Conv1d
  sees them as 2E input channels, so each filter has weights for both channels and sums
  them, as in Kim's code.

Max-over-time never lets a window that only covers padding win: a window starting at
``t`` counts if it fits inside the row (``t <= length - k``) or, for a row shorter than
``k``, if it is the first window (real tokens followed by zero pads). An empty row has no
window, so its features are zeros.

``wide=True`` is the wide convolution of Kim's code (which pads every sentence with
``max(k) - 1`` zeros at both ends) and of Kalchbrenner et al. (2014): ``k - 1`` zeros on each
side, so each kernel gives ``(B, F, T+k-1)`` and every token, the first and the last
included, is seen by ``k`` windows of each size instead of one. The narrow default sees
a text's first word in one window per size (TREC's "How many ..." cue); windows made only
of padding still never count.

Defaults follow Kim (kernels 3,4,5 with 100 maps each, dropout 0.5, max-norm 3) except
``embed_dim=128`` instead of 300, which keeps CPU training quick (pretrained vectors set
``embed_dim`` to their own dimension), and ``wide=False``, which keeps the models saved
before the option existed scoring as they were trained. scripts/reproduce.py turns ``wide``
on: replayed on valid splits it scored 87.9 vs 86.6 narrow on TREC (5 seeds) and 82.6 vs
80.5 on SST-2.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..vocabulary import PAD_ID
from .base import (
    TextModel,
    check_bool,
    check_choice,
    check_count,
    check_float,
    check_inputs,
    check_int,
    check_kernel,
    copy_pretrained_,
    warn_frozen_random,
)
from .pooling import lengths_to_mask, masked_max

EMBEDDING_MODES = ("rand", "static", "non-static", "multichannel")


@dataclass
class CNNConfig:
    """Kim-CNN hyperparameters."""

    embed_dim: int = 128
    kernel_sizes: tuple[int, ...] = (3, 4, 5)
    num_filters: int = 100  # feature maps per kernel size
    dropout: float = 0.5
    max_norm: float | None = 3.0  # l2 cap on each class's output weights; None turns it off
    embedding_mode: str = "rand"
    wide: bool = False  # k-1 zero pads at both ends for each kernel (see the module docstring)

    def __post_init__(self) -> None:
        if isinstance(self.kernel_sizes, list):  # JSON gives lists back
            self.kernel_sizes = tuple(self.kernel_sizes)
        if not isinstance(self.kernel_sizes, tuple) or not self.kernel_sizes:
            raise ValueError(f"CNNConfig.kernel_sizes must be a non-empty tuple of ints, got {self.kernel_sizes!r}")
        check_count("CNNConfig", "kernel_sizes", self.kernel_sizes)
        for k in self.kernel_sizes:
            check_kernel("CNNConfig", "kernel_sizes[...]", k)
        check_int("CNNConfig", "embed_dim", self.embed_dim, 1)
        check_int("CNNConfig", "num_filters", self.num_filters, 1)
        check_float("CNNConfig", "dropout", self.dropout, 0.0, 1.0, high_open=True)
        if self.max_norm is not None:
            check_float("CNNConfig", "max_norm", self.max_norm, 0.0, float("inf"), high_open=True)
            if self.max_norm == 0:
                raise ValueError("CNNConfig.max_norm must be > 0 or None, got 0")
        check_choice("CNNConfig", "embedding_mode", self.embedding_mode, EMBEDDING_MODES)
        check_bool("CNNConfig", "wide", self.wide)


class KimCNN(TextModel):
    """Parallel 1-D convolutions with masked max-over-time pooling."""

    name = "cnn"
    config_class = CNNConfig

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        config: CNNConfig,
        embeddings: torch.Tensor | None = None,
    ) -> None:
        super().__init__(vocab_size, num_classes, config)
        E, mode = config.embed_dim, config.embedding_mode
        if mode == "rand" and embeddings is not None:
            raise ValueError(
                "cnn: embedding_mode='rand' ignores pretrained embeddings; "
                "use 'non-static' (fine-tune), 'static' (frozen) or 'multichannel'"
            )
        if mode in ("static", "multichannel") and embeddings is None:
            # ('non-static' without vectors is just 'rand': nothing frozen, nothing lost.)
            warn_frozen_random(f"cnn embedding_mode={mode!r}")

        self.embedding = nn.Embedding(vocab_size, E, padding_idx=PAD_ID)
        # Kim's init for words without a pretrained vector.
        nn.init.uniform_(self.embedding.weight, -0.25, 0.25)
        if embeddings is not None:
            copy_pretrained_(self.embedding.weight, embeddings, what="cnn")
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        self.embedding.weight.requires_grad_(mode != "static")

        self.static_embedding: nn.Embedding | None = None
        channels = E
        if mode == "multichannel":
            self.static_embedding = nn.Embedding(vocab_size, E, padding_idx=PAD_ID)
            with torch.no_grad():
                self.static_embedding.weight.copy_(self.embedding.weight)
            self.static_embedding.weight.requires_grad_(False)
            channels = 2 * E

        self.convs = nn.ModuleList(
            nn.Conv1d(channels, config.num_filters, k, padding=k - 1 if config.wide else 0)
            for k in config.kernel_sizes
        )
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(config.num_filters * len(config.kernel_sizes), num_classes)

    @classmethod
    def count_parameters(cls, vocab_size: int, num_classes: int, config: CNNConfig) -> int:
        E, F = config.embed_dim, config.num_filters
        multichannel = config.embedding_mode == "multichannel"  # a second, frozen table: 2E input channels
        convs = sum((2 * E if multichannel else E) * F * k + F for k in config.kernel_sizes)
        return vocab_size * E * (2 if multichannel else 1) + convs + F * len(config.kernel_sizes) * num_classes \
            + num_classes

    @property
    def min_length(self) -> int:
        # a wide convolution pads inside the conv, so any width >= 1 fits
        return 1 if self.config.wide else max(self.config.kernel_sizes)

    def apply_constraints(self) -> None:
        """Kim's max-norm: rescale each class's weight row of the output layer to l2 <= max_norm."""
        if self.config.max_norm is None:
            return
        with torch.no_grad():
            w = self.fc.weight  # (C, F·K): one row per class
            w.copy_(torch.renorm(w, p=2, dim=0, maxnorm=self.config.max_norm))

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``ids (B, T)``, ``lengths (B,)`` -> logits ``(B, C)``."""
        check_inputs(ids, lengths)
        T = ids.shape[1]
        x = self.embedding(ids)  # (B, T, E)
        if self.static_embedding is not None:
            x = torch.cat([x, self.static_embedding(ids)], dim=-1)  # (B, T, 2E)
        # Zero the pads so a short row's first window sees real tokens + zeros, whatever the
        # PAD row holds (it is not zero if someone loads vectors over it).
        mask = lengths_to_mask(lengths, T)  # (B, T)
        x = x.masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, T, channels)
        if T < self.min_length:
            # Narrower than the largest kernel: pad here rather than fail; zero columns are
            # exactly what the padding step would have added.
            x = F.pad(x, (0, 0, 0, self.min_length - T))  # (B, min_length, channels)
        x = x.transpose(1, 2)  # (B, channels, T)

        pooled = []
        for conv, k in zip(self.convs, self.config.kernel_sizes):
            h = F.relu(conv(x))  # (B, F, T-k+1), wide: (B, F, T+k-1)
            starts = torch.arange(h.shape[-1], device=h.device)  # (T-k+1,) or (T+k-1,)
            if self.config.wide:
                # windows 0..length+k-2 touch a real token; none for an empty row
                last_start = torch.where(lengths > 0, lengths + k - 1, 0)  # (B,)
            else:
                # Windows 0..last_start-1 count: the full ones, or just the first for a row
                # shorter than k, and none for an empty row (its features are then zeros).
                last_start = (lengths - k + 1).clamp(min=1).minimum(lengths)  # (B,)
            valid = starts.unsqueeze(0) < last_start.unsqueeze(1)  # (B, T-k+1)
            pooled.append(masked_max(h.transpose(1, 2), valid))  # (B, F)
        features = torch.cat(pooled, dim=1)  # (B, F·K)
        return self.fc(self.dropout(features))  # (B, C)
