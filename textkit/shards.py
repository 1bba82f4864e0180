"""A ``textkit preprocess`` output as training data: its ``ids`` and ``label`` columns, with the
pipeline that made them (no Python object per text, no second tokenization).

    report, pipeline, splits = read_encoded("prep/")
    rows, labels = splits["train"]     # rows: ShardedRows (train) or EncodedDataset; labels int64 (N,)
    report["labels"]                   # class names; labels index them

The training split stays in its shards: :class:`ShardedRows` keeps each row's length, label and
place (24 bytes a row), and reads a shard's ids only while its batches are being trained on
(:class:`ShardBucketSampler` orders an epoch shard by shard: the shards in a seeded random
order, then length-bucketed batches in random order inside each). Memory is then one shard's
ids, whatever the corpus's size. The other splits (validation, test) are read whole into an
:class:`~textkit.batching.EncodedDataset`: 8 bytes per token.

What is refused, naming the file: a shard the report lists but the folder lacks, a shard that
cannot be read (truncated, not Parquet/Arrow), a shard whose ids do not fit ``pipeline.json``'s
vocabulary (from another preprocess run), and a folder that is not a finished preprocess output.
"""
from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .batching import EncodedDataset, LengthBucketSampler
from .fileio import read_versioned_json
from .padding import Batch
from .pipeline import TextPipeline
from .preprocess import FORMAT, FORMAT_VERSION, PIPELINE_FILE, REPORT_FILE


def read_encoded(directory: str | os.PathLike
                 ) -> tuple[dict, TextPipeline, dict[str, tuple[Any, np.ndarray]]]:
    """``(report, pipeline, {split: (rows, labels)})`` of a preprocess output: ``rows`` a
    :class:`ShardedRows` for the train split and an ``EncodedDataset`` for the others; ``labels``
    int64 indices into ``report["labels"]``."""
    directory = Path(directory)
    report, _ = read_versioned_json(
        directory / REPORT_FILE, name="preprocess report", format=FORMAT, version=FORMAT_VERSION,
        missing_hint=f": {str(directory)!r} is not a finished `textkit preprocess` output (no {REPORT_FILE}; a run "
                     f"that was stopped leaves none)")
    pipeline = TextPipeline.load(directory / PIPELINE_FILE)
    splits = {}
    for split, info in report["splits"].items():
        paths = [directory / shard for shard in info["shards"]]
        if split == "train":  # the large one: streamed, shard by shard
            parts = [_read_shard(path, directory, ("length", "label")) for path in paths]
            rows = ShardedRows(paths, [length for length, _ in parts], pipeline.num_embeddings)
            label = np.concatenate([label for _, label in parts]) if parts else np.zeros(0, dtype=np.int64)
        else:
            parts = [_read_ids(path, directory, pipeline.num_embeddings) for path in paths]
            flat = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
            label = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
            lengths = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
            rows = EncodedDataset.from_ragged(flat, lengths, label)
        if len(label) != info["rows_written"]:
            raise ValueError(f"{directory}: split {split!r} has {len(label):,} rows in its shards, {REPORT_FILE} says "
                             f"{info['rows_written']:,}; the folder is damaged: preprocess again")
        if len(label) and (label.min() < 0 or label.max() >= len(report["labels"])):
            raise ValueError(f"{directory}: split {split!r} holds label ids outside the {len(report['labels'])} "
                             f"classes of {REPORT_FILE}; the folder is damaged: preprocess again")
        splits[split] = (rows.with_labels(label), label)
    return report, pipeline, splits


class ShardedRows:
    """The rows of several shards, each row's ids read only when its shard is trained on.

    Holds each row's length, shard and place in it (and labels, once given); :meth:`batch`
    loads a batch's shard (one at a time, kept until another is needed) and gathers its rows
    as ``EncodedDataset.batch`` does. Batches that mix shards work but read each of them:
    :class:`ShardBucketSampler` never makes one, and :meth:`evaluation_order` avoids them.
    """

    def __init__(self, paths: list[Path], lengths: list[np.ndarray], rows_of: int, min_length: int = 1) -> None:
        self.paths, self.rows_of, self.min_length = list(paths), rows_of, min_length
        self.lengths = np.concatenate(lengths) if lengths else np.zeros(0, dtype=np.int64)
        counts = [len(part) for part in lengths]
        self.shard_of = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        self.local = np.concatenate([np.arange(n, dtype=np.int64) for n in counts]) if counts else self.lengths
        self.labels: np.ndarray | None = None
        self._loaded: tuple[int, EncodedDataset] | None = None

    def __len__(self) -> int:
        return len(self.lengths)

    def _shard(self, index: int) -> EncodedDataset:
        if self._loaded is None or self._loaded[0] != index:
            self._loaded = None  # the previous shard's ids go before the next one's come
            flat, lengths, _ = _read_ids(self.paths[index], self.paths[index].parent.parent, self.rows_of)
            self._loaded = (index, EncodedDataset.from_ragged(flat, lengths, min_length=self.min_length))
        return self._loaded[1]

    def batch(self, indices) -> Batch:
        index = np.asarray(indices, dtype=np.int64)
        shards = self.shard_of[index]
        if len(index) and (shards == shards[0]).all():  # the usual case: one shard, one gather
            batch = self._shard(int(shards[0])).batch(self.local[index])
        else:
            parts = [self._shard(int(s)).batch(self.local[index[shards == s]]) for s in np.unique(shards)]
            width = max(part.ids.shape[1] for part in parts)
            ids = torch.zeros((len(index), width), dtype=torch.int64)
            lengths = torch.zeros(len(index), dtype=torch.int64)
            for s, part in zip(np.unique(shards), parts):
                where = torch.from_numpy(np.flatnonzero(shards == s))
                ids[where, :part.ids.shape[1]] = part.ids
                lengths[where] = part.lengths
            batch = Batch(ids, lengths, None)
        labels = None if self.labels is None else torch.from_numpy(self.labels[index])
        return Batch(batch.ids, batch.lengths, labels)

    __getitems__ = batch

    def __getitem__(self, index: int) -> Batch:
        return self.batch([index])

    def with_labels(self, labels: np.ndarray | None, min_length: int | None = None) -> "ShardedRows":
        other = copy.copy(self)
        other.labels, other._loaded = labels, None
        if min_length is not None:
            other.min_length = max(self.min_length, min_length)
        return other

    def subset(self, index: np.ndarray) -> "ShardedRows":
        other = self.with_labels(None if self.labels is None else self.labels[index])
        other.lengths, other.shard_of, other.local = self.lengths[index], self.shard_of[index], self.local[index]
        return other

    def sampler(self, lengths: np.ndarray, batch_size: int, **options) -> "ShardBucketSampler":
        """The batch order training uses for these rows (``make_loader`` asks for it)."""
        return ShardBucketSampler(self.shard_of, lengths, batch_size, **options)

    def evaluation_order(self) -> np.ndarray:
        """Shard by shard, by length inside each: each shard is read once per pass."""
        return np.lexsort((self.lengths, self.shard_of))

    def digest_parts(self) -> tuple:
        """What defines the rows without reading them: lengths, places and the shards' names and sizes."""
        files = "\n".join(f"{p.name} {p.stat().st_size}" for p in self.paths).encode("utf-8")
        return (self.lengths, self.shard_of, self.local, np.frombuffer(files, dtype=np.uint8))


