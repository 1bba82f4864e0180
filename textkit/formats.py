"""Files -> rows: every on-disk layout ``load_corpus`` reads, and nothing else.

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
import csv
import functools
import io
import itertools
import json
import lzma
import os
import re
import reprlib  # a bounded repr: a label may be a list of millions, or nested deep
import stat
import sys
import tarfile
import zipfile
import zlib
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence, Union

Column = Union[str, int]
FASTTEXT_PREFIX = "__label__"
# folder names (or their last "-"/"_"/"." part, as in "20news-bydate-train") that mean a split
SPLIT_FOLDERS = {"train": "train", "training": "train", "valid": "valid", "validation": "valid",
                 "dev": "valid", "val": "valid", "test": "test", "testing": "test"}
_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
             ".parquet": "parquet", ".pq": "parquet", ".zip": "zip", ".tgz": "tar", ".tar": "tar",
             ".all": "label-text", ".txt": "label-text"}
_TAR_SUFFIXES = (".tar.gz", ".tar.bz2", ".tar.xz")
# the options each format understands beyond encoding/errors; anything else is a mistake to report
_COLUMN_OPTIONS = ("text_column", "label_column")
_FORMAT_OPTIONS = {"csv": _COLUMN_OPTIONS + ("header",), "tsv": _COLUMN_OPTIONS + ("header",),
                   "jsonl": _COLUMN_OPTIONS, "parquet": _COLUMN_OPTIONS}

# Limits (fields of ReadOptions). The shared corpora sit far below them: their longest record
# is a 160 KB 20 Newsgroups message, their largest member a 903 KB IMDB file, and their text
# compresses 3-6 times. They turn a damaged or hostile file into one line instead of gigabytes.
DEFAULT_MAX_RECORD_CHARS = 16 * 2**20  # a line, csv row, JSON line, Parquet text or text document
DEFAULT_MAX_MEMBER_BYTES = 64 * 2**20  # a file of a folder or archive, decompressed (page files too)
DEFAULT_MAX_COMPRESSION_RATIO = 100  # decompressed / compressed bytes, per archive member and overall
READ_CHUNK = 2**20  # bytes of a text file read and decoded at a time
_RAW_READ = 2**16  # compressed bytes read at a time; also the slack that keeps the ratio a lower bound
_HEAD_BYTES = 2**16  # what infer_format reads of a first line


class CorpusError(ValueError):
    """A corpus could not be read; the one-line message names the file, the place and the fix."""

    def __init__(self, message: str) -> None:
        # one line even when it quotes a library's multi-line error (pyarrow, tarfile)
        super().__init__(re.sub(r"\s*\n\s*", " ", message))


@dataclass(frozen=True)
class ReadOptions:
    """How to read a source. ``None`` columns mean the format's defaults ("text", "label")."""

    encoding: str = "utf-8"
    errors: str = "strict"
    text_column: Column | Sequence[Column] | None = None
    label_column: Column | None = None
    header: bool | None = None
    classes: Sequence[str] | None = None  # folders/tar/zip: read only these class folders
    min_confidence: float | None = None  # ocr-tsv/hocr/alto: drop words the OCR engine scored lower (0-100)
    page_size: tuple[float, float] | None = None  # funsd: (width, height), which its JSON does not hold
    max_record_chars: int = DEFAULT_MAX_RECORD_CHARS  # a longer record is refused, naming file and line
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES  # a larger folder/archive file is refused before it is read
    max_compression_ratio: float = DEFAULT_MAX_COMPRESSION_RATIO  # an archive inflating more is refused as it streams

    def __post_init__(self) -> None:
        try:
            codecs.lookup(self.encoding)
        except LookupError:
            raise CorpusError(f"encoding={self.encoding!r} is not a codec Python knows; "
                              "try 'utf-8', 'latin-1' or 'cp1252'") from None
        try:
            codecs.lookup_error(self.errors)
        except LookupError:
            raise CorpusError(f"errors={self.errors!r} is not an error handler; use 'strict', "
                              "'replace' or 'ignore'") from None
        for name in ("max_record_chars", "max_member_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CorpusError(f"{name}={value!r}: expected a whole number >= 1")
        ratio = self.max_compression_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not ratio >= 1:  # NaN too
            raise CorpusError(f"max_compression_ratio={ratio!r}: expected a number >= 1")


@dataclass
class Rows:
    """Records read from one source, as parallel lists (cheap to turn into Arrow columns)."""

    source: str
    unit: str  # what ``where`` counts: "line", "row" or "member"
    texts: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    where: list = field(default_factory=list)  # line/row number or member name per record
    split: str | None = None  # set when the source's own layout names the split
    pages: list | None = None  # page corpora: the ``documents.Page`` of each record

    def add(self, text: str, label: str, where: int | str, page=None) -> None:
        self.texts.append(text)
        self.labels.append(label)
        self.where.append(where)
        if page is not None:
            self.pages = [] if self.pages is None else self.pages
            self.pages.append(page)

    def place(self, i: int) -> str:
        """``"file, line 12"``: where record ``i`` came from, for error messages."""
        page = f", page {self.pages[i].number}" if self.pages is not None else ""
        return f"{self.source}, {self.unit} {self.where[i]}{page}"


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
                          f"{', '.join(READERS)}")
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


def read(path: str | os.PathLike, format: str | None, options: ReadOptions) -> list[Rows]:
    """Read one file, folder or archive; a folder or archive may hold several splits."""
    path = Path(path)
    if format in DOCUMENT_FORMATS:
        _exists(path)
        return _read_pages(path, format, options)
    fmt = _checked_format(path, format, options)
    found = READERS[fmt](path, options)
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
    if fmt not in READERS:
        raise CorpusError(f"format={fmt!r} is unknown; choose one of {', '.join([*READERS, *DOCUMENT_FORMATS])}")
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


# ---------------------------------------------------------------- bytes -> lines

