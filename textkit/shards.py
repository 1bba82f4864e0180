"""A ``textkit preprocess`` output as training data: its ``ids`` and ``label`` columns, read straight
into arrays (no Python object per text, no second tokenization), with the pipeline that made them.

    report, pipeline, splits = read_encoded("prep/")
    rows, labels = splits["train"]     # EncodedDataset (flat int64 ids + lengths), int64 (N,)
    report["labels"]                   # class names; labels index them

Memory is 8 bytes per token plus 16 per row (the ids of IMDB's 25,000 training reviews: about
55 MB), against roughly ten times that for the same rows as Python lists of ints, and the
texts are never read. Reading shards by batch, so that memory stays flat whatever the corpus,
is not done yet.

What is refused, naming the file: a shard the report lists but the folder lacks, a shard that
cannot be read (truncated, not Parquet/Arrow), a shard whose ids do not fit ``pipeline.json``'s
vocabulary (from another preprocess run), and a folder that is not a finished preprocess output.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .batching import EncodedDataset
from .fileio import read_versioned_json
from .pipeline import TextPipeline
from .preprocess import FORMAT, FORMAT_VERSION, PIPELINE_FILE, REPORT_FILE


def read_encoded(directory: str | os.PathLike
                 ) -> tuple[dict, TextPipeline, dict[str, tuple[EncodedDataset, np.ndarray]]]:
    """``(report, pipeline, {split: (rows, labels)})`` of a preprocess output; ``labels`` are
    int64 indices into ``report["labels"]``."""
    directory = Path(directory)
    report, _ = read_versioned_json(
        directory / REPORT_FILE, name="preprocess report", format=FORMAT, version=FORMAT_VERSION,
        missing_hint=f": {str(directory)!r} is not a finished `textkit preprocess` output (no {REPORT_FILE}; a run "
                     f"that was stopped leaves none)")
    pipeline = TextPipeline.load(directory / PIPELINE_FILE)
    rows_of = pipeline.num_embeddings
    splits = {}
    for split, info in report["splits"].items():
        flats, lengths, labels = [], [], []
        for shard in info["shards"]:
            flat, length, label = _read_shard(directory / shard, directory)
            if len(flat) and (flat.min() < 0 or flat.max() >= rows_of):
                raise ValueError(f"{directory / shard} holds ids up to {int(flat.max()):,}, but {PIPELINE_FILE} has "
                                 f"{rows_of:,} rows: the shard is from another preprocess run; preprocess again")
            flats.append(flat), lengths.append(length), labels.append(label)
        count = sum(map(len, lengths))
        if count != info["rows_written"]:
            raise ValueError(f"{directory}: split {split!r} has {count:,} rows in its shards, {REPORT_FILE} says "
                             f"{info['rows_written']:,}; the folder is damaged: preprocess again")
        flat = np.concatenate(flats) if flats else np.zeros(0, dtype=np.int64)
        label = np.concatenate(labels) if labels else np.zeros(0, dtype=np.int64)
        if len(label) and (label.min() < 0 or label.max() >= len(report["labels"])):
            raise ValueError(f"{directory}: split {split!r} holds label ids outside the {len(report['labels'])} "
                             f"classes of {REPORT_FILE}; the folder is damaged: preprocess again")
        splits[split] = (EncodedDataset.from_ragged(flat, np.concatenate(lengths) if lengths else label, label),
                         label)
    return report, pipeline, splits


def _read_shard(path: Path, directory: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(flat ids int64, lengths int64, labels int64)`` of one Parquet or Arrow shard."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.exists():
        raise FileNotFoundError(f"{path} is listed in {directory / REPORT_FILE} but does not exist; the folder is "
                                f"damaged: preprocess again")
    try:
        if path.suffix == ".arrow":
            with pa.memory_map(str(path)) as source:
                table = pa.ipc.open_stream(source).read_all().select(["ids", "label"])
        else:
            table = pq.read_table(path, columns=["ids", "label"])
    except (OSError, pa.ArrowException, KeyError) as exc:
        raise ValueError(f"{path}: cannot read the shard ({' '.join(str(exc).split())[:200]}); it is truncated or "
                         f"not a preprocess shard: preprocess again") from None
    ids = table.column("ids").combine_chunks()
    offsets = np.asarray(ids.offsets, dtype=np.int64)
    flat = np.asarray(ids.flatten(), dtype=np.int64)  # a no-op view for int64 ids
    return flat, np.diff(offsets), np.asarray(table.column("label").to_numpy(), dtype=np.int64)
