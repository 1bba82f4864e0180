"""Bag of embeddings (fastText-style): the speed baseline.

::

    ids (B, T) ─► EmbeddingBag, weights mask/length ─► mean (B, E) ─► [Linear-ReLU (B, H)]
               ─► Dropout ─► Linear ─► logits (B, C)

``pooling="sqrt"`` weighs each token 1/sqrt(length) instead of 1/length: the sum over an
L2-normalised bag of words, the normalisation TF-IDF + logistic regression uses, so a long
text's evidence adds up instead of averaging out. ``distinct=True`` counts each id once per
text (a bag is order-free, so the ids are sorted and repeats masked): binary features, which
suit sentiment (Wang & Manning 2012) and keep a long document's repeated quotes and
signatures from dominating it. Both were chosen on validation data in scripts/reproduce.py.

``ids`` may hold hashed n-gram ids past the word vocabulary (``Vocab`` + ``hash_ngrams``);
``vocab_size`` counts every id, words and buckets.

Why ``EmbeddingBag(mode="sum", per_sample_weights=mask / length)``: it fuses lookup and
mean without building the ``(B, T, E)`` tensor, and the weights come from ``lengths``, so
pads are dropped by position, whatever their embedding row holds. Forward CPU time at
T=256, E=100, one thread (``time.thread_time``, median of 7), versus an ``Embedding`` +
masked sum / ``EmbeddingBag(mode="mean", padding_idx)`` on the 2-D ids / ``mean`` over
the flattened real ids with offsets:

    B=64:  0.63 ms  vs 1.63 / 1.58 / 1.16 ms
    B=256: 3.05 ms  vs 14.1 / 6.75 / 6.32 ms

With dense gradients the backward pass is dominated by the ``(V, E)`` embedding gradient
(V=2M buckets: ~0.5 s per batch for every variant); ``sparse=True`` cuts that to ~5 ms
but needs an optimizer that accepts sparse gradients (``torch.optim.SparseAdam`` or
``SGD``) for the embedding.

When the table is trained, the kept ids go in flattened, with offsets: the backward pass
builds one ``(E,)`` gradient row per id it is given, so the padded ``(B, T)`` form would
pay for every pad and every masked repeat. On 20 Newsgroups a bucket holding an 84k-id
post padded 64 texts to 5.4M positions (1.07M real): 4 GB of gradient rows, an 11 s step.
``textkit train --corpus 20newsgroups --epochs 2 --threads 1`` (the two versions side by side)
printed epochs of 62.2 and 45.3 s padded, 31.0 and 26.4 s flat, with the same losses. Without
gradients the padded form stays: it skips the mask's gather.
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
    check_float,
    check_inputs,
    check_int,
    copy_pretrained_,
    warn_frozen_random,
    exporting,
)
from .pooling import lengths_to_mask


POOLINGS = ("mean", "sqrt")


@dataclass
class BOWConfig:
    """Bag-of-embeddings hyperparameters (fastText defaults: E=100, no hidden layer)."""

    embed_dim: int = 100
    hidden_dim: int | None = None  # None: a linear classifier on the mean, like fastText
    dropout: float = 0.0  # on the pooled (or hidden) features
    pooling: str = "mean"  # "mean" (fastText) or "sqrt": sum / sqrt(length)
    distinct: bool = False  # count each distinct id of a text once (a binary bag of n-grams)
    freeze_embeddings: bool = False
    sparse: bool = False  # sparse embedding gradients; see the module docstring

    def __post_init__(self) -> None:
        check_int("BOWConfig", "embed_dim", self.embed_dim, 1)
        if self.hidden_dim is not None:
            check_int("BOWConfig", "hidden_dim", self.hidden_dim, 1)
        check_float("BOWConfig", "dropout", self.dropout, 0.0, 1.0, high_open=True)
        check_choice("BOWConfig", "pooling", self.pooling, POOLINGS)
        check_bool("BOWConfig", "distinct", self.distinct)
        check_bool("BOWConfig", "freeze_embeddings", self.freeze_embeddings)
        check_bool("BOWConfig", "sparse", self.sparse)


class BagOfEmbeddings(TextModel):
    """Masked mean of token (and n-gram) embeddings, then a linear or one-hidden-layer head."""

    name = "bow"
    config_class = BOWConfig

    def __init__(
        self,
        vocab_size: int,
        num_classes: int,
        config: BOWConfig,
        embeddings: torch.Tensor | None = None,
    ) -> None:
        super().__init__(vocab_size, num_classes, config)
        E = config.embed_dim
        self.embedding = nn.EmbeddingBag(
            vocab_size, E, mode="sum", padding_idx=PAD_ID, sparse=config.sparse
        )
        # fastText's init: uniform(-1/E, 1/E), small enough that averaging many n-grams
        # starts near zero.
        nn.init.uniform_(self.embedding.weight, -1.0 / E, 1.0 / E)
        with torch.no_grad():
            self.embedding.weight[PAD_ID].zero_()
        if embeddings is not None:
            # Fewer rows are fine: the rows past the word vocabulary are n-gram buckets.
            copy_pretrained_(self.embedding.weight, embeddings, what="bow", allow_fewer_rows=True)
        elif config.freeze_embeddings:
            warn_frozen_random("bow with freeze_embeddings=True")
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)

        if config.hidden_dim is None:
            self.hidden = nn.Identity()
            features = E
        else:
            self.hidden = nn.Sequential(nn.Linear(E, config.hidden_dim), nn.ReLU())
            features = config.hidden_dim
        self.dropout = nn.Dropout(config.dropout)
        self.fc = nn.Linear(features, num_classes)

    @classmethod
    def count_parameters(cls, vocab_size: int, num_classes: int, config: BOWConfig) -> int:
        E, H = config.embed_dim, config.hidden_dim
        hidden = 0 if H is None else E * H + H
        return vocab_size * E + hidden + (E if H is None else H) * num_classes + num_classes

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``ids (B, T)``, ``lengths (B,)`` -> logits ``(B, C)``."""
        check_inputs(ids, lengths)
        mask = lengths_to_mask(lengths, ids.shape[1])  # (B, T)
        if self.config.distinct:
            ids, mask, lengths = distinct_ids(ids, mask)
        # Each real token weighs 1/length (or 1/sqrt(length)), each pad 0: the weighted sum is
        # the masked mean, and an empty row sums nothing, giving zeros.
        norm = lengths.clamp(min=1).unsqueeze(1).to(self.embedding.weight.dtype)  # (B, 1)
        if self.config.pooling == "sqrt":
            norm = norm.sqrt()
        weights = mask.to(self.embedding.weight.dtype) / norm  # (B, T)
        if exporting():  # ONNX has no EmbeddingBag: the same weighted sum as a lookup
            pooled = (F.embedding(ids, self.embedding.weight) * weights.unsqueeze(-1)).sum(1)
        elif torch.is_grad_enabled() and self.embedding.weight.requires_grad:
            # the table's gradient has a (E,) row per id given, pads and masked repeats included: give only the kept
            counts = mask.sum(1)
            pooled = self.embedding(ids[mask], counts.cumsum(0) - counts, per_sample_weights=weights[mask])
        else:
            pooled = self.embedding(ids, per_sample_weights=weights)  # (B, E), no (B, T, E) in memory
        return self.fc(self.dropout(self.hidden(pooled)))  # (B, C)


def distinct_ids(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``ids (B, T)``, ``mask (B, T)`` -> the ids sorted per row, a mask keeping the first of
    each run of equal real ids, and the count of distinct ids ``(B,)``."""
    ordered = ids.masked_fill(~mask, -1).sort(dim=1).values  # pads (-1) first
    keep = ordered >= 0
    keep[:, 1:] &= ordered[:, 1:] != ordered[:, :-1]
    return ordered.clamp(min=PAD_ID), keep, keep.sum(1)