def decode(data: bytes, where: str, options: ReadOptions) -> str:
    """Decode a whole file, naming line and byte offset of the first undecodable byte."""
    try:
        text = data.decode(options.encoding, options.errors)
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise _undecodable(where, line, e.start, data[e.start:e.end], options) from None
    except UnicodeError as e:  # a codec that refuses the whole stream (UTF-16 without a byte-order mark)
        raise _not_this_encoding(where, e, options) from None
    return text.removeprefix("\ufeff")  # a BOM (Excel writes one) is not part of the first field


def _not_this_encoding(where: str, error: UnicodeError, options: ReadOptions) -> CorpusError:
    return CorpusError(f"{where}: cannot decode it as {options.encoding} ({error}); pass the file's encoding= "
                       f"(e.g. 'utf-8', 'latin-1' or 'cp1252')")


def _undecodable(where: str, line: int, offset: int, bad: bytes, options: ReadOptions) -> CorpusError:
    return CorpusError(f"{where}, line {line}, byte offset {offset}: cannot decode {bad!r} as {options.encoding}; "
                       f"pass encoding= (e.g. 'latin-1' or 'cp1252') or errors='replace'")


_LINE_END = re.compile(r"(\r\n|\r|\n)")


def text_lines(path: Path, options: ReadOptions) -> Iterator[tuple[int, str, str]]:
    """``(number, line, end)`` for each line of a text file; ``end`` is its line break as written
    (``"\\n"``, ``"\\r\\n"``, ``"\\r"``, or ``""`` after a last line that has none).

    The file is read and decoded ``READ_CHUNK`` bytes at a time, so memory stays a small multiple
    of the longest line, and a line longer than ``options.max_record_chars`` is refused as soon
    as it is that long, not once it is read whole. An undecodable byte is named by line and offset.
    """
    limit = options.max_record_chars
    decoder = codecs.getincrementaldecoder(options.encoding)(options.errors)
    number = consumed = size = 0
    parts: list[str] = []  # the line being read, when it spans chunks
    carry = ""  # a chunk's last "\r", which may be the first half of "\r\n"
    start = True
    with open(path, "rb") as fh:
        while True:
            raw = fh.read(READ_CHUNK)
            held = len(decoder.getstate()[0])  # bytes of a character split by the previous chunk
            try:
                text = decoder.decode(raw, final=not raw)
            except UnicodeDecodeError as e:
                before = bytes(e.object[:e.start]).decode(options.encoding, "replace")
                line = number + 1 + len(_LINE_END.findall(carry + before))
                raise _undecodable(str(path), line, consumed - held + e.start, bytes(e.object[e.start:e.end]),
                                   options) from None
            except UnicodeError as e:
                raise _not_this_encoding(str(path), e, options) from None
            consumed += len(raw)
            if start and text:
                text, start = text.removeprefix("\ufeff"), False  # a BOM is not part of the first record
            text, carry = carry + text, ""
            if raw and text.endswith("\r"):
                text, carry = text[:-1], "\r"
            pieces = _LINE_END.split(text)  # line, end, line, end, ..., the start of the next line
            lines, ends = pieces[0:-1:2], pieces[1::2]
            if lines:
                if parts:
                    lines[0], parts, size = "".join([*parts, lines[0]]), [], 0
                if max(map(len, lines)) > limit:
                    raise _too_long(path, number + 1 + next(i for i, x in enumerate(lines) if len(x) > limit), limit)
                yield from zip(range(number + 1, number + 1 + len(lines)), lines, ends)  # at C speed
                number += len(lines)
            if pieces[-1]:
                parts.append(pieces[-1])
                size += len(pieces[-1])
                if size > limit:
                    raise _too_long(path, number + 1, limit)
            if not raw:
                break
    if parts:
        yield number + 1, "".join(parts), ""


def _too_long(path: Path, number: int, limit: int) -> CorpusError:
    return CorpusError(f"{path}, line {number}: longer than {limit:,} characters (max_record_chars); is a line "
                       f"break missing? If records this long are real, raise max_record_chars=")


def record_lines(path: Path, options: ReadOptions) -> Iterator[tuple[int, str]]:
    """``(number, line)`` for each record of a line format (label-text, fastText, JSON lines, trees).

    A file keeps one kind of line break: ``\\n`` (``\\r\\n`` counts as one) or ``\\r`` alone. A line
    that breaks the convention set by the first one is an error once a record follows it:
    nothing tells a bare ``\\r`` that ends a record from one inside it, and guessing merges or
    splits records silently. Blank lines at the end are a terminator, elsewhere an error.
    """
    first: tuple[str, int] | None = None  # the file's line break ("\n" or "\r") and the line that set it
    mixed = blank = None
    for number, line, end in text_lines(path, options):
        if end:
            kind = "\r" if end == "\r" else "\n"
            if first is None:
                first = (kind, number)
            elif kind != first[0] and mixed is None:
                mixed = number
        if not line.strip():
            blank = blank or number
            continue
        if mixed is not None and mixed < number:  # a record follows the line that broke the convention
            raise _mixed_line_endings(path, mixed, *first)
        if blank is not None:
            raise CorpusError(f"{path}, line {blank}: blank line; every line must hold one record, remove it")
        yield number, line


def _mixed_line_endings(path: Path, number: int, kind: str, first: int) -> CorpusError:
    if kind == "\n":
        return CorpusError(f"{path}, line {number}: ends with a bare \\r, but line {first} ends with \\n; mixed "
                           f"line endings would merge or split records: make every line end with \\n (and "
                           f"delete a stray \\r inside a record)")
    return CorpusError(f"{path}, line {number}: ends with \\n, but line {first} ends with a bare \\r (classic Mac); "
                       f"mixed line endings would merge or split records: make every line end the same way")


def check_record_size(text: str, where: str, options: ReadOptions) -> str:
    """``text``, unless it is longer than ``options.max_record_chars`` (then a ``CorpusError``)."""
    if len(text) > options.max_record_chars:
        raise CorpusError(f"{where}: {len(text):,} characters, more than max_record_chars="
                          f"{options.max_record_chars:,}; if records this long are real, raise max_record_chars=")
    return text


# ---------------------------------------------------------------- line formats

