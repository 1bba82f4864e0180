"""Stage 4 for pages: OCR'd words and their boxes -> a padded id grid ``(B, H, W, S)``.

::

    page: words + boxes ─► clean/tokenize each word ─► index ─► place on an H x W grid ─► GridBatch
                            (the TextPipeline's cleaner, tokenizer and vocabulary)

    ids      LongTensor (B, H, W, S)  token ids placed where the page printed them; PAD_ID = 0 elsewhere
    lengths  LongTensor (B,)          tokens placed on each page (0 for a page with none)
    mask     BoolTensor (B, H, W, S)  True on placed tokens

    pipe = LayoutPipeline(grid=(64, 48), slots=4).fit(train_pages)   # vocabulary from train only
    batch = pipe.transform(pages)                                      # GridBatch, ids (B, 64, 48, 4)

Placement. Boxes are LayoutLM's ``[x0, y0, x1, y1]`` in 0..1000 of the page. A word's tokens
share its box, split left to right in equal parts ("Form:" -> "form" on the left half, ":" on
the right); a token goes to the cell holding its centre, row ``floor(cy * H / 1000)`` and
column ``floor(cx * W / 1000)``. A cell has ``S`` slots, filled in reading order; the grid
model sums a cell's slots, so ``S`` only bounds what a crowded cell keeps. Tokens past the
``S``-th of a cell are lost, and :meth:`LayoutPipeline.placement_report` counts them. On the
600 FARA pages (393,553 tokens), 64 x 48 loses 14.5% of them with 1 slot, 1.9% with 2, 0.07%
with 4 (257 tokens, 55 of them words of 3+ letters, on 175 pages) and none with 8, the
default; 32 x 24 still loses 0.12% with 8. Slots cost a batch ``B * H * W * S`` ids, but
hardly any model time (the embedding sums them in one fused op: 4 and 8 slots train at the
same speed); a finer grid costs the CNN quadratically.

Each distinct word is cleaned and tokenized once (OCR'd pages repeat their words), with the
same cleaner and tokenizer a ``TextPipeline`` uses on running text, so ``pipe.text`` encodes
plain text with the very vocabulary the grid uses.
"""
from __future__ import annotations

import copy
import json
import os
from collections import Counter
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import torch

from . import __version__
from .cleaning import UnregisteredName
from .pages import BBOX_SCALE, Page
from .fileio import atomic_write, check_version, read_versioned_json
from .padding import Batch
from .pipeline import TextPipeline
from .batching import EncodedDataset
from .vocabulary import PAD_ID, Vocab

FORMAT = "textkit.LayoutPipeline"
FORMAT_VERSION = 1
DEFAULT_GRID = (64, 48)
# H * W * S ids per page in a batch: 64 x 48 x 8 is 24,576; a damaged layout.json asking for
# millions would allocate gigabytes per batch
MAX_GRID_SLOTS = 2**20
DEFAULT_SLOTS = 8
# TextPipeline options that have no meaning on a grid (it holds words, not a sequence)
_SEQUENCE_ONLY = {"ngram_range": (1, 1), "ngram_buckets": 0, "max_length": None, "min_length": 1,
                  "truncation": "post"}


@dataclass(frozen=True)
class GridBatch(Batch):
    """Pages as a padded grid: ``ids (B, H, W, S)``, ``lengths (B,)`` tokens placed, ``labels``."""

    @property
    def mask(self) -> torch.Tensor:
        """``(B, H, W, S)`` bool, True where ``ids`` holds a placed token."""
        return self.ids != PAD_ID


