"""Encoded data -> batches: rows stored back to back (``EncodedDataset``), length-bucketed batch
order (``LengthBucketSampler``, shared out among processes under torchrun), the DataLoader that
combines them, and the checks and class weights of ``(sequences, labels)``."""
from __future__ import annotations

import copy
from itertools import chain
from typing import Any, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from .padding import Batch, pad_ragged


class EncodedDataset(Dataset):
    """Encoded texts stored back to back in one int64 array (plus each row's start and length),
    so a whole batch is one vectorized gather instead of a Python loop over every id, every epoch.

    The DataLoader hands :meth:`batch` (as ``__getitems__``) all indices of a batch at once and
    gets a padded :class:`~textkit.padding.Batch` back: each batch as wide as its longest row,
    at least ``min_length``. Labels are class indices ``(N,)``, a 0/1 matrix ``(N, L)``, or ``None``.
    """

    def __init__(self, sequences: Sequence[Sequence[int]], labels: np.ndarray | None = None,
                 min_length: int = 1) -> None:
        self.lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        self.flat = np.fromiter(chain.from_iterable(sequences), dtype=np.int64, count=int(self.lengths.sum()))
        self.starts = np.cumsum(self.lengths) - self.lengths
        self.labels = labels
        self.min_length = min_length

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, indices: Sequence[int]) -> Batch:
        index = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[index]
        # Positions of the chosen rows' ids in self.flat, row after row.
        offsets = np.cumsum(lengths) - lengths
        positions = np.arange(int(lengths.sum())) + np.repeat(self.starts[index] - offsets, lengths)
        ids, lengths = pad_ragged(self.flat[positions], lengths, min_length=self.min_length)
        labels = None if self.labels is None else torch.from_numpy(self.labels[index])
        return Batch(torch.from_numpy(ids), torch.from_numpy(lengths), labels)

    __getitems__ = batch  # DataLoader fetches a whole batch of indices through this

    def __getitem__(self, index: int) -> Batch:
        return self.batch([index])

    @classmethod
    def from_ragged(cls, flat: np.ndarray, lengths: np.ndarray, labels: np.ndarray | None = None,
                    min_length: int = 1) -> "EncodedDataset":
        """Rows already back to back (``flat`` int64, ``lengths``): no Python list per row, no copy of ``flat``."""
        data = cls.__new__(cls)
        data.lengths = np.asarray(lengths, dtype=np.int64)
        data.flat = flat
        data.starts = np.cumsum(data.lengths) - data.lengths
        data.labels, data.min_length = labels, min_length
        return data

    def subset(self, index: np.ndarray) -> "EncodedDataset":
        """Rows ``index`` (and their labels), sharing ``flat``: a validation hold-out costs no copy of the ids."""
        other = copy.copy(self)
        other.is_subset = True
        other.lengths, other.starts = self.lengths[index], self.starts[index]
        other.labels = None if self.labels is None else self.labels[index]
        return other

    def with_labels(self, labels: np.ndarray | None, min_length: int | None = None) -> "EncodedDataset":
        """The same encoded rows with ``labels`` (a shallow copy: the arrays are shared), padded at
        least to ``min_length`` when given."""
        other = copy.copy(self)
        other.labels = labels
        if min_length is not None:
            other.min_length = max(self.min_length, min_length)
        return other

    def digest_parts(self) -> tuple:
        """The arrays that define the encoded rows (for :func:`run_fingerprint`); a subset's
        rows are also defined by where they start in the shared ``flat``."""
        if getattr(self, "is_subset", False):
            return (self.lengths, self.starts, self.flat)
        return (self.lengths, self.flat)


def as_dataset(encoded: Sequence[Sequence[int]] | EncodedDataset, labels: np.ndarray | None = None,
               min_length: int = 1) -> EncodedDataset:
    """Encoded inputs -> the dataset that batches them: id lists (``TextPipeline.encode``) become an
    :class:`EncodedDataset`; an encoded dataset already (``LayoutPipeline.encode``'s grids) gets
    ``labels``."""
    if callable(getattr(encoded, "with_labels", None)):  # an EncodedDataset, or rows in shards (textkit.shards)
        return encoded.with_labels(labels, min_length)
    return EncodedDataset(encoded, labels, min_length)


