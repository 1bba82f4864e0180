"""Any corpus -> cleaned, tokenized, indexed shards: the engine behind ``textkit preprocess``.

::

    report = preprocess(["train=reviews.csv", "test=held_out.csv"], "out/reviews",
                        pipeline={"max_length": 256, "min_freq": 2})

Output (``out``)::

    pipeline.json                        the fitted TextPipeline (``TextPipeline.load``)
    report.json                          counts per split, vocabulary, rejected rows, options
    rejected.jsonl                       every rejected row: split, source, place, reason, text
    .textkit-output.json                 what textkit wrote here (see "Atomic output" below)
    data/<split>-00000-of-00002.parquet  columns text (string), label (ClassLabel as int64),
                                         ids (list<int64>), length (int64)

The shards carry ``datasets`` feature metadata, so ``datasets.load_dataset("parquet",
data_dir=out)`` (or ``Dataset.from_file`` for ``output_format="arrow"``, Arrow stream files)
gives back the ``ClassLabel`` names.

Order of work, in two passes over the inputs:

1. pass 1: read every split (checking every record, collecting the label set); clean and
   tokenize the *train* split in worker processes and merge the token counts into one
   ``Counter`` -> the vocabulary (train only: no dev/test leakage);
2. pass 2: read every split again, clean + tokenize + index in worker processes, cut to
   ``max_length``, reject empty rows (rule below), write shards one file at a time;
3. write ``pipeline.json`` and ``report.json``, then rename the temporary directory.

**Rejected rows.** A row whose text has no token after cleaning and tokenizing (an empty
cell, only markup, only control characters) cannot teach or test a model: it is rejected,
i.e. left out of the shards but written to ``rejected.jsonl`` and counted in
``report.json``, never dropped silently. ``keep_empty=True`` keeps such rows instead
(``ids == []``, ``length == 0``). A record the reader cannot read at all (no label, an empty
label, a bad column) is not a rejected row but an error that stops the run.

**Memory.** Line and column formats (label-text, fasttext, PTB trees, csv, tsv, jsonl,
parquet) are streamed by the readers ``load_corpus`` uses (``textkit.formats.open_stream``), in
batches of ``batch_rows`` rows, with at most ``2 * num_proc`` batches in flight, and shards are
written and closed one at a time, so memory does not grow with the input's row count. What
does grow: the token counter of pass 1 (one entry per distinct train token, n-grams included)
and the vocabulary. A registered corpus is read through ``load_corpus`` (memory-mapped Arrow);
folders and archives are read whole (each member bounded by ``max_member_bytes``).

**Atomic output.** The output folder is built aside and renamed when complete, marked as
textkit's, and replaced by ``overwrite=True`` only when it holds nothing else (see
:mod:`textkit.outputs`).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import time
from collections import Counter, deque
from itertools import chain, islice
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from . import __version__
from .analyzer import resolve_num_proc, signals_held, stop_pool, worker_signals
from .arrow_corpus import SPLITS, natural_order
from .fileio import read_versioned_json
from .formats import CorpusError, Record
from .outputs import atomic_directory, check_output_directory
from .pipeline import TextPipeline
from .sources import DEFAULT_BATCH_ROWS, Source, resolve_inputs
from .vocabulary import UNK_ID, Vocab

FORMAT = "textkit.preprocessed"
FORMAT_VERSION = 1
PIPELINE_FILE = "pipeline.json"
REPORT_FILE = "report.json"
REJECTED_FILE = "rejected.jsonl"
DATA_DIR = "data"
OUTPUT_FORMATS = {"parquet": ".parquet", "arrow": ".arrow"}
DEFAULT_SHARD_SIZE = 100_000
REASON_EMPTY = "empty: no tokens after cleaning and tokenizing"
EXAMPLES_IN_REPORT = 20


# ---------------------------------------------------------------- worker processes

_WORKER_PIPELINE: TextPipeline | None = None


def _init_worker(pipeline: TextPipeline) -> None:
    global _WORKER_PIPELINE
    _WORKER_PIPELINE = pipeline


def _init_pool_worker(pipeline: TextPipeline) -> None:
    worker_signals()  # the parent handles Ctrl-C (see textkit.analyzer)
    _init_worker(pipeline)


def _count_tokens(texts: list[str]) -> tuple[list[str], np.ndarray]:
    """Pass 1 in a worker: one batch's distinct tokens and their counts."""
    chunk = _WORKER_PIPELINE.analyzer.chunk(texts)
    return chunk.tokens, chunk.counts