def read_label_text(path: Path, options: ReadOptions) -> list[Rows]:
    """``<label> <text>`` per line; the label is everything before the first whitespace."""
    rows = Rows(str(path), "line")
    for number, line in record_lines(path, options):
        rows.add(*parse_label_text_line(line, f"{path}, line {number}"), number)
    return [rows]


def parse_label_text_line(line: str, where: str) -> tuple[str, str]:
    """One ``<label> <text>`` line -> ``(text, label)``; ``where`` names it in errors.

    ``"0 "`` (a label, its separator, nothing after) is a record with an empty text, as an
    empty csv field is: public corpora hold such lines. ``"0"`` alone could as well be a text
    that lost its label, so it is refused.
    """
    parts = line.split(None, 1)
    if len(parts) == 1 and line.lstrip()[len(parts[0]):]:  # the separator is there, the text is empty
        return "", parts[0]
    if len(parts) < 2:
        raise CorpusError(f"{where}: expected '<label> <text>', got {line[:60]!r} "
                          "(a label or the text is missing; a label then a space is a record with an empty text)")
    return parts[1], parts[0]


def read_fasttext(path: Path, options: ReadOptions) -> list[Rows]:
    """``__label__<label> <text>`` per line. One label per line: multi-label lines raise."""
    rows = Rows(str(path), "line")
    for number, line in record_lines(path, options):
        rows.add(*parse_fasttext_line(line, f"{path}, line {number}"), number)
    return [rows]


def parse_fasttext_line(line: str, where: str, reader: str = "load_corpus") -> tuple[str, str]:
    """One ``__label__<label> <text>`` line -> ``(text, label)``; ``reader`` names the caller
    in the multi-label error."""
    n = len(FASTTEXT_PREFIX)
    head, *rest = line.split(None, 1)
    text = rest[0] if rest else ""
    if not head.startswith(FASTTEXT_PREFIX) or not head[n:]:
        raise CorpusError(f"{where}: no label; fastText lines start with "
                          f"'{FASTTEXT_PREFIX}<label> ', got {line[:60]!r}")
    others = [t for t in text.split() if t.startswith(FASTTEXT_PREFIX)]
    if others:
        raise CorpusError(f"{where}: several labels ({head}, {', '.join(others)}); "
                          f"multi-label corpora are not supported by {reader}")
    return text, head[n:]  # "__label__x" alone: a record with an empty text, as an empty csv field


_TREE_ROOT = re.compile(r"\s*\((\d+)\s")
_TREE_LEAF = re.compile(r"\((\d+) ([^()\s]+)\)")


def read_ptb_trees(path: Path, options: ReadOptions) -> list[Rows]:
    """SST-style labelled trees: the root label and the leaf words joined with a space."""
    rows = Rows(str(path), "line")
    for number, line in record_lines(path, options):
        root = _TREE_ROOT.match(line)
        leaves = _TREE_LEAF.findall(line)
        if not root or not leaves or line.count("(") != line.count(")"):
            raise CorpusError(f"{path}, line {number}: not a labelled tree like "
                              f"'(3 (2 The) (2 Rock))', got {line[:60]!r}")
        rows.add(" ".join(word for _, word in leaves), root.group(1), number)
    return [rows]


_TREE_TOKEN = re.compile(r"\(|\)|[^\s()]+")


def read_ptb_phrases(path: Path, options: ReadOptions) -> list[Rows]:
    """Every labelled node of SST-style trees as ``(phrase, label)``, each distinct phrase once.

    SST labels phrases, not node instances ("the" is one phrase however often it occurs), so a
    phrase is kept at its first occurrence; ``where`` is that tree's line. This is the
    phrase-level training set of Socher et al. 2013 and Kim 2014; test on the sentences.
    """
    rows = Rows(str(path), "line")
    seen: set[str] = set()
    for number, line in record_lines(path, options):
        stack: list[tuple[str, list[str]]] = []  # open nodes: (label, words so far)
        tokens = _TREE_TOKEN.findall(line)
        i, ok = 0, bool(tokens) and tokens[0] == "("
        while ok and i < len(tokens):
            token = tokens[i]
            if token == "(":
                ok = i + 1 < len(tokens) and tokens[i + 1].isdigit()
                if ok:
                    stack.append((tokens[i + 1], []))
                i += 2
                continue
            if token == ")":
                ok = bool(stack) and bool(stack[-1][1])
                if ok:
                    label, words = stack.pop()
                    phrase = " ".join(words)
                    if phrase not in seen:
                        seen.add(phrase)
                        rows.add(phrase, label, number)
                    if stack:
                        stack[-1][1].extend(words)
                    else:
                        ok = i == len(tokens) - 1  # the root closes the line
            else:
                ok = bool(stack)
                if ok:
                    stack[-1][1].append(token)
            i += 1
        if not ok or stack:
            raise CorpusError(f"{path}, line {number}: not a labelled tree like "
                              f"'(3 (2 The) (2 Rock))', got {line[:60]!r}")
    return [rows]


# ---------------------------------------------------------------- column formats

def as_list(columns: Column | Sequence[Column]) -> list[Column]:
    return [columns] if isinstance(columns, (str, int)) else list(columns)


def label_value(value: object, where: str, column: Column) -> str:
    if isinstance(value, (list, tuple, dict)):
        raise CorpusError(f"{where}: label column {column!r} holds {type(value).__name__} "
                          f"{reprlib.repr(value)}; multi-label corpora are not supported by load_corpus")
    if isinstance(value, float):  # JSON/Parquet numbers: 1.0 is the class "1", NaN is no label
        value = None if value != value else int(value) if value.is_integer() else value
    label = "" if value is None else str(value).strip()
    if not label:
        raise CorpusError(f"{where}: empty label in column {column!r}; fill it in or remove the row")
    return label


def text_value(value: object, where: str, column: Column) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, dict)):
        raise CorpusError(f"{where}: text column {column!r} holds a {type(value).__name__}, "
                          "expected a string")
    return str(value)