def page_words(page: Page | Mapping[str, Any], where: str) -> tuple[list[str], np.ndarray]:
    """One page -> ``(words, bboxes (N, 4) float32 in 0..1000)``.

    A page is a :class:`~textkit.documents.Page` or a mapping with ``words`` and ``bboxes``
    (already 0..1000), such as a row of a ``load_corpus`` split of pages.
    """
    if isinstance(page, Page):
        words, boxes = page.words, page.bbox_array()
    elif isinstance(page, Mapping) and "words" in page and "bboxes" in page:
        words, boxes = page["words"], page["bboxes"]
    else:
        raise TypeError(f"{where} must be a textkit.Page or a mapping with 'words' and 'bboxes' "
                        f"(a row of a load_corpus split of pages), got {type(page).__name__}")
    if isinstance(words, (str, bytes)) or not all(map(isinstance, words, repeat(str))):  # C-speed loop
        raise TypeError(f"{where}: 'words' must be a list of str, one per box, got {_describe(words)}")
    words = list(words)
    try:
        boxes = (np.asarray(boxes, dtype=np.float32).reshape(len(boxes), 4) if len(boxes)
                 else np.zeros((0, 4), np.float32))
    except (TypeError, ValueError):
        raise ValueError(f"{where}: 'bboxes' must be one [x0, y0, x1, y1] per word, got {_describe(boxes)}") from None
    if len(words) != len(boxes):
        raise ValueError(f"{where} has {len(words)} words but {len(boxes)} boxes")
    if len(boxes) and (boxes.min() < 0 or boxes.max() > BBOX_SCALE or not np.isfinite(boxes).all()):
        raise ValueError(f"{where}: bboxes must lie in 0..{BBOX_SCALE} (LayoutLM's scale: Page.bboxes() "
                         f"gives them), got values from {boxes.min()} to {boxes.max()}")
    inverted = np.flatnonzero((boxes[:, 0] > boxes[:, 2]) | (boxes[:, 1] > boxes[:, 3]))
    if len(inverted):
        raise ValueError(f"{where}: box {inverted[0]} {boxes[inverted[0]].tolist()} has x0 > x1 or y0 > y1; "
                         f"boxes are [x0, y0, x1, y1] with the top left corner first")
    return words, boxes


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r:.60}"


def check_pages(pages: Any, name: str = "pages") -> list:
    """``pages`` as a list (each checked when it is placed), or an error naming what was given."""
    if isinstance(pages, (str, bytes, Page, Mapping)):
        raise TypeError(f"{name} must be a list of pages, got a single {type(pages).__name__}; wrap it: [page]")
    try:
        return list(pages)
    except TypeError:
        raise TypeError(f"{name} must be a list of pages, got {type(pages).__name__}") from None


class EncodedGrids(EncodedDataset):
    """Placed tokens of many pages, stored sparsely: each page's ``(id, position)`` pairs back to
    back, ``position = (row * W + col) * S + slot``. :meth:`batch` scatters a batch's pages into a
    dense ``GridBatch`` (only then does a page cost ``H * W * S`` ids)."""

    def __init__(self, ids: np.ndarray, positions: np.ndarray, lengths: np.ndarray,
                 shape: tuple[int, int, int], lost: np.ndarray, labels: np.ndarray | None = None) -> None:
        self.flat, self.positions, self.lengths = ids, positions, lengths
        self.starts = np.cumsum(lengths) - lengths
        self.shape, self.lost, self.labels, self.min_length = shape, lost, labels, 1

    def batch(self, indices: Sequence[int]) -> GridBatch:
        index = np.asarray(indices, dtype=np.int64)
        lengths = self.lengths[index]
        offsets = np.cumsum(lengths) - lengths
        picked = np.arange(int(lengths.sum())) + np.repeat(self.starts[index] - offsets, lengths)
        cells = int(np.prod(self.shape))
        rows = np.repeat(np.arange(len(index)), lengths)
        ids = np.full((len(index), cells), PAD_ID, dtype=np.int64)
        ids[rows, self.positions[picked]] = self.flat[picked]
        labels = None if self.labels is None else torch.from_numpy(self.labels[index])
        return GridBatch(torch.from_numpy(ids).view(len(index), *self.shape), torch.from_numpy(lengths), labels)

    __getitems__ = batch

    def digest_parts(self) -> tuple:
        return (self.lengths, self.flat, self.positions, np.asarray(self.shape))


