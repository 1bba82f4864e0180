"""Recurrent classifier: LSTM or GRU over packed sequences, then a masked pooling.

::

    ids (B, T) ─► embed (B, T, E) ─► pack_padded_sequence(lengths) ─► LSTM/GRU (layers, dirs)
      ─► last:      top layer's final states from h_n              (B, dirs·H)
         max/mean/attention: pad_packed output (B, T', dirs·H) ─► masked pool (B, dirs·H)
      ─► Dropout ─► Linear ─► logits (B, C)

Packing means the RNN stops at each row's true length, so no state ever reads a pad and
the backward direction starts at the real last token. ``enforce_sorted=False`` lets
PyTorch sort and unsort the batch itself; callers pass rows in any order.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..vocabulary import PAD_ID
from .base import (
    TextModel,
    check_bool,
    check_choice,
    check_float,
    check_inputs,
    check_int,
    check_layers,
    copy_pretrained_,
    warn_frozen_random,
)
from .pooling import AttentionPooling, final_hidden, lengths_to_mask, masked_max, masked_mean

CELLS = ("lstm", "gru")
POOLINGS = ("last", "max", "mean", "attention")


@dataclass
class RNNConfig:
    """RNN hyperparameters (default: one bidirectional LSTM layer, max pooling)."""

    cell: str = "lstm"
    embed_dim: int = 128
    hidden_dim: int = 128  # per direction
    num_layers: int = 1
    bidirectional: bool = True
    pooling: str = "max"
    dropout: float = 0.5  # between stacked layers and on the pooled features
    freeze_embeddings: bool = False

    def __post_init__(self) -> None:
        check_choice("RNNConfig", "cell", self.cell, CELLS)
        check_int("RNNConfig", "embed_dim", self.embed_dim, 1)
        check_int("RNNConfig", "hidden_dim", self.hidden_dim, 1)
        check_layers("RNNConfig", "num_layers", self.num_layers)
        check_bool("RNNConfig", "bidirectional", self.bidirectional)
        check_choice("RNNConfig", "pooling", self.pooling, POOLINGS)
        check_float("RNNConfig", "dropout", self.dropout, 0.0, 1.0, high_open=True)
        check_bool("RNNConfig", "freeze_embeddings", self.freeze_embeddings)


class RNNClassifier(TextModel):
    """(Bi)LSTM / (Bi)GRU classifier with last-state or masked pooling."""

    name = "rnn"
    config_class = RNNConfig

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        config: RNNConfig,
        embeddings: torch.Tensor | None = None,
    ) -> None:
        super().__init__(vocab_size, num_classes, config)
        self.embedding = nn.Embedding(vocab_size, config.embed_dim, padding_idx=PAD_ID)
        if embeddings is not None:
            copy_pretrained_(self.embedding.weight, embeddings, what="rnn")
        elif config.freeze_embeddings:
            warn_frozen_random("rnn with freeze_embeddings=True")
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)

        rnn_class = nn.LSTM if config.cell == "lstm" else nn.GRU
        self.rnn = rnn_class(
            config.embed_dim,
            config.hidden_dim,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
            batch_first=True,
            # PyTorch applies this dropout between layers only (and warns with one layer).
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        features = config.hidden_dim * (2 if config.bidirectional else 1)
        self.attention = AttentionPooling(features) if config.pooling == "attention" else None
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(features, num_classes)

    @classmethod
    def count_parameters(cls, vocab_size: int, num_classes: int, config: RNNConfig) -> int:
        E, H, dirs = config.embed_dim, config.hidden_dim, 2 if config.bidirectional else 1
        gates = 4 if config.cell == "lstm" else 3
        # per layer and direction: weight_ih (g·H, input), weight_hh (g·H, H), two biases (g·H)
        rnn = sum(dirs * gates * H * ((E if layer == 0 else dirs * H) + H + 2) for layer in range(config.num_layers))
        D = dirs * H
        attention = D * D + D + D if config.pooling == "attention" else 0  # project (D, D) + bias, score (1, D)
        return vocab_size * E + rnn + attention + D * num_classes + num_classes

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``ids (B, T)``, ``lengths (B,)`` -> logits ``(B, C)``."""
        check_inputs(ids, lengths)
        x = self.embedding(ids)  # (B, T, E)
        # Packing needs lengths on the CPU (a GPU sync, unavoidable here). An empty row runs
        # one step over its PAD; the pooling below uses the true lengths and zeroes it.
        packed_lengths = lengths.detach().to("cpu", torch.int64).clamp(min=1)
        packed = pack_padded_sequence(x, packed_lengths, batch_first=True, enforce_sorted=False)
        output, state = self.rnn(packed)

        pooling = self.config.pooling
        if pooling == "last":
            h_n = state[0] if isinstance(state, tuple) else state  # LSTM gives (h_n, c_n)
            # h_n is already in the caller's row order (PyTorch unsorts it).
            features = final_hidden(h_n, self.config.bidirectional)  # (B, dirs·H)
            features = features.masked_fill((lengths == 0).unsqueeze(-1), 0.0)  # empty rows
        else:
            padded, _ = pad_packed_sequence(output, batch_first=True)  # (B, T', dirs·H), T' = max length
            mask = lengths_to_mask(lengths, padded.shape[1])  # (B, T'), all False on empty rows
            if pooling == "max":
                features = masked_max(padded, mask)  # (B, dirs·H)
            elif pooling == "mean":
                features = masked_mean(padded, mask)  # (B, dirs·H)
            else:
                features = self.attention(padded, mask)  # (B, dirs·H)
        return self.fc(self.dropout(features))  # (B, C)