def join_texts(parts: Iterable[str]) -> str:
    # several text columns (AG News title + description) become one text; empty ones add nothing
    return " ".join(p for p in parts if p)


@dataclass(frozen=True)
class DelimitedColumns:
    """Where a csv/tsv's label and text are: from ``delimited_header`` and ``delimited_columns``."""

    names: list[str]  # the header, or "0", "1", ... without one
    header: bool
    label_i: int
    text_is: list[int]

    def parse_row(self, record: list[str], where: str) -> tuple[str, str]:
        """One row's fields -> ``(text, label)``; ``where`` names it in errors."""
        if len(record) != len(self.names):
            what = "blank line" if not record else f"{len(record)} fields"
            raise CorpusError(f"{where}: {what}, expected {len(self.names)} like the "
                              f"{'header' if self.header else 'first row'}; check quoting/delimiter")
        label = label_value(record[self.label_i], where,
                            self.names[self.label_i] if self.header else self.label_i)
        return join_texts(record[i] for i in self.text_is), label


def delimited_header(path: Path, options: ReadOptions) -> tuple[Column, list[Column] | None, bool]:
    """``(label column, text columns or None, header?)`` for a csv/tsv. Errors name the
    keyword arguments (``header=False``); the CLI shows them as its flags."""
    label_col = options.label_column if options.label_column is not None else "label"
    text_cols = None if options.text_column is None else as_list(options.text_column)
    named = [c for c in [label_col, *(text_cols or [])] if isinstance(c, str)]
    header = bool(named) if options.header is None else options.header
    if named and not header:
        raise CorpusError(f"{path}: columns {named} are names but header=False; "
                          f"use 0-based column numbers or header=True")
    return label_col, text_cols, header


def delimited_columns(path: Path, first: list[str], label_col: Column,
                      text_cols: list[Column] | None, header: bool) -> DelimitedColumns:
    """Resolve the label and text columns against the first row (the header, or data)."""
    names = first if header else [str(i) for i in range(len(first))]
    label_i = column_index(path, label_col, names, header)
    if text_cols is not None:
        text_is = [column_index(path, c, names, header) for c in text_cols]
    elif header:
        text_is = [column_index(path, "text", names, header)]
    else:  # no header, no text_column: every column but the label is text
        text_is = [i for i in range(len(names)) if i != label_i]
    if label_i in text_is:
        raise CorpusError(f"{path}: column {label_col!r} is both the label and a text column")
    return DelimitedColumns(names, header, label_i, text_is)


@contextmanager
def unlimited_fields() -> Iterator[None]:
    """csv refuses fields over 131,072 characters by default; a long document is not an error
    (``max_record_chars`` bounds a row instead, as it bounds every record)."""
    old = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(old)


def check_first_row(source: str, first: str | None, counts: Mapping[str, int], options: ReadOptions) -> None:
    """A header read as data becomes a class of one row. Ask, rather than guess, when the
    header option was left to its default (False for columns given by number) and row 1's
    label ``first`` is a word (not a class number) found in no other row, while other classes
    repeat. ``counts``: rows per label over the whole file."""
    if (options.header is None and first is not None and not first.lstrip("-").isdigit()
            and counts[first] == 1 and sum(counts.values()) - 1 > len(counts) - 1):
        raise CorpusError(f"{source}, row 1: label {first!r} occurs in no other row; if row 1 names "
                          f"the columns pass header=True, if it is data pass header=False")


def delimited_records(path: Path, options: ReadOptions, delimiter: str) -> Iterator[tuple[str, str, int, str]]:
    """``(text, label, row number, where)`` for each row of a csv (``","``) or tsv (``"\\t"``),
    streamed; ``load_corpus`` and ``preprocess`` both read csv/tsv through this."""
    label_col, text_cols, header = delimited_header(path, options)
    # TSV is read unquoted (its usual convention: no tabs or newlines inside fields)
    quoting = csv.QUOTE_MINIMAL if delimiter == "," else csv.QUOTE_NONE
    feed = _RowFeed(path, options)
    reader = csv.reader(feed, delimiter=delimiter, quoting=quoting, strict=True)
    counts: Counter = Counter()  # rows per label: one entry per class, so memory stays bounded
    try:
        with unlimited_fields():  # the feed bounds a row instead, by max_record_chars
            yield from _delimited_rows(path, reader, feed, label_col, text_cols, header, counts)
    except csv.Error as e:
        raise CorpusError(f"{path}, line {reader.line_num}: {delimiter!r}-separated parse error: {e}; "
                          f"check quoting") from None
    if not header and counts:  # Counter keeps first-seen order: its first key is row 1's label
        check_first_row(str(path), next(iter(counts)), counts, options)


class _RowFeed:
    """A csv/tsv's lines for ``csv.reader``, line breaks kept (a quoted field keeps them as
    written), refusing a row that grows past ``max_record_chars``: an unclosed quote would
    otherwise read the rest of the file into one field."""

    def __init__(self, path: Path, options: ReadOptions) -> None:
        self.path, self.limit = path, options.max_record_chars
        self.lines = text_lines(path, options)
        self.size, self.start = 0, 1  # characters of the row being read, and its first line

    def __iter__(self) -> "_RowFeed":
        return self

    def __next__(self) -> str:
        _, line, end = next(self.lines)
        self.size += len(line)
        if self.size > self.limit:
            raise CorpusError(f"{self.path}, line {self.start}: a row longer than {self.limit:,} characters "
                              f"(max_record_chars); is a quote left open? If rows this long are real, "
                              f"raise max_record_chars=")
        return line + end

    def row_read(self, line_num: int) -> None:
        """The reader has returned the row ending at line ``line_num``."""
        self.size, self.start = 0, line_num + 1


def _is_blank(record: list[str], width: int = 2) -> bool:
    # csv gives [] for an empty line, and [" "] for spaces, which only a one-column file may hold
    return not record or (len(record) == 1 and not record[0].strip() and width > 1)


