"""Files -> rows: every on-disk layout ``load_corpus`` reads, and nothing else.

Modules: ``base`` (options, limits, rows, bytes -> lines), ``lines`` (label-text, fastText, PTB
trees), ``columns`` (csv, tsv, JSON lines, Parquet), ``containers`` (folders, tar and zip
archives, page files inside them); this one tells a file's format and dispatches (``read``,
``check``).

A reader turns one source (a file, a folder, an archive) into ``Rows``: parallel lists of
texts, raw label strings and *where* each record came from, so that a later error (an
unknown label, say) can still name the file and line. Readers never drop a record: one they
cannot read raises ``CorpusError`` naming the file, the line (or archive member) and the fix.

Formats (``format=``; inferred from the file name where that is unambiguous):

==========  ==============================================  =============================
name        one record is                                   inferred from
==========  ==============================================  =============================
label-text  a line ``<label> <text>``                       ``.all``/``.txt`` (default)
fasttext    a line ``__label__<label> <text>``              ``.all``/``.txt`` starting so
csv / tsv   a row; columns by header name or 0-based index  ``.csv`` / ``.tsv``
jsonl       a line holding one JSON object                  ``.jsonl`` / ``.ndjson``
parquet     a row of a Parquet table                        ``.parquet`` / ``.pq``
ptb-trees   a line ``(3 (2 The) (2 Rock))``: root label,    never (SST's ``*.txt``)
            leaf words joined with a space
ptb-phrases every distinct labelled phrase (node) of such   never
            trees, first occurrence; Kim 2014's SST training
folders     a file ``[<split>/]<class>/<doc>``              a directory
tar / zip   the same layout inside an archive, streamed     ``.tar.gz .tgz .tar .zip``
==========  ==============================================  =============================

OCR'd pages (``ocr-tsv``, ``hocr``, ``alto``, ``funsd``, ``layout-text``: see ``documents.py``)
come in the ``folders``/``tar``/``zip`` layouts, a page file per document: ``format="ocr-tsv"``
with a folder or an archive reads its members as Tesseract TSV, and without ``format`` a
member's name and first bytes tell (``.tsv`` with Tesseract's header, ``.hocr``, ALTO ``.xml``,
FUNSD ``.json``). Each page is a record, ``Rows.pages`` holds it, and its text is its words
in reading order; a page file alone has no label to read.

Lines end with ``\\n`` or ``\\r\\n`` (they may mix: both end with ``\\n``), or with ``\\r`` alone
(classic Mac), and never with anything else: ``str.splitlines`` would also split on U+0085,
which is what byte 0x85 ("...") becomes when cp1252-ish corpora such as MR or Subj are read as
latin-1. A line format's file holds one convention: a bare ``\\r`` in a file whose lines end
with ``\\n`` (or the reverse) is refused, naming the line, since it may be a line break (two
records) or a stray byte inside one, and either guess merges or splits records silently. csv and
tsv follow the csv module: ``\\r``, ``\\n`` and ``\\r\\n`` all end a row outside quotes. Blank
lines at the end of a file are a terminator; a blank line anywhere else is an error, not a
record to skip.

Text files are read and decoded a chunk at a time, never whole, and ``ReadOptions`` limits
what one record or archive member may hold (``DEFAULT_MAX_*`` below): a damaged or hostile
file (a lost line break, an unclosed quote, a zip bomb) is refused with one line before it
fills memory. Links are refused in folders as in archives: a corpus is the plain files inside it.
"""
from __future__ import annotations

import codecs
import contextlib
import os
import re
from pathlib import Path
from typing import Callable, Iterator

from .base import (
    DEFAULT_MAX_COMPRESSION_RATIO,
    DEFAULT_MAX_MEMBER_BYTES,
    DEFAULT_MAX_RECORD_CHARS,
    FASTTEXT_PREFIX,
    SPLIT_FOLDERS,
    Column,
    _FORMAT_OPTIONS,
    _HEAD_BYTES,
    _SUFFIXES,
    _TAR_SUFFIXES,
    CorpusError,
    ReadOptions,
    Record,
    Rows,
    Stream,
    _refuse_page_options,
    check_record_size,
    decode,
    record_lines,
    text_lines,
)
from .columns import (
    delimited_records,
    join_texts,
    named_columns,
    parse_jsonl_line,
    stream_csv,
    stream_jsonl,
    stream_parquet,
    stream_tsv,
)
from .containers import (
    read_folders,
    read_tar,
    read_zip,
)
from .lines import (
    stream_fasttext,
    stream_label_text,
    stream_ptb_phrases,
    stream_ptb_trees,
)