def _whole_batch(batch: Batch) -> Batch:
    """``collate_fn``: ``EncodedDataset.batch`` already built the batch."""
    return batch


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of indices whose texts have similar lengths, in random order.

    Per epoch: shuffle all indices, sort by length inside chunks of ``chunk_batches``
    batches, cut into batches, shuffle the batch order. Sorting only inside a chunk keeps
    the batch contents random from epoch to epoch, while most padding disappears. The
    order depends on ``(seed, epoch)`` alone, so a resumed run replays it exactly.
    ``bucket=False`` gives plain shuffled batches; ``shuffle=False`` the data order.

    ``world > 1`` (several processes, :mod:`textkit.distributed`): every process draws the same
    batches and takes every ``world``-th, from the ``rank``-th on; the last ``< world`` batches
    of an epoch are left out, so that every process takes the same number of steps.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, *, shuffle: bool = True,
                 bucket: bool = True, chunk_batches: int = 50, seed: int = 0, rank: int = 0,
                 world: int = 1) -> None:
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.bucket = bucket
        self.chunk_batches = chunk_batches
        self.seed = seed
        self.epoch = 0
        self.rank, self.world = rank, world
        if world > 1 and -(-len(self.lengths) // batch_size) < world:
            raise ValueError(f"{len(self.lengths):,} training texts make {-(-len(self.lengths) // batch_size)} "
                             f"batch(es) of {batch_size}, fewer than the {world} processes: lower batch_size or "
                             f"use fewer processes")

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])

    def __len__(self) -> int:
        batches = -(-len(self.lengths) // self.batch_size)
        return batches if self.world == 1 else batches // self.world

    def __iter__(self):
        n, size = len(self.lengths), self.batch_size
        if not self.shuffle:
            yield from (list(range(i, min(i + size, n))) for i in range(0, n, size))
            return
        rng = np.random.default_rng([self.seed % 2**32, self.epoch])
        order = rng.permutation(n)
        if self.bucket:
            chunk = size * self.chunk_batches  # a multiple of the batch size: no batch spans two chunks
            order = np.concatenate([
                part[np.argsort(self.lengths[part], kind="stable")]
                for part in np.split(order, range(chunk, n, chunk))
            ]) if n else order
        batches = [order[i:i + size] for i in range(0, n, size)]
        if self.bucket:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        if self.world > 1:  # this process's share, the same count in every process
            batches = batches[self.rank:len(batches) // self.world * self.world:self.world]
        yield from (batch.tolist() for batch in batches)


def make_loader(sequences: Sequence[Sequence[int]], labels: np.ndarray, *, batch_size: int,
                min_length: int = 1, shuffle: bool = True, bucket: bool = True, chunk_batches: int = 50,
                seed: int = 0, num_workers: int = 0, pin_memory: bool = False, rank: int = 0,
                world: int = 1) -> DataLoader:
    """A DataLoader of :class:`~textkit.padding.Batch` over encoded data (see :class:`LengthBucketSampler`)."""
    dataset = as_dataset(sequences, labels, min_length)
    # rows in shards order their batches shard by shard (textkit.shards.ShardBucketSampler)
    make_sampler = getattr(dataset, "sampler", LengthBucketSampler)
    sampler = make_sampler(dataset.lengths, batch_size, shuffle=shuffle, bucket=bucket,
                           chunk_batches=chunk_batches, seed=seed, rank=rank, world=world)
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=_whole_batch,
                      num_workers=num_workers, pin_memory=pin_memory)


def check_data(data: Any, name: str, multi_label: bool, num_classes: int | None = None):
    """``(sequences, labels)`` -> ``(sequences, labels as int64 (N,) or float32 (N, L))``."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{name} must be a pair (sequences, labels), got {type(data).__name__}")
    sequences, labels = data
    labels = np.asarray(labels)
    if len(sequences) != len(labels):
        raise ValueError(f"{name}: labels has {len(labels)} items but sequences has {len(sequences)}")
    if not len(sequences):
        raise ValueError(f"{name} is empty: it needs at least one (sequence, label)")
    if multi_label:
        if labels.ndim != 2 or not np.isin(labels, (0, 1)).all():
            raise ValueError(f"{name}: multi-label labels must be a 0/1 matrix (N, L), got shape "
                             f"{labels.shape} dtype {labels.dtype}")
        return sequences, labels.astype(np.float32)
    if labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise ValueError(f"{name}: labels must be class indices, ints of shape (N,), got shape "
                         f"{labels.shape} dtype {labels.dtype} (multi-label data needs multi_label=True)")
    high = num_classes if num_classes is not None else int(labels.max()) + 1
    bad = labels[(labels < 0) | (labels >= high)]
    if len(bad):
        raise ValueError(f"{name}: labels must be class indices in [0, {high}) (the model has {high} outputs), "
                         f"got {sorted(set(bad.tolist()))[:5]}")
    return sequences, labels.astype(np.int64)


def class_weights(labels: np.ndarray, spec: str | Sequence[float] | None, num_classes: int,
                  multi_label: bool = False) -> torch.Tensor | None:
    """Loss weights for imbalanced data: ``"balanced"`` gives class c the weight
    n / (C * count_c) (scikit-learn's rule; for multi-label a positive weight
    negatives / positives per label), a sequence is used as given, ``None`` gives ``None``."""
    if spec is None:
        return None
    if spec != "balanced":
        if len(spec) != num_classes:
            raise ValueError(f"class_weight has {len(spec)} weights but there are {num_classes} classes")
        return torch.tensor(spec, dtype=torch.float32)
    counts = labels.sum(axis=0) if multi_label else np.bincount(labels, minlength=num_classes)
    absent = np.flatnonzero(counts == 0).tolist()
    if absent:
        raise ValueError(f"class_weight='balanced' needs every class in the training labels; "
                         f"class indices {absent} have no example")
    if multi_label:
        return torch.tensor((len(labels) - counts) / counts, dtype=torch.float32)
    from sklearn.utils.class_weight import compute_class_weight

    weights = compute_class_weight("balanced", classes=np.arange(num_classes), y=labels)
    return torch.tensor(weights, dtype=torch.float32)