def _encode(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Pass 2 in a worker: one batch's ids back to back, and each row's (uncut) length."""
    rows = _WORKER_PIPELINE.encode(texts)
    lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    flat = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


class _Workers:
    """``imap`` over batches with at most ``depth`` batches in flight, results in input order.

    ``multiprocessing.Pool.imap`` would pull the whole input iterator ahead of the workers
    (unbounded memory on a large file); here a batch is read only when one is done. A pool is
    started only when there is more than one batch: tiny inputs stay in this process.
    """

    def __init__(self, pipeline: TextPipeline, num_proc: int) -> None:
        self.pipeline, self.num_proc, self.pool = pipeline, num_proc, None

    def map(self, fn: Callable, batches: Iterator[list]) -> Iterator[tuple[list, Any]]:
        batches = iter(batches)
        head = list(islice(batches, 2))
        if self.num_proc == 1 or len(head) < 2:
            _init_worker(self.pipeline)
            for batch in chain(head, batches):
                yield batch, fn([r[0] for r in batch])
            return
        if self.pool is None:
            # fork hands the pipeline to the workers for free (spawn pickles it once per worker);
            # workers never touch torch
            methods = multiprocessing.get_all_start_methods()
            ctx = multiprocessing.get_context("fork" if "fork" in methods else None)
            with signals_held():  # until each worker has its own handlers (see textkit.analyzer)
                self.pool = ctx.Pool(self.num_proc, initializer=_init_pool_worker, initargs=(self.pipeline,))
        pending: deque = deque()
        for batch in chain(head, batches):
            pending.append((batch, self.pool.apply_async(fn, ([r[0] for r in batch],))))
            if len(pending) >= 2 * self.num_proc:
                batch, result = pending.popleft()
                yield batch, result.get()
        while pending:
            batch, result = pending.popleft()
            yield batch, result.get()

    def close(self) -> None:
        if self.pool is not None:
            pool, self.pool = self.pool, None
            stop_pool(pool)


def _batches(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    records = iter(records)
    while True:
        batch = list(islice(records, size))
        if not batch:
            return
        yield batch


# ---------------------------------------------------------------- shards

class _ShardWriter:
    """Rows of one split -> ``data/<split>-NNNNN-of-MMMMM.<ext>``, one open file at a time."""

    def __init__(self, directory: Path, split: str, schema, shard_size: int, output_format: str) -> None:
        self.directory, self.split, self.schema = directory, split, schema
        self.shard_size, self.output_format = shard_size, output_format
        self.paths: list[Path] = []
        self.writer = None
        self.sink = None
        self.rows_in_shard = 0

    def _open(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = self.directory / f"{self.split}-{len(self.paths):05d}{OUTPUT_FORMATS[self.output_format]}"
        self.paths.append(path)
        if self.output_format == "parquet":
            self.writer = pq.ParquetWriter(path, self.schema)
        else:  # Arrow IPC stream: what datasets' Dataset.from_file memory-maps
            self.sink = pa.OSFile(str(path), "wb")
            self.writer = pa.ipc.new_stream(self.sink, self.schema)
        self.rows_in_shard = 0

    def _close_shard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            if self.sink is not None:
                self.sink.close()
            self.writer = self.sink = None

    def write(self, table) -> None:
        start = 0
        while start < table.num_rows:
            if self.writer is None or self.rows_in_shard >= self.shard_size:
                self._close_shard()
                self._open()
            take = min(self.shard_size - self.rows_in_shard, table.num_rows - start)
            self.writer.write_table(table.slice(start, take))
            self.rows_in_shard += take
            start += take

    def close(self) -> list[str]:
        """Close the last shard (an empty split still gets one empty shard); final names."""
        if not self.paths:
            self._open()
            self.writer.write_table(self.schema.empty_table())
        self._close_shard()
        names = []
        for i, path in enumerate(self.paths):
            final = path.with_name(f"{self.split}-{i:05d}-of-{len(self.paths):05d}{path.suffix}")
            os.replace(path, final)
            names.append(f"{DATA_DIR}/{final.name}")
        return names


def _features(label_names: Sequence[str]):
    import datasets

    sequence = getattr(datasets, "List", None) or datasets.Sequence  # datasets >= 4 names it List
    return datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=list(label_names)),
                              "ids": sequence(datasets.Value("int64")), "length": datasets.Value("int64")})


def _table(schema, texts: list[str], labels: np.ndarray, flat: np.ndarray, lengths: np.ndarray):
    import pyarrow as pa

    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    # int32 offsets: a batch holds far fewer than 2**31 ids
    ids = pa.ListArray.from_arrays(pa.array(offsets.astype(np.int32)), pa.array(flat, type=pa.int64()))
    return pa.Table.from_arrays([pa.array(texts, type=pa.string()), pa.array(labels, type=pa.int64()), ids,
                                 pa.array(lengths, type=pa.int64())], schema=schema)


# ---------------------------------------------------------------- the run

def _cut(flat: np.ndarray, lengths: np.ndarray, max_length: int | None, truncation: str):
    """Apply ``max_length`` to every row of a ragged batch; returns new (flat, lengths)."""
    if max_length is None or not len(lengths) or lengths.max() <= max_length:
        return flat, lengths
    rows = np.split(flat, np.cumsum(lengths)[:-1])
    rows = [r[-max_length:] if truncation == "pre" else r[:max_length] for r in rows]
    new_lengths = np.minimum(lengths, max_length)
    return (np.concatenate(rows) if rows else flat), new_lengths


def _progress(desc: str, enabled: bool | None):
    from .progress import progress

    return progress(f"preprocess {desc}", unit=" rows", enabled=enabled)  # a bar, or log lines


def preprocess(
    inputs: Sequence[str],
    out: str | os.PathLike,
    *,
    format: str | None = None,
    text_column=None,
    label_column=None,
    header: bool | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    min_confidence: float | None = None,
    page_size: tuple[float, float] | None = None,
    max_record_chars: int | None = None,
    max_member_bytes: int | None = None,
    max_compression_ratio: float | None = None,
    pipeline: TextPipeline | dict | None = None,
    keep_empty: bool = False,
    shard_size: int = DEFAULT_SHARD_SIZE,
    output_format: str = "parquet",
    num_proc: int | None = None,
    overwrite: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: bool | None = None,
) -> dict:
    """Preprocess ``inputs`` into ``out`` (see the module doc); returns the report.

    Args:
        inputs: a registered corpus name, or files as ``[SPLIT=]PATH`` (see :func:`resolve_inputs`).
        format, text_column, label_column, header, encoding, errors, min_confidence, page_size,
        max_record_chars, max_member_bytes, max_compression_ratio: as
            ``load_corpus`` (a corpus of OCR'd pages is preprocessed as its text, in reading order).
        pipeline: an unfitted ``TextPipeline`` or a dict of its options; fitted here on train.
        keep_empty: keep rows with no tokens (``length == 0``) instead of rejecting them.
        shard_size: rows per output file. output_format: ``"parquet"`` or ``"arrow"``.
        num_proc: worker processes (``None``: every available core).
        overwrite: replace an existing ``out`` (only textkit output; see :func:`atomic_directory`).
        batch_rows: rows read, analyzed and written at a time (bounds memory).
    """
    started = time.perf_counter()
    for name, value in (("shard_size", shard_size), ("batch_rows", batch_rows)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {list(OUTPUT_FORMATS)}, got {output_format!r}")
    workers_n = resolve_num_proc(num_proc)
    if pipeline is None or isinstance(pipeline, dict):
        pipeline = TextPipeline(**{**(pipeline or {}), "num_proc": 1})
    elif not isinstance(pipeline, TextPipeline):
        raise TypeError(f"pipeline must be a TextPipeline, a dict of its options or None, "
                        f"got {type(pipeline).__name__}")
    else:
        pipeline.num_proc = 1  # parallelism is ours: one batch per worker
    pipeline.to_dict()  # refuses a custom tokenizer now, before any work
    out = Path(out)
    check_output_directory(out, overwrite=overwrite, kind="preprocess")  # before reading gigabytes
    sources = resolve_inputs(inputs, format=format, encoding=encoding, errors=errors, text_column=text_column,
                             label_column=label_column, header=header, min_confidence=min_confidence,
                             page_size=page_size, max_record_chars=max_record_chars,
                             max_member_bytes=max_member_bytes, max_compression_ratio=max_compression_ratio)
    by_split = {s: [src for src in sources if src.split == s] for s in SPLITS}
    by_split = {s: srcs for s, srcs in by_split.items() if srcs}
    if "train" not in by_split:
        raise CorpusError(f"no train split among the inputs (found {', '.join(by_split)}); the vocabulary is fit "
                          f"on train only: name one input train=PATH")

    with atomic_directory(out, overwrite=overwrite, kind="preprocess") as tmp:
        workers = _Workers(pipeline, workers_n)
        try:
            label_names, train_rows = _fit(pipeline, by_split, workers, batch_rows, progress)
            workers.close()  # pass 2 needs workers that hold the fitted vocabulary
            features = _features(label_names)
            schema = features.arrow_schema
            (tmp / DATA_DIR).mkdir()
            label_ids = {name: i for i, name in enumerate(label_names)}
            rejected = _Rejected(tmp / REJECTED_FILE)
            splits = {}
            try:
                for split, split_sources in by_split.items():
                    splits[split] = _write_split(split, split_sources, pipeline, workers, schema, label_ids,
                                                 tmp / DATA_DIR, shard_size, output_format, batch_rows,
                                                 keep_empty, rejected, progress)
            finally:
                rejected.close()
        finally:
            workers.close()
        pipeline.save(tmp / PIPELINE_FILE)
        report = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "textkit_version": __version__,
            "inputs": {s: [src.name for src in srcs] for s, srcs in by_split.items()},
            "input_formats": sorted({src.format for src in sources}),
            "labels": list(label_names),
            "vocab_size": len(pipeline.vocab),
            "num_embeddings": pipeline.num_embeddings,
            "vocab_fit_on": f"train ({train_rows} rows)",
            "tokens": int(sum(s["tokens"] for s in splits.values())),
            "splits": splits,
            "rejected": rejected.summary(),
            "rules": {
                "empty": ("rows with no tokens after cleaning and tokenizing are "
                          + ("kept with length 0 (keep_empty)" if keep_empty
                             else f"rejected: listed in {REJECTED_FILE}")),
                "max_length": (f"ids cut to {pipeline.max_length} ({pipeline.truncation}-truncation); "
                               f"'length' is the stored length") if pipeline.max_length else "no limit",
                "labels": "ClassLabel ids into 'labels'",
            },
            "pipeline": PIPELINE_FILE,
            "output_format": output_format,
            "shard_size": shard_size,
            "num_proc": workers_n,
            "seconds": round(time.perf_counter() - started, 3),
        }
        _write_json(tmp / REPORT_FILE, report)
    return report


def _fit(pipeline: TextPipeline, by_split: dict[str, list[Source]], workers: _Workers, batch_rows: int,
         progress: bool | None) -> tuple[list[str], int]:
    """Pass 1: the label set of every split, and the vocabulary from train's token counts."""
    labels: set[str] = set()
    counts: Counter = Counter()
    train_rows = 0
    for split, sources in by_split.items():
        with _progress(f"pass 1/2 {split}", progress) as bar:
            for source in sources:
                batches = _batches(source.records(), batch_rows)
                read = 0
                if split != "train":  # read (and check) every record for its label only
                    for batch in batches:
                        labels.update(r[1] for r in batch)
                        read += len(batch)
                        bar.update(len(batch))
                else:
                    for batch, (tokens, token_counts) in workers.map(_count_tokens, batches):
                        labels.update(r[1] for r in batch)
                        counts.update(dict(zip(tokens, token_counts.tolist())))
                        read += len(batch)
                        bar.update(len(batch))
                    train_rows += read
                if not read:  # as load_corpus says of an empty file
                    raise CorpusError(f"{source.name}: no records found; is it the right file and format "
                                      f"({source.format})?")
    if not counts:
        raise CorpusError(f"every one of the {train_rows} train rows has no token after cleaning and tokenizing; "
                          f"check the text column and the cleaner options")
    if pipeline.ngram_buckets:  # hashed n-grams never enter the vocabulary (as TextPipeline.fit)
        counts = Counter({tok: n for tok, n in counts.items() if " " not in tok})
    pipeline.vocab = Vocab.from_counts(counts, min_freq=pipeline.min_freq, max_size=pipeline.max_vocab_size)
    fixed = [src.label_names for srcs in by_split.values() for src in srcs if src.label_names is not None]
    if fixed and all(list(f) == list(fixed[0]) for f in fixed) and labels <= set(fixed[0]):
        return list(fixed[0]), train_rows  # a registered corpus: its documented class order
    return natural_order(labels), train_rows


def _write_split(split: str, sources: list[Source], pipeline: TextPipeline, workers: _Workers, schema,
                 label_ids: dict[str, int], directory: Path, shard_size: int, output_format: str,
                 batch_rows: int, keep_empty: bool, rejected: "_Rejected", progress: bool | None) -> dict:
    """Pass 2 for one split: encode, cut, reject, write; returns the split's counts."""
    writer = _ShardWriter(directory, split, schema, shard_size, output_format)
    stats = Counter()
    label_counts = np.zeros(len(label_ids), dtype=np.int64)
    with _progress(f"pass 2/2 {split}", progress) as bar:
        for source in sources:
            for batch, (flat, lengths) in workers.map(_encode, _batches(source.records(), batch_rows)):
                keep = np.ones(len(batch), dtype=bool) if keep_empty else lengths > 0
                for i in np.flatnonzero(lengths == 0):
                    stats["empty"] += 1
                    if not keep_empty:
                        rejected.add(split, batch[i], REASON_EMPTY)
                stats["rows_read"] += len(batch)
                stats["truncated_rows"] += int((lengths > (pipeline.max_length or np.inf)).sum())
                flat, lengths = _cut(flat, lengths, pipeline.max_length, pipeline.truncation)
                if not keep.all():
                    rows = np.split(flat, np.cumsum(lengths)[:-1]) if len(lengths) else []
                    flat = np.concatenate([rows[i] for i in np.flatnonzero(keep)] or [flat[:0]])
                    lengths = lengths[keep]
                texts = [r[0] for r, k in zip(batch, keep) if k]
                labels = np.fromiter((label_ids[r[1]] for r, k in zip(batch, keep) if k), dtype=np.int64)
                label_counts += np.bincount(labels, minlength=len(label_ids))
                stats["rows_written"] += len(texts)
                stats["tokens"] += int(lengths.sum())
                stats["unk_tokens"] += int((flat == UNK_ID).sum())
                writer.write(_table(schema, texts, labels, flat, lengths))
                bar.update(len(batch))
    names = list(label_ids)
    return {
        "sources": [s.name for s in sources],
        "rows_read": stats["rows_read"],
        "rows_written": stats["rows_written"],
        "rows_rejected": stats["rows_read"] - stats["rows_written"],
        "empty_rows": stats["empty"],
        "truncated_rows": stats["truncated_rows"],
        "tokens": stats["tokens"],
        "unk_tokens": stats["unk_tokens"],
        "label_counts": {names[i]: int(n) for i, n in enumerate(label_counts)},
        "shards": writer.close(),
    }


class _Rejected:
    """Every rejected row to ``rejected.jsonl`` as it happens; counts and a few examples kept."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.file = open(path, "w", encoding="utf-8", errors="backslashreplace")  # lone surrogates
        self.by_reason: Counter = Counter()
        self.by_split: Counter = Counter()
        self.examples: list[dict] = []

    def add(self, split: str, record: Record, reason: str) -> None:
        text, label, where = record
        entry = {"split": split, "where": where, "label": label, "reason": reason, "text": text}
        self.file.write(json.dumps(entry, ensure_ascii=False) + "\n")
        self.by_reason[reason] += 1
        self.by_split[split] += 1
        if len(self.examples) < EXAMPLES_IN_REPORT:
            self.examples.append({**entry, "text": text[:200]})

    def close(self) -> None:
        self.file.close()

    def summary(self) -> dict:
        return {"count": sum(self.by_reason.values()), "by_reason": dict(self.by_reason),
                "by_split": dict(self.by_split), "file": REJECTED_FILE, "examples": self.examples}


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8", errors="backslashreplace")


# ---------------------------------------------------------------- reading it back

def load_preprocessed(directory: str | os.PathLike) -> tuple[dict, TextPipeline, dict[str, tuple[list, list]]]:
    """A ``preprocess`` output -> ``(report, pipeline, {split: (texts, label names)})``.

    Reads the shards' ``text`` and ``label`` columns (whole: training needs them in memory).
    """
    import pyarrow.parquet as pq
    import pyarrow as pa

    directory = Path(directory)
    report, _ = read_versioned_json(
        directory / REPORT_FILE, name="preprocess report", format=FORMAT, version=FORMAT_VERSION,
        missing_hint=f": {str(directory)!r} is not a `textkit preprocess` output")
    pipeline = TextPipeline.load(directory / PIPELINE_FILE)
    names = report["labels"]
    splits = {}
    for split, info in report["splits"].items():
        texts: list[str] = []
        labels: list[str] = []
        for shard in info["shards"]:
            path = directory / shard
            if not path.exists():
                raise FileNotFoundError(f"{path} is listed in {directory / REPORT_FILE} but does not exist; "
                                        f"the directory is damaged")
            if path.suffix == ".arrow":
                with pa.memory_map(str(path)) as source:
                    table = pa.ipc.open_stream(source).read_all().select(["text", "label"])
            else:
                table = pq.read_table(path, columns=["text", "label"])
            texts.extend(table.column("text").to_pylist())
            labels.extend(names[i] for i in table.column("label").to_pylist())
        splits[split] = (texts, labels)
    return report, pipeline, splits