def _delimited_rows(path: Path, reader, feed: _RowFeed, label_col: Column, text_cols: list[Column] | None,
                    header: bool, counts: Counter) -> Iterator[tuple[str, str, int, str]]:
    first, blank = next(reader, None), None
    while first is not None and _is_blank(first):
        blank = blank or reader.line_num
        first = next(reader, None)
    if first is None:
        raise CorpusError(f"{path}: the file is empty")
    if blank is not None:
        raise CorpusError(f"{path}, line {blank}: blank line before the first row; remove it")
    feed.row_read(reader.line_num)
    columns = delimited_columns(path, first, label_col, text_cols, header)
    number, blank = 0, None
    for record in reader if header else itertools.chain([first], reader):
        feed.row_read(reader.line_num)
        if _is_blank(record, len(columns.names)):
            blank = blank or reader.line_num  # trailing blank lines end the file
            continue
        if blank is not None:
            raise CorpusError(f"{path}, line {blank}: blank line, expected {len(columns.names)} fields like the "
                              f"{'header' if header else 'first row'}; remove it")
        number += 1
        where = f"{path}, row {number} (line {reader.line_num})"
        text, label = columns.parse_row(record, where)
        counts[label] += 1
        yield text, label, number, where


def _read_delimited(path: Path, options: ReadOptions, delimiter: str) -> list[Rows]:
    rows = Rows(str(path), "row")
    for text, label, number, _ in delimited_records(path, options, delimiter):
        rows.add(text, label, number)
    return [rows]


def column_index(path: Path, column: Column, names: list[str], header: bool) -> int:
    if isinstance(column, int) and not isinstance(column, bool):
        if 0 <= column < len(names):
            return column
        raise CorpusError(f"{path}: no column {column}; it has {len(names)} columns "
                          f"(0..{len(names) - 1}){': ' + ', '.join(names) if header else ''}")
    if names.count(column) > 1:
        raise CorpusError(f"{path}: the header has {names.count(column)} columns named {column!r} "
                          f"(numbers {', '.join(str(i) for i, n in enumerate(names) if n == column)}); "
                          "pick one by its 0-based number, with header=True")
    if column in names:
        return names.index(column)
    hint = ("; name the ones to read with text_column= and label_column= (or, if the first row is data, "
            "not a header, give 0-based column numbers and header=False)" if header
            else " (no header row: use 0-based column numbers)")
    raise CorpusError(f"{path}: no column {column!r}; the columns are "
                      f"{', '.join(map(repr, names))}{hint}")


def read_csv(path: Path, options: ReadOptions) -> list[Rows]:
    """Comma-separated values; quoted fields may span lines."""
    return _read_delimited(path, options, ",")


def read_tsv(path: Path, options: ReadOptions) -> list[Rows]:
    """Tab-separated values, unquoted."""
    return _read_delimited(path, options, "\t")


def named_columns(path: Path, options: ReadOptions) -> tuple[str, list[str]]:
    label_col = options.label_column if options.label_column is not None else "label"
    text_cols = as_list(options.text_column if options.text_column is not None else "text")
    if not all(isinstance(c, str) for c in [label_col, *text_cols]):
        raise CorpusError(f"{path}: name the columns of a JSON lines/Parquet file by name, "
                          f"got label_column={label_col!r}, text_column={options.text_column!r}")
    return label_col, text_cols


def read_jsonl(path: Path, options: ReadOptions) -> list[Rows]:
    """One JSON object per line."""
    label_col, text_cols = named_columns(path, options)
    rows = Rows(str(path), "line")
    for number, line in record_lines(path, options):
        rows.add(*parse_jsonl_line(line, f"{path}, line {number}", label_col, text_cols), number)
    return [rows]


def parse_jsonl_line(line: str, where: str, label_col: str, text_cols: list[str]) -> tuple[str, str]:
    """One JSON-object line -> ``(text, label)``; ``where`` names it in errors."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{where}: not JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:  # the parser recurses once per level: ~1,000 levels exhaust the stack
        raise CorpusError(f"{where}: JSON nested too deeply to parse; a record holds its label and text as "
                          f"plain values: flatten or remove the nested field") from None
    except ValueError as e:  # an integer of more than 4,300 digits (Python's limit), say
        raise CorpusError(f"{where}: not JSON that can be read ({e})") from None
    if not isinstance(record, dict):
        raise CorpusError(f"{where}: expected a JSON object, got {type(record).__name__}")
    for column in (label_col, *text_cols):
        if column not in record:
            raise CorpusError(f"{where}: no column {column!r}; this line has "
                              f"{', '.join(map(repr, record)) or 'no keys'}")
    return parse_named_values(record[label_col], [record[c] for c in text_cols], where,
                              label_col, text_cols)


def parse_named_values(label: object, texts: Sequence[object], where: str, label_col: str,
                       text_cols: Sequence[str]) -> tuple[str, str]:
    """A record's label value and text values (JSON lines, Parquet) -> ``(text, label)``."""
    label = label_value(label, where, label_col)
    return join_texts(text_value(value, where, c) for value, c in zip(texts, text_cols)), label


def parquet_class_names(schema, column: str) -> list[str] | None:
    """The class names a ``datasets`` ``ClassLabel`` column keeps in a Parquet file's schema
    metadata (``Dataset.to_parquet`` writes them), so its ids read back as names, not "0", "1"."""
    try:
        features = json.loads((schema.metadata or {})[b"huggingface"])["info"]["features"]
        feature = features[column]
    except (KeyError, TypeError, ValueError):
        return None
    return list(feature["names"]) if feature.get("_type") == "ClassLabel" and "names" in feature else None


def class_label_names(ids: list, names: list[str], where: Callable[[int], str]) -> list:
    """ClassLabel ids -> names; an id outside the names (or -1, "no label") is an error."""
    for i, value in enumerate(ids):
        if value is not None and not 0 <= value < len(names):
            raise CorpusError(f"{where(i)}: class id {value} is outside the {len(names)} class names "
                              f"the file's metadata lists ({', '.join(names)})")
    return [None if v is None else names[v] for v in ids]