class ShardBucketSampler(LengthBucketSampler):
    """:class:`~textkit.batching.LengthBucketSampler` shard by shard: per epoch the shards in a
    seeded random order, and inside each its rows shuffled, sorted by length in chunks, cut into
    batches whose order is shuffled. Every batch comes from one shard. The order depends on
    ``(seed, epoch)`` alone; under torchrun the batches are dealt round-robin, as there."""

    def __init__(self, shard_of: np.ndarray, lengths, batch_size: int, **options) -> None:
        super().__init__(lengths, batch_size, **options)
        self.shard_of = np.asarray(shard_of)
        self.rows = [np.flatnonzero(self.shard_of == s) for s in range(int(self.shard_of.max()) + 1)] \
            if len(self.shard_of) else []

    def _batches(self) -> list[np.ndarray]:
        size = self.batch_size
        if not self.shuffle:
            return [rows[i:i + size] for rows in self.rows for i in range(0, len(rows), size)]
        rng = np.random.default_rng([self.seed % 2**32, self.epoch])
        batches = []
        for s in rng.permutation(len(self.rows)):
            order = self.rows[s][rng.permutation(len(self.rows[s]))]
            if self.bucket:
                chunk = size * self.chunk_batches
                order = np.concatenate([part[np.argsort(self.lengths[part], kind="stable")]
                                        for part in np.split(order, range(chunk, len(order), chunk))]) \
                    if len(order) else order
            mine = [order[i:i + size] for i in range(0, len(order), size)]
            batches += [mine[i] for i in rng.permutation(len(mine))] if self.bucket else mine
        return batches

    def __len__(self) -> int:
        batches = sum(-(-len(rows) // self.batch_size) for rows in self.rows)
        return batches if self.world == 1 else batches // self.world

    def __iter__(self):
        batches = self._batches()
        if self.world > 1:
            batches = batches[self.rank:len(batches) // self.world * self.world:self.world]
        yield from (batch.tolist() for batch in batches)


def _read_ids(path: Path, directory: Path, rows_of: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(flat ids int64, lengths int64, labels int64)`` of one shard, its ids checked against
    the pipeline's ``rows_of`` embedding rows."""
    table = _read_table(path, directory, ("ids", "label"))
    ids = table.column("ids").combine_chunks()
    flat = np.asarray(ids.flatten(), dtype=np.int64)  # a no-op view for int64 ids
    if len(flat) and (flat.min() < 0 or flat.max() >= rows_of):
        raise ValueError(f"{path} holds ids up to {int(flat.max()):,}, but {PIPELINE_FILE} has {rows_of:,} rows: the "
                         f"shard is from another preprocess run; preprocess again")
    lengths = np.diff(np.asarray(ids.offsets, dtype=np.int64))
    return flat, lengths, np.asarray(table.column("label").to_numpy(), dtype=np.int64)


def _read_shard(path: Path, directory: Path, columns: tuple[str, ...]) -> list[np.ndarray]:
    """The int64 ``columns`` of one shard (``length``, ``label``: what the sampler needs)."""
    table = _read_table(path, directory, columns)
    return [np.asarray(table.column(name).to_numpy(), dtype=np.int64) for name in columns]


def _read_table(path: Path, directory: Path, columns: tuple[str, ...]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        raise FileNotFoundError(f"{path} is listed in {directory / REPORT_FILE} but does not exist; the folder is "
                                f"damaged: preprocess again")
    try:
        if path.suffix == ".arrow":
            with pa.memory_map(str(path)) as source:
                return pa.ipc.open_stream(source).read_all().select(list(columns))
        return pq.read_table(path, columns=list(columns))
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise ValueError(f"{path}: cannot read the shard ({' '.join(str(exc).split())[:200]}); it is truncated or "
                         f"not a preprocess shard: preprocess again") from None