class LayoutPipeline:
    """Place OCR'd pages on a grid of token ids; see the module doc.

    Options (keyword-only):
        grid: ``(H, W)`` cells over the page (rows top to bottom, columns left to right).
        slots: tokens a cell keeps (``S``); the model sums them.
        text: the text layer: a ``TextPipeline`` (copied), a dict of its options, or ``None``
            for the default one. Its sequence options (n-grams, ``max_length``, truncation)
            have no meaning on a grid and must stay at their defaults.
    """

    def __init__(self, *, grid: Sequence[int] = DEFAULT_GRID, slots: int = DEFAULT_SLOTS,
                 text: TextPipeline | dict | None = None) -> None:
        grid = tuple(grid) if isinstance(grid, (list, tuple)) else grid
        if not (isinstance(grid, tuple) and len(grid) == 2
                and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in grid)):
            raise ValueError(f"grid must be (H, W), two ints >= 1, got {grid!r}")
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise ValueError(f"slots must be an int >= 1, got {slots!r}")
        if grid[0] * grid[1] * slots > MAX_GRID_SLOTS:
            raise ValueError(f"grid={grid} with slots={slots} is {grid[0] * grid[1] * slots:,} ids per page, more "
                             f"than {MAX_GRID_SLOTS:,} (textkit.layout.MAX_GRID_SLOTS); use a coarser grid")
        if isinstance(text, dict):
            text = TextPipeline(**text)
        elif text is None:
            text = TextPipeline()
        elif isinstance(text, TextPipeline):
            text = copy.deepcopy(text)  # fitting the grid fits its text layer: never the caller's pipeline
        else:
            raise TypeError(f"text must be a TextPipeline, a dict of its options or None, got {type(text).__name__}")
        for option, default in _SEQUENCE_ONLY.items():
            value = getattr(text, option)
            if (tuple(value) if isinstance(value, (list, tuple)) else value) != default:
                raise ValueError(f"LayoutPipeline: the text pipeline's {option}={value!r} has no meaning on a grid "
                                 f"(cells hold words, not a sequence; the grid's size is grid=(H, W)); leave it "
                                 f"at {default!r}")
        self.grid: tuple[int, int] = grid
        self.slots = slots
        self.text = text

    # -- the text layer, shared -------------------------------------------------------------
    @property
    def vocab(self) -> Vocab | None:
        return self.text.vocab

    @property
    def ngram_buckets(self) -> int:
        return 0

    @property
    def num_embeddings(self) -> int:
        """Rows an embedding table needs: the vocabulary."""
        return len(self._fitted_vocab())

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(H, W, S)``: one page's grid."""
        return (*self.grid, self.slots)

    # -- fit / transform ----------------------------------------------------------------------
    def fit(self, pages: Iterable) -> "LayoutPipeline":
        """Learn the vocabulary from the words of ``pages`` (training pages only)."""
        pages = check_pages(pages)
        if not pages:
            raise ValueError("fit() needs at least one page, got an empty list")
        counts: Counter = Counter()
        for i, page in enumerate(pages):
            counts.update(page_words(page, f"pages[{i}]")[0])
        tokens = dict(zip(counts, self.text.analyzer.many(list(counts))))
        token_counts: Counter = Counter()
        for word, n in counts.items():
            for token in tokens[word]:
                token_counts[token] += n
        self.text.vocab = Vocab.from_counts(token_counts, min_freq=self.text.min_freq,
                                            max_size=self.text.max_vocab_size)
        return self

    def encode(self, pages: Iterable) -> EncodedGrids:
        """Pages -> their placed tokens, sparse (see :class:`EncodedGrids`); ``.lost`` counts
        the tokens each page lost to full cells."""
        pages = check_pages(pages)
        vocab = self._fitted_vocab()
        words, boxes, n_words = [], [], np.zeros(len(pages), dtype=np.int64)
        for i, page in enumerate(pages):
            page_words_, page_boxes = page_words(page, f"pages[{i}]")
            words.extend(page_words_)
            boxes.append(page_boxes)
            n_words[i] = len(page_words_)
        boxes = np.concatenate(boxes) if boxes else np.zeros((0, 4), np.float32)
        # each distinct word analyzed once: a page set repeats its words many times over
        distinct = {w: i for i, w in enumerate(dict.fromkeys(words))}
        token_ids = [vocab.encode(tokens) for tokens in self.text.analyzer.many(list(distinct))]
        per_distinct = np.fromiter(map(len, token_ids), dtype=np.int64, count=len(token_ids))
        distinct_flat = np.fromiter((t for ids in token_ids for t in ids), dtype=np.int64,
                                    count=int(per_distinct.sum()))
        distinct_start = np.cumsum(per_distinct) - per_distinct
        which = np.fromiter(map(distinct.__getitem__, words), dtype=np.int64, count=len(words))
        return self._place(distinct_flat, distinct_start[which], per_distinct[which], boxes, n_words)

    def _place(self, distinct_flat: np.ndarray, start: np.ndarray, n_tokens: np.ndarray, boxes: np.ndarray,
               n_words: np.ndarray) -> EncodedGrids:
        """Vectorized placement of every token of every page (see the module doc)."""
        H, W, S = self.shape
        word = np.repeat(np.arange(len(n_tokens)), n_tokens)            # token -> its word
        first = np.cumsum(n_tokens) - n_tokens
        k = np.arange(len(word)) - first[word]                          # token's index within its word
        ids = distinct_flat[start[word] + k]
        x0, y0, x1, y1 = boxes[word].T
        cx = x0 + (k + 0.5) * (x1 - x0) / n_tokens[word]                # the word's box split in equal parts
        cy = (y0 + y1) / 2
        row = np.minimum((cy * H / BBOX_SCALE).astype(np.int64), H - 1)
        col = np.minimum((cx * W / BBOX_SCALE).astype(np.int64), W - 1)
        page = np.repeat(np.arange(len(n_words)), n_words)[word]      # token -> its page
        cell = page * (H * W) + row * W + col
        order = np.argsort(cell, kind="stable")                       # reading order kept within a cell
        sorted_cell = cell[order]
        group_start = np.flatnonzero(np.r_[True, sorted_cell[1:] != sorted_cell[:-1]])
        slot = np.empty(len(cell), dtype=np.int64)
        slot[order] = np.arange(len(cell)) - np.repeat(group_start, np.diff(np.r_[group_start, len(cell)]))
        kept = slot < S
        lengths = np.bincount(page[kept], minlength=len(n_words)).astype(np.int64)
        lost = np.bincount(page[~kept], minlength=len(n_words)).astype(np.int64)
        positions = ((row * W + col) * S + slot)[kept]
        return EncodedGrids(ids[kept], positions, lengths, self.shape, lost)

    def fit_encode(self, pages: Iterable) -> EncodedGrids:
        """``fit`` then ``encode`` on the same pages."""
        pages = check_pages(pages)
        return self.fit(pages).encode(pages)

    def transform(self, pages: Iterable, labels: Sequence[int] | None = None) -> GridBatch:
        """Pages -> ``GridBatch(ids (B, H, W, S), lengths (B,), labels)``."""
        encoded = self.encode(pages)
        if labels is not None and len(labels) != len(encoded):
            raise ValueError(f"labels has {len(labels)} items but pages has {len(encoded)}")
        if labels is not None:
            encoded.labels = np.asarray(labels)
        return encoded.batch(np.arange(len(encoded)))

    __call__ = transform

    def placement_report(self, pages: Iterable) -> dict[str, Any]:
        """How many tokens the grid keeps: ``{"pages", "tokens", "placed", "lost", "lost_fraction",
        "pages_losing"}`` (tokens past a full cell's ``S`` slots are lost)."""
        encoded = self.encode(pages)
        placed, lost = int(encoded.lengths.sum()), int(encoded.lost.sum())
        return {"pages": len(encoded), "tokens": placed + lost, "placed": placed, "lost": lost,
                "lost_fraction": lost / max(1, placed + lost), "pages_losing": int((encoded.lost > 0).sum())}

    def _fitted_vocab(self) -> Vocab:
        if self.text.vocab is None:
            raise RuntimeError("this LayoutPipeline is not fitted yet: call .fit(train_pages) first, "
                               "or LayoutPipeline.load(path)")
        return self.text.vocab

    # -- one JSON file ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "version": FORMAT_VERSION, "textkit_version": __version__,
                "grid": list(self.grid), "slots": self.slots, "text": self.text.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "layout pipeline dict") -> "LayoutPipeline":
        check_version(data, source, name="layout pipeline", format=FORMAT, version=FORMAT_VERSION,
                      textkit_version=__version__)
        try:
            text = TextPipeline.from_dict(data["text"], source=f"{source} (its 'text')")
            return cls(grid=data["grid"], slots=data["slots"], text=text)
        except KeyError as exc:
            raise ValueError(f"{source} is missing the key {exc.args[0]!r}; the file is damaged") from None
        except UnregisteredName:
            raise  # not damage; the text layer's message names the file
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source} is damaged: {exc}") from None

    def save(self, path: str | os.PathLike) -> None:
        """Write the pipeline (grid, slots and the whole text layer) as one JSON file, atomically."""
        payload = json.dumps(self.to_dict(), ensure_ascii=True, indent=1)
        atomic_write(path, lambda f: f.write(payload), mode="w", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "LayoutPipeline":
        data, source = read_versioned_json(path, name="layout pipeline", format=FORMAT, version=FORMAT_VERSION)
        return cls.from_dict(data, source=source)

    def __repr__(self) -> str:
        vocab = "unfitted" if self.vocab is None else f"vocab={len(self.vocab)}"
        return f"LayoutPipeline(grid={self.grid}, slots={self.slots}, {vocab})"