def read_parquet(path: Path, options: ReadOptions) -> list[Rows]:
    """A Parquet table (read with pyarrow, only the columns needed)."""
    import pyarrow.parquet as pq  # pyarrow ships with `datasets`; imported here to keep import cheap

    label_col, text_cols = named_columns(path, options)
    try:
        schema = pq.read_schema(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... for non-Parquet bytes
        raise CorpusError(f"{path}: not a Parquet file ({type(e).__name__}: {e})") from None
    for column in (label_col, *text_cols):
        column_index(path, column, schema.names, header=True)
    table = pq.read_table(path, columns=list(dict.fromkeys([label_col, *text_cols])))
    labels = table.column(label_col).to_pylist()
    class_names = parquet_class_names(schema, label_col)
    if class_names is not None:
        labels = class_label_names(labels, class_names, lambda i: f"{path}, row {i + 1}")
    texts = [table.column(c).to_pylist() for c in text_cols]
    rows = Rows(str(path), "row")
    for i, value in enumerate(labels):
        where = f"{path}, row {i + 1}"
        text, label = parse_named_values(value, [col[i] for col in texts], where, label_col, text_cols)
        rows.add(check_record_size(text, where, options), label, i + 1)
    return [rows]


# ---------------------------------------------------------------- folders and archives

def _safe_member(archive: Path, name: str) -> str:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or ".." in parts:
        raise CorpusError(f"{archive}: refusing member {name!r}: an absolute path or '..' in an "
                          "archive is unsafe; rebuild it with relative paths")
    return "/".join(p for p in parts if p not in ("", "."))


def _files_in_dir(root: Path, options: ReadOptions) -> Iterator[tuple[str, Callable[[], bytes]]]:
    """The plain files under ``root``, sorted by path. A symbolic link, to a file or a folder,
    inside or outside the corpus, is refused and never followed, as archives refuse theirs: it
    could bring in any file the user can read (``ln -s /etc/passwd pos/p.txt``), or one document
    twice, in train and in test. (``root`` itself may be a link: the user named it.)"""
    def cannot_list(error: OSError) -> None:  # os.walk would skip an unreadable folder silently
        raise CorpusError(f"{root}: cannot list {error.filename} ({error.strerror}); check its permissions")

    found: list[tuple[str, ...]] = []
    for folder, dirs, files in os.walk(root, onerror=cannot_list):  # lists a linked folder, never enters it
        here = Path(folder).relative_to(root).parts
        dirs[:] = [d for d in dirs if not _is_metadata([d])]  # OS litter is never read, so never checked
        files = [f for f in files if not _is_metadata([f])]
        for name in [*dirs, *files]:
            path = Path(folder, name)
            if path.is_symlink():
                raise CorpusError(f"{root}: {'/'.join([*here, name])!r} is a symbolic link (to {os.readlink(path)}); "
                                  f"a corpus folder must hold plain files, as archives must: copy the file in")
            if name in files and not path.is_file():
                raise CorpusError(f"{root}: {'/'.join([*here, name])!r} is a device or pipe, not a plain file; "
                                  f"remove it from the corpus folder")
        found.extend((*here, name) for name in files)
    for parts in sorted(found):
        name = "/".join(parts)
        yield name, functools.partial(_read_file, root.joinpath(*parts), f"{root}, member {name}", options)


def _read_file(path: Path, where: str, options: ReadOptions) -> bytes:
    """A folder corpus's file, refused above ``max_member_bytes`` before it is read."""
    # O_NOFOLLOW: a link swapped in after the listing fails here instead of being followed
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as fh:
        _check_member_size(where, os.fstat(fd).st_size, options)
        data = fh.read(options.max_member_bytes + 1)  # bounded even if the file grows meanwhile
    _check_member_size(where, len(data), options)
    return data


def _check_member_size(where: str, size: int, options: ReadOptions) -> None:
    if size > options.max_member_bytes:
        raise CorpusError(f"{where}: {size:,} bytes, more than max_member_bytes={options.max_member_bytes:,}; "
                          f"if the file is genuine, raise max_member_bytes=")


def _check_ratio(where: str, produced: int, read: int, limit: float) -> None:
    # one raw read more than was counted: bytes read before a member began may hold its start,
    # so this ratio is never above the true one, and a genuine archive is never refused for it
    if produced > limit * (read + _RAW_READ):
        raise CorpusError(f"{where}: decompresses to more than {limit:g} times the compressed bytes read for it "
                          f"({produced:,} bytes from {read:,}; a zip bomb?); if the archive is genuine, raise "
                          f"max_compression_ratio=")


class _Counted(io.RawIOBase):
    """A compressed file, read ``_RAW_READ`` bytes at a time at most, counting what was read."""

    def __init__(self, fh) -> None:
        self.fh, self.count = fh, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.fh.readinto(memoryview(buffer)[:_RAW_READ])
        self.count += n
        return n


class _Inflated(io.RawIOBase):
    """A tar's decompressed bytes, a bounded read at a time, checked against the compressed bytes
    read for them: for the member being read and for the archive so far. So a bomb is refused
    within its first MiBs (about ``limit`` x 64 KiB), never decompressed whole."""

    def __init__(self, stream, counted: _Counted, source: Path, limit: float) -> None:
        self.stream, self.counted, self.source, self.limit = stream, counted, source, limit
        self.produced = 0
        self.start_member(None)

    def readable(self) -> bool:
        return True

    def start_member(self, name: str | None) -> None:
        self.member, self.member_produced, self.member_from = name, 0, self.counted.count

    def readinto(self, buffer) -> int:
        n = self.stream.readinto(buffer)
        self.produced += n
        self.member_produced += n
        read, member_read = self.counted.count, self.counted.count - self.member_from
        if max(self.member_produced / (member_read + _RAW_READ), self.produced / (read + _RAW_READ)) > self.limit:
            member = self.member or "(the first header)"
            _check_ratio(f"{self.source}, member {member}", self.member_produced, member_read, self.limit)
            _check_ratio(f"{self.source} (up to member {member})", self.produced, read, self.limit)
        return n


# the magic bytes tarfile's "r|*" looks for, and the module that inflates each
_COMPRESSIONS = ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "lzma"), (b"\x5d\x00\x00\x80", "lzma"))
_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError)


