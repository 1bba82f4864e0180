"""Records read by ``textkit.formats`` -> ``datasets.Dataset`` splits: ``text`` and a ``ClassLabel``
``label`` (plus ``words``/``bboxes``/``page`` for pages), the last step of ``load_corpus``.

A file of a line or column format (a ``formats.Stream``) is written to an Arrow file by
``Dataset.from_generator``, a batch of rows at a time, and memory-mapped: a corpus far larger
than memory loads in bounded memory. The file is cached under ``cache_dir`` (default: the
``datasets`` cache, ``$HF_DATASETS_CACHE``), keyed by the file's path, size, modification time
and inode and by the read options, so a second load of an unchanged file reads no text, and an
edited file is read again. Folders, archives and pages are read whole (``formats.Rows``) and
become in-memory datasets.

Either way the raw label strings are written first; the class names come from them (or from
``label_names``), and the label column alone is replaced by class ids (a column of 8 bytes a
row, next to the memory-mapped texts, which are never read again here).
"""
from __future__ import annotations

import contextlib
import os
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence, Union

import numpy as np

from . import __version__
from .formats import CorpusError, Rows, Stream

if TYPE_CHECKING:
    from datasets import Dataset

LabelNames = Union[Sequence[str], Mapping[str, str]]
SPLITS = ("train", "valid", "test")


def natural_order(labels: set[str]) -> list[str]:
    """Class names sorted, numerically when all are integers ("10" after "9")."""
    try:
        return sorted(labels, key=int)
    except ValueError:
        return sorted(labels)


def to_datasets(parts: dict[str, Rows | Stream], label_names: LabelNames | None, fix: str, *,
                description: str, citation: str, cache_dir: str | os.PathLike | None) -> dict[str, Dataset]:
    """Each split's records -> a ``Dataset`` with class ids; ``fix`` ends an unknown-label error.

    ``label_names``: as ``load_corpus``'s (a mapping value of None drops that raw label's rows).
    """
    kinds = {split: "pages" if isinstance(rows, Rows) and rows.pages is not None else "texts"
             for split, rows in parts.items()}
    if len(set(kinds.values())) > 1:
        raise CorpusError(f"the splits mix pages and texts ({', '.join(f'{s}: {k}' for s, k in kinds.items())}); "
                          f"give every split in the same kind of files")
    from datasets import ClassLabel

    with _quiet():
        raw = {split: _raw_dataset(source, cache_dir) for split, source in parts.items()}
    found = {split: set(_unique(ds)) for split, ds in raw.items()}
    names, lookup, dropped = _classes(label_names, set().union(*found.values()))
    for split, labels in found.items():
        _check_known(parts[split], raw[split], labels - set(lookup) - dropped, names, fix)
    out = {}
    for split in SPLITS:
        if split not in raw:
            continue
        ids = _class_ids(raw[split].data.column("label"), lookup)
        ds = raw[split].remove_columns("label").add_column("label", ids, feature=ClassLabel(names=names))
        if dropped & found[split]:
            ds = ds.select(np.flatnonzero(ids >= 0))  # an index over the rows: nothing rewritten
        ds.info.description, ds.info.citation = description, citation
        out[split] = ds
    return out


def _raw_dataset(source: Rows | Stream, cache_dir: str | os.PathLike | None) -> Dataset:
    from datasets import Dataset

    if isinstance(source, Rows):
        data = {"text": source.texts, "label": source.labels}
        if source.pages is not None:  # LayoutLM's columns; text stays for text-only models
            data.update({"words": [list(p.words) for p in source.pages],
                         "bboxes": [p.bboxes() for p in source.pages],
                         "page": [p.number for p in source.pages]})
        return Dataset.from_dict(data, features=_raw_features(pages=source.pages is not None))
    from datasets.exceptions import DatasetGenerationError

    with contextlib.closing(source.records()) as records:  # datasets cannot build an empty split
        if next(records, None) is None:
            raise CorpusError(f"{source.source}: no records found; is it the right file and format ({source.format})?")
    stat = os.stat(source.path)
    signature = (os.path.realpath(source.path), stat.st_size, stat.st_mtime_ns, stat.st_ino, __version__)
    try:
        ds = Dataset.from_generator(_records, features=_raw_features(pages=False),
                                    cache_dir=None if cache_dir is None else os.fspath(cache_dir),
                                    gen_kwargs={"stream": source, "signature": signature})
    except DatasetGenerationError as e:  # the builder wraps what the reader raised
        cause = e.__cause__
        while cause is not None and not isinstance(cause, CorpusError):
            cause = cause.__cause__
        if cause is None:
            raise
        raise cause from None
    return ds


