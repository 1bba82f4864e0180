"""What every reader shares: options and limits (``ReadOptions``), rows with their places
(``Rows``), ``CorpusError``, and bytes -> decoded lines, streamed and bounded."""
from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Sequence, Union

Column = Union[str, int]
# One record of a streamed format: (text, raw label, where), ``where`` the line or row number
# (or "2 (line 3)" for a csv row that spans lines), which the source's ``unit`` names.
Record = tuple
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

    @classmethod
    def collect(cls, stream: "Stream") -> "Rows":
        """A stream's records, in memory."""
        rows = cls(stream.source, stream.unit)
        for text, label, where in stream.records():
            rows.add(text, label, where)
        return rows


@dataclass
class Stream:
    """One file of a line or column format, read record by record: ``records()`` starts from the
    top each time it is called, so ``load_corpus`` (into Arrow) and ``preprocess`` (two passes)
    read every format through the same code, and memory does not grow with the file. Plain
    fields and a module-level reader, so ``datasets`` can pickle and hash it for its cache."""

    path: Path
    format: str
    unit: str  # what ``where`` counts: "line" or "row"
    reader: Callable[[Path, "ReadOptions"], Iterator[Record]]
    options: "ReadOptions"

    @property
    def source(self) -> str:
        return str(self.path)

    def records(self) -> Iterator[Record]:
        return self.reader(self.path, self.options)

    def place(self, i: int) -> str:
        """Where record ``i`` (0-based) came from; reads the file again up to it (error paths only)."""
        for j, (_, _, where) in enumerate(self.records()):
            if j == i:
                return f"{self.source}, {self.unit} {where}"
        return f"{self.source}, record {i + 1}"


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


_PAGE_OPTIONS = ("min_confidence", "page_size")


def _refuse_page_options(source: Path, options: ReadOptions, what: str) -> None:
    given = [name for name in _PAGE_OPTIONS if getattr(options, name) is not None]
    if given:
        raise CorpusError(f"{'=, '.join(given)}= {'applies' if len(given) == 1 else 'apply'} to OCR'd pages, not to "
                          f"{what} ({source}); see textkit.documents")