def _tar_stream(fh, source: Path, options: ReadOptions):
    """``fh`` decompressed (our decompression, not tarfile's: its reads are bounded and counted),
    or ``fh`` itself for a plain tar."""
    head = fh.peek(8)[:8]
    module = next((m for magic, m in _COMPRESSIONS if head.startswith(magic)), None)
    if module is None:
        return fh
    counted = _Counted(fh)
    if module == "gzip":
        import gzip
        stream = gzip.GzipFile(fileobj=counted, mode="rb")
    elif module == "bz2":
        import bz2
        stream = bz2.BZ2File(counted, mode="rb")
    else:
        stream = lzma.LZMAFile(counted, mode="rb")
    return _Inflated(stream, counted, source, options.max_compression_ratio)


def _files_in_tar(path: Path, options: ReadOptions) -> Iterator[tuple[str, Callable[[], bytes]]]:
    # "r|" streams the archive once, in member order: no seeks, no unpacking
    try:
        with open(path, "rb") as fh:
            stream = _tar_stream(fh, path, options)
            with tarfile.open(fileobj=stream, mode="r|", bufsize=_RAW_READ) as tf:
                for member in tf:
                    name = _safe_member(path, member.name)
                    if isinstance(stream, _Inflated):
                        stream.start_member(name)
                    if member.isdir():
                        continue
                    if not member.isfile():
                        raise _not_plain(path, member.name)
                    # read lazily: the consumer calls this before the stream moves on, and skips
                    # members it does not need (aclImdb's unsup/) without decompressing them twice
                    yield name, functools.partial(_read_tar_member, tf, member, f"{path}, member {name}", options)
    except _READ_ERRORS as e:
        raise CorpusError(f"{path}: not a readable tar archive ({type(e).__name__}: {e})") from None


def _not_plain(archive: Path, member: str) -> CorpusError:
    return CorpusError(f"{archive}: member {member!r} is a link or device, not a plain file; archives of "
                       "folders must hold plain files")


def _read_tar_member(tf: tarfile.TarFile, member: tarfile.TarInfo, where: str, options: ReadOptions) -> bytes:
    _check_member_size(where, member.size, options)  # the header's size is what the tar stream holds
    return tf.extractfile(member).read()


def _files_in_zip(path: Path, options: ReadOptions) -> Iterator[tuple[str, Callable[[], bytes]]]:
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            for info in infos:
                _safe_member(path, info.filename)  # check every name before reading anything
            totals = [0, 0]  # bytes inflated, and compressed bytes read, by the members read so far
            for info in infos:
                if info.is_dir():
                    continue
                if stat.S_ISLNK(info.external_attr >> 16):  # a Unix link: its "data" is the target's name
                    raise _not_plain(path, info.filename)
                name = _safe_member(path, info.filename)
                yield name, functools.partial(_read_zip_member, zf, info, path, name, options, totals)
    except (zipfile.BadZipFile, OSError, RuntimeError) as e:
        raise CorpusError(f"{path}: not a readable zip archive ({type(e).__name__}: {e})") from None


def _read_zip_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: Path, name: str, options: ReadOptions,
                     totals: list[int]) -> bytes:
    # zipfile reads no more than the directory's compressed size and inflates no more than its
    # file size, so the limits are checked before a byte is inflated: the member's, and (as for
    # a tar) the archive's so far, which many small members can break
    where, limit = f"{source}, member {name}", options.max_compression_ratio
    _check_member_size(where, info.file_size, options)
    _check_ratio(where, info.file_size, info.compress_size, limit)
    totals[0] += info.file_size
    totals[1] += info.compress_size
    _check_ratio(f"{source} (up to member {name})", totals[0], totals[1], limit)
    with zf.open(info) as fh:
        return fh.read()


def _is_metadata(parts: list[str]) -> bool:
    # OS litter, not documents: macOS resource forks (__MACOSX/), .DS_Store and other dotfiles
    return any(p.startswith(".") or p == "__MACOSX" for p in parts)


def _split_folder(name: str) -> tuple[str | None, bool]:
    """``(split, exact)``: "test" is exactly a split; "20news-bydate-test" names one by its end."""
    name = name.lower()
    if name in SPLIT_FOLDERS:
        return SPLIT_FOLDERS[name], True
    return SPLIT_FOLDERS.get(re.split(r"[-_.]", name)[-1]), False