# the API the rest of textkit (corpora, preprocess, documents) reads files through
__all__ = ["CONTAINERS", "DEFAULT_MAX_COMPRESSION_RATIO", "DEFAULT_MAX_MEMBER_BYTES", "DEFAULT_MAX_RECORD_CHARS",
           "DOCUMENT_FORMATS", "FASTTEXT_PREFIX", "FORMATS", "SPLIT_FOLDERS", "STREAMED", "Column", "CorpusError",
           "ReadOptions", "Record", "Rows", "Stream", "check", "check_record_size", "decode", "infer_format",
           "join_texts", "open_stream", "read", "sources", "record_lines", "text_lines"]


def infer_format(path: Path) -> str:
    """The format a file's name (or, for ``.all``/``.txt``, its first line) implies."""
    if path.is_dir():
        return "folders"
    name = path.name.lower()
    if name.endswith(_TAR_SUFFIXES):
        return "tar"
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise CorpusError(f"{path}: cannot tell the format from the name; pass format= one of "
                          f"{', '.join(FORMATS)}")
    if fmt == "label-text":
        # `.all`/`.txt` is label-text unless the file says otherwise; only fastText marks labels
        with open(path, "rb") as fh:  # a bounded look: a first line may be gigabytes long
            first = fh.readline(_HEAD_BYTES).removeprefix(codecs.BOM_UTF8).lstrip()
        if first.startswith(FASTTEXT_PREFIX.encode()):
            return "fasttext"
        if re.match(rb"\(\d+ ", first):  # read as label-text, '(3' would become a label
            raise CorpusError(f"{path}: line 1 is a labelled tree like '(3 (2 The) (2 Rock))', not "
                              "'<label> <text>'; pass format='ptb-trees' (one record per tree) or "
                              "format='ptb-phrases' (every labelled phrase)")
    return fmt


def open_stream(path: str | os.PathLike, format: str | None, options: ReadOptions) -> Stream:
    """One file of a line or column format (``STREAMED``), checked and ready to read record by
    record; the reader ``load_corpus`` and ``preprocess`` share."""
    path = Path(path)
    fmt = _checked_format(path, format, options)
    if fmt not in STREAMED:
        raise CorpusError(f"{path}: format {fmt!r} is read whole (folders and archives), not streamed")
    unit, reader = STREAMED[fmt]
    return Stream(path, fmt, unit, reader, options)


def sources(path: str | os.PathLike, format: str | None, options: ReadOptions) -> list[Rows | Stream]:
    """A file of a line or column format as a ``Stream`` (nothing read yet); a folder, an archive
    or pages read whole, as ``Rows`` (a folder or archive may hold several splits)."""
    path = Path(path)
    if format not in DOCUMENT_FORMATS and _checked_format(path, format, options) in STREAMED:
        return [open_stream(path, format, options)]
    return read(path, format, options)


def read(path: str | os.PathLike, format: str | None, options: ReadOptions) -> list[Rows]:
    """Read one file, folder or archive whole; a folder or archive may hold several splits."""
    path = Path(path)
    if format in DOCUMENT_FORMATS:
        _exists(path)
        return _read_pages(path, format, options)
    fmt = _checked_format(path, format, options)
    found = [Rows.collect(open_stream(path, fmt, options))] if fmt in STREAMED else CONTAINERS[fmt](path, options)
    if not all(rows.texts for rows in found):
        raise CorpusError(f"{path}: no records found; is it the right file and format ({fmt})?")
    return found


