"""Stage 4: lists of ids -> one padded ``Batch`` of tensors.

Layout (post-padding, so ``ids[i, :lengths[i]]`` is always the real text)::

    ids      LongTensor (B, T)   PAD_ID = 0 after each row's end
    lengths  LongTensor (B,)     real tokens per row, 0 for a text that cleaned to nothing
    mask     BoolTensor (B, T)   True on real tokens (a property, computed from lengths)
    labels   LongTensor (B,) or None   (multi-label: FloatTensor (B, L) of 0/1)

``T`` is the longest row, cut to ``max_length`` and raised to ``min_length`` (a CNN with
kernel size 5 needs ``T >= 5``), never below 1, so no layer ever sees an empty time axis.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from .vocabulary import PAD_ID

if TYPE_CHECKING:  # torch is imported where a tensor is made: the numpy padding runs without it
    import torch

TRUNCATION_SIDES = ("post", "pre")
# Every batch is padded at least this wide: a damaged pipeline.json saying min_length=10**9 would
# allocate gigabytes per batch. The widest CNN kernel (models.base.MAX_KERNEL_SIZE) is far below it.
MAX_MIN_LENGTH = 65_536


@dataclass(frozen=True)
class Batch:
    """Padded token ids plus the true lengths (and labels when known)."""

    ids: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor | None = None

    @property
    def mask(self) -> torch.Tensor:
        """``(B, T)`` bool, True where ``ids`` holds a real token."""
        import torch

        steps = torch.arange(self.ids.shape[1], device=self.ids.device)
        return steps.unsqueeze(0) < self.lengths.unsqueeze(1)

    def __len__(self) -> int:
        return self.ids.shape[0]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> "Batch":
        """Copy to ``device``; ``non_blocking`` overlaps the copy when memory is pinned."""
        move = lambda t: None if t is None else t.to(device, non_blocking=non_blocking)  # noqa: E731
        return type(self)(move(self.ids), move(self.lengths), move(self.labels))  # a GridBatch stays one

    def pin_memory(self) -> "Batch":
        """Called by ``DataLoader(pin_memory=True)``: page-locked memory makes GPU copies async."""
        pin = lambda t: None if t is None else t.pin_memory()  # noqa: E731
        return type(self)(pin(self.ids), pin(self.lengths), pin(self.labels))


def _check_options(max_length: int | None, min_length: int, truncation: str) -> None:
    if truncation not in TRUNCATION_SIDES:
        raise ValueError(f"truncation must be one of {TRUNCATION_SIDES}, got {truncation!r}")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 1):
        raise ValueError(f"max_length must be a positive int or None, got {max_length!r}")
    if not isinstance(min_length, int) or not 1 <= min_length <= MAX_MIN_LENGTH:
        raise ValueError(f"min_length must be an int from 1 to {MAX_MIN_LENGTH:,} (textkit.padding.MAX_MIN_LENGTH), "
                         f"got {min_length!r}")
    if max_length is not None and min_length > max_length:
        raise ValueError(f"min_length ({min_length}) must not exceed max_length ({max_length})")


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    *,
    max_length: int | None = None,
    min_length: int = 1,
    truncation: str = "post",
    pad_id: int = PAD_ID,
) -> tuple[np.ndarray, np.ndarray]:
    """Pad (and cut) id lists into an ``int64`` array ``(B, T)`` plus lengths ``(B,)``.

    ``truncation="post"`` keeps the first ``max_length`` ids, ``"pre"`` the last ones
    (useful for reviews whose verdict comes at the end).
    """
    lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
    flat = np.fromiter(chain.from_iterable(sequences), dtype=np.int64, count=int(lengths.sum()))
    return pad_ragged(flat, lengths, max_length=max_length, min_length=min_length,
                      truncation=truncation, pad_id=pad_id)


def pad_ragged(
    flat: np.ndarray,
    lengths: np.ndarray,
    *,
    max_length: int | None = None,
    min_length: int = 1,
    truncation: str = "post",
    pad_id: int = PAD_ID,
) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`pad_sequences` for rows stored back to back: ``flat`` holds row 0's ids,
    then row 1's, ...; ``lengths[i]`` is row i's size. Two boolean masks, no Python loop."""
    return pad_blocks([lengths], [flat], max_length=max_length, min_length=min_length,
                      truncation=truncation, pad_id=pad_id)


def pad_blocks(
    lengths: Sequence[np.ndarray],
    flats: Iterable[np.ndarray],
    *,
    max_length: int | None = None,
    min_length: int = 1,
    truncation: str = "post",
    pad_id: int = PAD_ID,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pad_ragged` of rows kept in consecutive blocks (one per worker's chunk, say):
    block i has rows of sizes ``lengths[i]`` stored back to back in the i-th array ``flats``
    yields. Equal to padding the concatenations, which are never made: ``flats`` may make
    each block just in time, and every temporary is one block's size.

    Memory traffic, not arithmetic, is what padding costs: index arrays as long as all the
    ids, made once for the whole input, cost a first call on IMDB train (pad to 256) most of
    its 0.3-0.4 s in page faults; block by block, such a call takes 0.06-0.12 s.
    """
    _check_options(max_length, min_length, truncation)
    lengths = [np.asarray(sizes, dtype=np.int64) for sizes in lengths]
    all_lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
    kept = all_lengths if max_length is None else np.minimum(all_lengths, max_length)
    width = max(int(kept.max(initial=0)), min_length)
    # zeros (PAD_ID) come from calloc'd pages: no fill pass over the whole (B, T) array
    ids = np.zeros((len(kept), width), dtype=np.int64) if pad_id == 0 else \
        np.full((len(kept), width), pad_id, dtype=np.int64)
    steps = np.arange(width)
    start = 0
    for sizes, flat in zip(lengths, flats):
        rows = slice(start, start + len(sizes))
        start = rows.stop
        values = np.asarray(flat)[:int(sizes.sum())]
        if not np.array_equal(kept[rows], sizes):
            # keep each row's first (post) or last (pre) kept ids: a mask of two runs per row
            cut = sizes - kept[rows]
            runs = np.stack([kept[rows], cut] if truncation == "post" else [cut, kept[rows]], axis=1).ravel()
            values = values[np.repeat(np.tile([truncation == "post", truncation == "pre"], len(sizes)), runs)]
        ids[rows][steps < kept[rows, None]] = values  # row-major: each row's kept ids, in order
    return ids, kept


def collate(
    sequences: Sequence[Sequence[int]],
    labels: Sequence[int] | None = None,
    **pad_options,
) -> Batch:
    """Pad ``sequences`` into a :class:`Batch`; usable as a ``DataLoader`` ``collate_fn`` helper."""
    import torch

    ids, lengths = pad_sequences(sequences, **pad_options)
    label_tensor = None if labels is None else torch.as_tensor(np.asarray(labels))
    return Batch(torch.from_numpy(ids), torch.from_numpy(lengths), label_tensor)