def _records(stream: Stream, signature: tuple) -> Iterator[dict]:
    """``signature`` is unused here: it is in the arguments so that ``datasets``' cache key changes
    when the file does."""
    for text, label, _ in stream.records():
        yield {"text": text, "label": label}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No "Generating train split" or "Map" bars: textkit's commands report progress their own way."""
    from datasets.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            enable_progress_bars()


def _unique(ds: Dataset) -> list[str]:
    return ds.data.column("label").unique().to_pylist()


def _classes(label_names: LabelNames | None, found: set[str]) -> tuple[list[str], dict[str, int], set[str]]:
    """-> class names, raw label -> class id, raw labels dropped on purpose."""
    if label_names is None:
        names = natural_order(found)
        return names, {n: i for i, n in enumerate(names)}, set()
    if isinstance(label_names, Mapping):
        dropped = {str(raw) for raw, name in label_names.items() if name is None}
        kept = {str(raw): name for raw, name in label_names.items() if name is not None}
        names = list(dict.fromkeys(kept.values()))  # several raw labels may share a class
        _check_names(names)
        return names, {raw: names.index(name) for raw, name in kept.items()}, dropped
    names = list(label_names)
    _check_names(names)
    if len(set(names)) != len(names):
        raise CorpusError(f"label_names must be distinct, got {names!r}")
    # a raw label is a class name, else a 0-based index into the names
    return names, {**{str(i): i for i in range(len(names))}, **{n: i for i, n in enumerate(names)}}, set()


def _check_names(names: list) -> None:
    if not names or not all(isinstance(n, str) and n for n in names):
        raise CorpusError(f"label_names must be non-empty strings, got {names!r}")


def _check_known(source: Rows | Stream, ds: Dataset, unknown: set[str], names: list[str], fix: str) -> None:
    """An unknown raw label: the error names its first row's file and line."""
    if not unknown:
        return
    import pyarrow.compute as pc

    column = ds.data.column("label")
    first = min(pc.index(column, label).as_py() for label in unknown)
    label = column[first].as_py()
    sep = "" if fix.startswith("(") else ";"
    raise CorpusError(f"{source.place(first)}: label {label!r} is not one of the classes {names}{sep} {fix}")


def _raw_features(pages: bool):
    """Columns as read: the raw label strings; ``to_datasets`` turns them into class ids."""
    from datasets import Features, Sequence, Value

    columns = {"text": Value("string")}
    if pages:
        columns.update({"words": Sequence(Value("string")), "bboxes": Sequence(Sequence(Value("int16"), length=4)),
                        "page": Value("int32")})
    return Features({**columns, "label": Value("string")})


def _class_ids(labels, lookup: dict[str, int]) -> np.ndarray:
    """Raw labels (an Arrow column) -> class ids ``(N,)`` int64, -1 for a label dropped on purpose.
    Reads the label column alone: a memory-mapped corpus's texts stay on disk."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = sorted(lookup)
    position = pc.fill_null(pc.index_in(labels, value_set=pa.array(keys, pa.string())), len(keys))
    ids = np.append(np.asarray([lookup[k] for k in keys], dtype=np.int64), -1)  # not a key (dropped) -> -1
    return ids[position.to_numpy()]
