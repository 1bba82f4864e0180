"""``textkit preprocess``'s inputs -> sources per split: what ``INPUT...`` names (a registered
corpus, or files as ``[SPLIT=]PATH``), each read through ``textkit.formats``: a line or column
file streamed by ``open_stream``, anything else through ``load_corpus``."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from .corpora import load_corpus
from .formats import (DOCUMENT_FORMATS, FORMATS, SPLIT_FOLDERS, STREAMED, CorpusError, ReadOptions, Record,
                      infer_format, open_stream)
from .registry import canonical_name, get_card

COLUMN_FORMATS = ("csv", "tsv", "jsonl", "parquet")
DEFAULT_BATCH_ROWS = 4096  # rows a source hands on at a time


@dataclass
class Source:
    """One input of one split; ``records()`` can be called once per pass."""

    split: str
    name: str
    format: str
    records: Callable[[], Iterator[Record]]
    label_names: Sequence[str] | None = None  # set when the source fixes the class order


_SPLIT_PREFIX = re.compile(r"^([A-Za-z]+)=(.+)$")


def resolve_inputs(inputs: Sequence[str], *, format: str | None = None, encoding: str | None = None,
                   errors: str | None = None, text_column=None, label_column=None,
                   header: bool | None = None, min_confidence: float | None = None,
                   page_size: tuple[float, float] | None = None, **limits: int | float | None) -> list[Source]:
    """``INPUT...`` -> sources per split.

    Each input is a registered corpus name (alone: it brings its own splits), or
    ``[SPLIT=]PATH``. Without ``SPLIT=`` a file's split is read from its name (a ``train``,
    ``dev``/``valid``/``validation``, or ``test`` part, as in ``stsa.binary.dev``), else
    ``train``; a folder or archive may hold its own ``train/``, ``test/``... folders.
    Several files of one split are read one after the other. The options are
    ``load_corpus``'s; ``encoding``/``errors`` default to utf-8/strict, or a corpus card's own;
    ``limits`` are ``max_record_chars``, ``max_member_bytes``, ``max_compression_ratio``.
    """
    options = ReadOptions(encoding=encoding or "utf-8", errors=errors or "strict", text_column=text_column,
                          label_column=label_column, header=header, min_confidence=min_confidence,
                          page_size=page_size, **{k: v for k, v in limits.items() if v is not None})
    if not inputs:
        raise CorpusError("no input given: pass a registered corpus name or one or more files")
    sources: list[Source] = []
    for item in inputs:
        item = os.fspath(item)
        split, path = _split_prefix(item)
        if split is None and _is_corpus_name(item):
            if len(inputs) > 1:
                raise CorpusError(f"{item!r} is a registered corpus with its own splits; give it alone, "
                                  f"not with other inputs")
            given = [name for name in ("text_column", "label_column", "header", "page_size")
                     if getattr(options, name) is not None]
            if format is not None or given:
                raise CorpusError(f"--format, --text-column, --label-column, --header and --page-size apply to "
                                  f"files, not to the registered corpus {item!r}, which knows its own format")
            return _corpus_sources(item, encoding, errors, options)
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: no such file or directory (working directory: {Path.cwd()})")
        fmt = format or infer_format(path)
        if fmt not in FORMATS and fmt not in DOCUMENT_FORMATS:  # pages: their text, in reading order
            raise CorpusError(f"format {fmt!r} is unknown; choose one of {', '.join([*FORMATS, *DOCUMENT_FORMATS])}")
        _check_format_options(path, fmt, options)
        if fmt in STREAMED:
            if path.is_dir():
                raise CorpusError(f"{path}: format {fmt!r} reads a file; for a directory of class folders "
                                  f"use --format folders")
            split = split or _split_from_name(path) or "train"
            sources.append(Source(split, str(path), fmt, _streamer(path, fmt, options)))
        else:
            sources.extend(_loaded_sources(path, fmt, split, options))
    return sources


def _split_prefix(item: str) -> tuple[str | None, str]:
    match = _SPLIT_PREFIX.match(item)
    if not match:
        return None, item
    name = match.group(1).lower()
    split = SPLIT_FOLDERS.get(name)
    if split is None:
        if Path(item).exists():
            return None, item  # a file whose name happens to contain '='
        raise CorpusError(f"{item!r}: unknown split {match.group(1)!r}; use train=, valid= (or dev=) or test=")
    return split, match.group(2)


def _is_corpus_name(item: str) -> bool:
    if canonical_name(item) is not None:
        return True
    if Path(item).exists() or any(c in item for c in "/.\\"):
        return False
    get_card(item)  # a bare word that is no file: a mistyped name; raises with close names
    return True


def _split_from_name(path: Path) -> str | None:
    found = {SPLIT_FOLDERS[part] for part in re.split(r"[-_.]", path.name.lower()) if part in SPLIT_FOLDERS}
    return found.pop() if len(found) == 1 else None


def _check_format_options(path: Path, fmt: str, options: ReadOptions) -> None:
    for name in ("min_confidence", "page_size"):
        if getattr(options, name) is not None and fmt in STREAMED:
            raise CorpusError(f"--{name.replace('_', '-')} applies to OCR'd pages, not to format {fmt!r} ({path})")
    for name in ("text_column", "label_column", "header"):
        allowed = COLUMN_FORMATS if name != "header" else ("csv", "tsv")
        if getattr(options, name) is not None and fmt not in allowed:
            raise CorpusError(f"--{name.replace('_', '-')} does not apply to format {fmt!r} ({path}); "
                              f"it is for {', '.join(allowed)}")


def _corpus_sources(name: str, encoding: str | None, errors: str | None, options: ReadOptions) -> list[Source]:
    corpus = load_corpus(name, encoding=encoding, errors=errors, min_confidence=options.min_confidence,
                         **_limits(options), valid_fraction=0)  # the published splits
    return [_dataset_source(split, f"{get_card(name).name}[{split}]", "corpus", ds) for split, ds in corpus.items()]


def _limits(options: ReadOptions) -> dict:
    return {name: getattr(options, name) for name in ("max_record_chars", "max_member_bytes", "max_compression_ratio")}


def _loaded_sources(path: Path, fmt: str, split: str | None, options: ReadOptions) -> list[Source]:
    """Folders, archives, PTB trees: read whole by ``load_corpus`` (not streamed)."""
    kwargs = {"format": fmt, "encoding": options.encoding, "errors": options.errors, "valid_fraction": 0,
              "min_confidence": options.min_confidence, "page_size": options.page_size, **_limits(options)}
    if split is not None:
        corpus = load_corpus({split: path}, **kwargs)
    else:
        corpus = load_corpus(path, **kwargs)
        if len(corpus) == 1 and "train" in corpus:
            guessed = _split_from_name(path) if not path.is_dir() else None
            if guessed and guessed != "train":
                corpus = {guessed: corpus["train"]}
    return [_dataset_source(s, f"{path}[{s}]" if len(corpus) > 1 else str(path), fmt, ds)
            for s, ds in corpus.items()]


def _dataset_source(split: str, name: str, fmt: str, dataset) -> Source:
    names = list(dataset.features["label"].names)

    def records() -> Iterator[Record]:
        row = 0
        for batch in dataset.iter(batch_size=DEFAULT_BATCH_ROWS):
            for text, label in zip(batch["text"], batch["label"]):
                row += 1
                yield text, names[label], f"{name}, row {row}"

    return Source(split, name, fmt, records, label_names=names)


def _streamer(path: Path, fmt: str, options: ReadOptions) -> Callable[[], Iterator[Record]]:
    """The reader ``load_corpus`` uses for this format, each record's place spelled out."""
    stream = open_stream(path, fmt, options)

    def records() -> Iterator[Record]:
        for text, label, where in stream.records():
            yield text, label, f"{stream.source}, {stream.unit} {where}"

    return records