def check(path: str | os.PathLike, format: str | None, options: ReadOptions) -> None:
    """What :func:`read` would refuse before its first record is read whole: a missing file, an
    unknown format, options that do not apply, missing columns (from the first record). Cheap
    whatever the file's size, so that a command says so before it imports or loads anything."""
    path = Path(path)
    if format in DOCUMENT_FORMATS:
        _exists(path)
        return
    fmt = _checked_format(path, format, options)
    if fmt in ("csv", "tsv"):
        with contextlib.closing(delimited_records(path, options, "," if fmt == "csv" else "\t")) as rows:
            next(rows, None)
    elif fmt == "jsonl":
        label_col, text_cols = named_columns(path, options)
        with contextlib.closing(record_lines(path, options)) as lines:
            for number, line in lines:
                parse_jsonl_line(line, f"{path}, line {number}", label_col, text_cols)
                break


def _exists(path: Path) -> None:
    if not path.exists():
        raise CorpusError(f"{path}: no such file or directory (working directory: {Path.cwd()})")


def _checked_format(path: Path, format: str | None, options: ReadOptions) -> str:
    """The format ``path`` is read as, once the file and the options are known to fit it."""
    _exists(path)
    fmt = format or infer_format(path)
    if fmt not in FORMATS:
        raise CorpusError(f"format={fmt!r} is unknown; choose one of {', '.join([*FORMATS, *DOCUMENT_FORMATS])}")
    if fmt not in CONTAINERS:
        _refuse_page_options(path, options, f"format {fmt!r}")
    allowed = _FORMAT_OPTIONS.get(fmt, ())
    for name in ("text_column", "label_column", "header"):
        if getattr(options, name) is not None and name not in allowed:
            where = f"formats {', '.join(_FORMAT_OPTIONS)}" if name != "header" else "csv/tsv"
            raise CorpusError(f"{name}= does not apply to format {fmt!r} ({path}); it is for {where}")
    if path.is_dir() and fmt != "folders":
        raise CorpusError(f"{path}: format {fmt!r} reads a file; for a directory of class folders "
                          "use format='folders'")
    if fmt == "folders" and not path.is_dir():
        raise CorpusError(f"{path}: format 'folders' reads a directory; pass the folder")
    return fmt


# ---------------------------------------------------------------- pages (documents.py)

DOCUMENT_FORMATS = ("ocr-tsv", "hocr", "alto", "funsd", "layout-text")


def _read_pages(path: Path, document: str, options: ReadOptions) -> list[Rows]:
    """``format=<a page format>`` with a folder or an archive: its members are page files."""
    container = "folders" if path.is_dir() else infer_format(path) if path.name.lower().endswith(
        (*_TAR_SUFFIXES, ".tgz", ".tar", ".zip")) else None
    if container is None:
        raise CorpusError(f"{path}: format {document!r} reads pages, and a page file holds no label: put page "
                          f"files in class folders (<class>/<page>, optionally under train/ and test/) and pass "
                          f"the folder, or a .tar.gz/.zip of it; to read one file's pages use "
                          f"textkit.documents.read_document")
    for name in ("text_column", "label_column", "header"):
        if getattr(options, name) is not None:
            raise CorpusError(f"{name}= does not apply to format {document!r} ({path}); it is for "
                              f"csv/tsv/jsonl/parquet")
    found = CONTAINERS[container](path, options, document)
    if not all(rows.texts for rows in found):
        raise CorpusError(f"{path}: no pages found; is it the right folder and format ({document})?")
    return found


# line and column formats: (what a record's place counts, the streamed reader)
STREAMED: dict[str, tuple[str, Callable[[Path, ReadOptions], Iterator[Record]]]] = {
    "label-text": ("line", stream_label_text),
    "fasttext": ("line", stream_fasttext),
    "csv": ("row", stream_csv),
    "tsv": ("row", stream_tsv),
    "jsonl": ("line", stream_jsonl),
    "parquet": ("row", stream_parquet),
    "ptb-trees": ("line", stream_ptb_trees),
    "ptb-phrases": ("line", stream_ptb_phrases),
}
# folders and archives: read whole (members are sorted, so an archive reads as its folder does)
CONTAINERS: dict[str, Callable[..., list[Rows]]] = {"folders": read_folders, "tar": read_tar, "zip": read_zip}
FORMATS = (*STREAMED, *CONTAINERS)