def _read_layout(source: Path, files: Iterable[tuple[str, Callable[[], bytes]]],
                 options: ReadOptions, document: str | None = None) -> list[Rows]:
    """``[<prefix>/][<split>/]<class>/<doc>``: the class is the folder holding each document.

    Every document must sit at the same depth under the same prefix, and either all or none
    under a split folder. With ``options.classes`` only those class folders are read and
    everything else (READMEs, aclImdb's ``unsup/``) is not part of the corpus. Documents are
    texts, or page files in the format ``document`` (None: the first document's name and
    bytes tell, and every other one must be of the same kind).
    """
    wanted = None if options.classes is None else set(options.classes)
    by_split: dict[str | None, Rows] = {}
    exact_splits: set[str | None] = set()
    seen_folders: set[str] = set()
    layout = first = None  # (depth, prefix, has_split) of the first document (named first); all must match
    kind: str | None = None  # what the first document is: a page format, or "text"
    for name, load in files:
        parts = name.split("/")
        if _is_metadata(parts):
            continue
        folder = parts[-2] if len(parts) >= 2 else None
        if folder is not None:
            seen_folders.add(folder)
        if wanted is not None and folder not in wanted:
            nested = next((p for p in parts[:-2] if p in wanted), None)
            if nested is not None:  # skipping it would lose a document of that class
                raise CorpusError(f"{source}: unexpected layout at {name!r}: a subfolder of the class "
                                  f"folder {nested!r}; put documents directly in their class folder")
            continue
        if folder is None:
            raise CorpusError(f"{source}: {name!r} is not inside a class folder; expected "
                              "<class>/<doc> or <split>/<class>/<doc>")
        split, exact = _split_folder(parts[-3]) if len(parts) >= 3 else (None, True)
        if exact:
            exact_splits.add(split)
        this = (len(parts), parts[: -3 if split else -2], split is not None)
        layout, first = layout or this, first or name
        if this != layout:
            raise CorpusError(f"{source}: unexpected layout at {name!r}: it is {_shape(this)}, but {first!r}, "
                              f"read first, is {_shape(layout)}; documents must all be <split>/<class>/<doc> "
                              f"or all <class>/<doc> under one folder (pass label_names= to read only the "
                              f"class folders and skip stray files)")
        rows = by_split.setdefault(split, Rows(str(source), "member", split=split))
        try:
            data = load()
        except _READ_ERRORS as e:
            raise CorpusError(f"{source}, member {name}: cannot read it ({type(e).__name__}: {e})") from None
        where = f"{source}, member {name}"
        this_kind = document or _document_kind(name, data) or "text"
        if kind is None:
            kind = this_kind
            if kind == "text":
                _refuse_page_options(source, options, "text documents")
        elif this_kind != kind:
            raise CorpusError(f"{where}: is {_kind(this_kind)}, but {first!r}, read first, is {_kind(kind)}; "
                              f"a corpus holds one kind of document (pass format= to read them all as one)")
        if kind == "text":
            rows.add(check_record_size(decode(data, where, options), where, options), parts[-2], name)
            continue
        for page in _member_pages(kind, data, where, options):
            rows.add(page.text, parts[-2], name, page)
    missing = sorted((wanted or set()) - {label for r in by_split.values() for label in r.labels})
    if missing:
        raise CorpusError(f"{source}: no documents in a class folder {', '.join(map(repr, missing))}; "
                          f"folders holding documents: {', '.join(sorted(seen_folders)) or 'none'}")
    if not by_split:
        raise CorpusError(f"{source}: no documents found; expected <class>/<doc> or "
                          "<split>/<class>/<doc> files")
    if len(by_split) == 1 and not exact_splits:
        # one folder such as "unit_test/" or "reviews-dev/" is a name, not a split of the corpus;
        # "20news-bydate-test" counts as a split beside "20news-bydate-train"
        rows = next(iter(by_split.values()))
        rows.split = None
        by_split = {None: rows}
    for rows in by_split.values():
        _sort_by_member(rows)
    return list(by_split.values())


def _kind(kind: str) -> str:
    return "a text document" if kind == "text" else f"a page file ({kind})"


def _shape(layout: tuple[int, list[str], bool]) -> str:
    """``(depth, prefix, has_split)`` -> e.g. ``aclImdb/<split>/<class>/<doc>``."""
    _, prefix, has_split = layout
    return "/".join([*prefix, *(["<split>"] if has_split else []), "<class>", "<doc>"])


def _sort_by_member(rows: Rows) -> None:
    # a folder and an archive of it yield the same dataset, whatever order the archive stored
    order = sorted(range(len(rows.where)), key=rows.where.__getitem__)  # stable: a file's pages stay in order
    rows.texts = [rows.texts[i] for i in order]
    rows.labels = [rows.labels[i] for i in order]
    rows.where = [rows.where[i] for i in order]
    if rows.pages is not None:
        rows.pages = [rows.pages[i] for i in order]


def read_folders(path: Path, options: ReadOptions, document: str | None = None) -> list[Rows]:
    """A directory with one folder per class (optionally under train/valid/test folders)."""
    return _read_layout(path, _files_in_dir(path, options), options, document)


def read_tar(path: Path, options: ReadOptions, document: str | None = None) -> list[Rows]:
    """A tar archive (gz/bz2/xz or plain) of the ``folders`` layout, streamed once."""
    return _read_layout(path, _files_in_tar(path, options), options, document)


def read_zip(path: Path, options: ReadOptions, document: str | None = None) -> list[Rows]:
    """A zip archive of the ``folders`` layout, read member by member."""
    return _read_layout(path, _files_in_zip(path, options), options, document)


# ---------------------------------------------------------------- pages (documents.py)

DOCUMENT_FORMATS = ("ocr-tsv", "hocr", "alto", "funsd", "layout-text")
CONTAINERS = ("folders", "tar", "zip")
_PAGE_OPTIONS = ("min_confidence", "page_size")


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
            raise CorpusError(f"{name}= does not apply to format {document!r} ({path}); it is for csv/tsv/jsonl/parquet")
    found = READERS[container](path, options, document)
    if not all(rows.texts for rows in found):
        raise CorpusError(f"{path}: no pages found; is it the right folder and format ({document})?")
    return found


def _refuse_page_options(source: Path, options: ReadOptions, what: str) -> None:
    given = [name for name in _PAGE_OPTIONS if getattr(options, name) is not None]
    if given:
        raise CorpusError(f"{'=, '.join(given)}= {'applies' if len(given) == 1 else 'apply'} to OCR'd pages, not to "
                          f"{what} ({source}); see textkit.documents")


def _member_pages(document: str, data: bytes, where: str, options: ReadOptions) -> list:
    from .documents import PARSERS, check_document_options  # documents.py imports this module: loaded on use

    check_document_options(document, {name: getattr(options, name) for name in _PAGE_OPTIONS}, where)
    return PARSERS[document](data, where, options)


def _document_kind(name: str, data: bytes) -> str | None:
    from .documents import HEAD_BYTES, infer_document_format

    return infer_document_format(name, data[:HEAD_BYTES])


READERS: dict[str, Callable[[Path, ReadOptions], list[Rows]]] = {
    "label-text": read_label_text,
    "fasttext": read_fasttext,
    "csv": read_csv,
    "tsv": read_tsv,
    "jsonl": read_jsonl,
    "parquet": read_parquet,
    "ptb-trees": read_ptb_trees,
    "ptb-phrases": read_ptb_phrases,
    "folders": read_folders,
    "tar": read_tar,
    "zip": read_zip,
}
