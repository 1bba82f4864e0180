"""Column formats: csv and tsv (by header name or 0-based index), JSON lines and Parquet."""
from __future__ import annotations

import csv
import itertools
import json
import reprlib
import sys
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from ..fileio import MAX_JSON_DEPTH, nesting_exceeds
from .base import (
    Column,
    CorpusError,
    ReadOptions,
    Record,
    check_record_size,
    record_lines,
    text_lines,
)

# ---------------------------------------------------------------- column formats

_PARQUET_BATCH_ROWS = 4096  # rows decoded at a time: bounded memory, whole columns at C speed


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


def _stream_delimited(path: Path, options: ReadOptions, delimiter: str) -> Iterator[Record]:
    for text, label, _, where in delimited_records(path, options, delimiter):
        yield text, label, where.removeprefix(f"{path}, row ")  # "2 (line 3)": a row may span lines


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


def stream_csv(path: Path, options: ReadOptions) -> Iterator[Record]:
    """Comma-separated values; quoted fields may span lines."""
    return _stream_delimited(path, options, ",")


def stream_tsv(path: Path, options: ReadOptions) -> Iterator[Record]:
    """Tab-separated values, unquoted."""
    return _stream_delimited(path, options, "\t")


def named_columns(path: Path, options: ReadOptions) -> tuple[str, list[str]]:
    label_col = options.label_column if options.label_column is not None else "label"
    text_cols = as_list(options.text_column if options.text_column is not None else "text")
    if not all(isinstance(c, str) for c in [label_col, *text_cols]):
        raise CorpusError(f"{path}: name the columns of a JSON lines/Parquet file by name, "
                          f"got label_column={label_col!r}, text_column={options.text_column!r}")
    return label_col, text_cols


def stream_jsonl(path: Path, options: ReadOptions) -> Iterator[Record]:
    """One JSON object per line."""
    label_col, text_cols = named_columns(path, options)
    for number, line in record_lines(path, options):
        yield *parse_jsonl_line(line, f"{path}, line {number}", label_col, text_cols), number


def _too_deep(where: str) -> CorpusError:
    return CorpusError(f"{where}: JSON nested too deeply to parse; a record holds its label and text as plain "
                       f"values: flatten or remove the nested field")


def parse_jsonl_line(line: str, where: str, label_col: str, text_cols: list[str]) -> tuple[str, str]:
    """One JSON-object line -> ``(text, label)``; ``where`` names it in errors."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{where}: not JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:  # the parser recurses once per level: ~1,000 levels exhaust the stack
        raise _too_deep(where) from None
    except ValueError as e:  # an integer of more than 4,300 digits (Python's limit), say
        raise CorpusError(f"{where}: not JSON that can be read ({e})") from None
    # The same answer whatever the recursion limit (torch.export raises it), not only past the stack's
    # depth. Nesting past the limit needs more opening brackets than that: counting them (at C speed)
    # spares the walk on every ordinary record.
    if line.count("[") + line.count("{") > MAX_JSON_DEPTH and nesting_exceeds(record, MAX_JSON_DEPTH):
        raise _too_deep(where)
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


def stream_parquet(path: Path, options: ReadOptions) -> Iterator[Record]:
    """A Parquet table, read with pyarrow a batch of rows at a time, only the columns needed."""
    import pyarrow.parquet as pq  # pyarrow ships with `datasets`; imported here to keep import cheap

    label_col, text_cols = named_columns(path, options)
    try:
        parquet = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError, ... for non-Parquet bytes
        raise CorpusError(f"{path}: not a Parquet file ({type(e).__name__}: {e})") from None
    for column in (label_col, *text_cols):
        column_index(path, column, parquet.schema_arrow.names, header=True)
    class_names = parquet_class_names(parquet.schema_arrow, label_col)
    row = 0
    with parquet:
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH_ROWS,
                                          columns=list(dict.fromkeys([label_col, *text_cols]))):
            labels = batch.column(label_col).to_pylist()
            if class_names is not None:
                labels = class_label_names(labels, class_names, lambda i, row=row: f"{path}, row {row + i + 1}")
            texts = [batch.column(c).to_pylist() for c in text_cols]
            for i, value in enumerate(labels):
                row += 1
                where = f"{path}, row {row}"
                text, label = parse_named_values(value, [col[i] for col in texts], where, label_col, text_cols)
                yield check_record_size(text, where, options), label, row
