"""OCR'd pages: which format a page file is, and reading one. One reader per format.

Every reader returns :class:`~textkit.pages.Page` objects, one per page of the file: its words
in reading order, their boxes in the page's own units, the page size and its number (see
``pages.py``); ``page.bboxes()`` gives the boxes as LayoutLM stores them, 0-1000 of the page.
The readers themselves are in ``page_readers.py``.

Formats (``format=``; ``infer_document_format`` tells them from a name and the first bytes):

===========  ========================================================  ======================
name         what it is                                                inferred from
===========  ========================================================  ======================
ocr-tsv      ``tesseract page.png out tsv``: word rows (level 5)       ``.tsv`` with Tesseract's
             with boxes and confidence; level-1 rows give page sizes   header line
hocr         hOCR (Tesseract's and other engines' XHTML):              ``.hocr``; ``.html``
             ``ocr_page`` and ``ocrx_word`` elements with ``bbox``     holding ``ocr_page``
alto         ALTO XML (v2-v4): ``Page`` and ``String`` elements        ``.xml`` whose root is
                                                                       ``alto``
funsd        FUNSD-style JSON: ``{"form": [{"words": [{"box",          ``.json`` holding a
             "text"}]}]}``; no page size inside: ``page_size=``        ``"form"`` list
layout-text  plain text laid out with spaces (``pdftotext -layout``,   never (``.txt`` is
             fixed-width reports): line = row, character = column;     label-text)
             form feeds separate pages
===========  ========================================================  ======================

Options (``ReadOptions`` fields): ``min_confidence`` (0-100; ocr-tsv, hocr and alto drop words
the engine is less sure of), ``page_size`` (``(width, height)`` for funsd).

Readers never drop a page or a word silently: a word with no text (Tesseract writes a few
rows of spaces) is not a word; anything malformed raises ``CorpusError`` naming the file and
the line or element. A page with no words is an error (a blank or unreadable scan).
"""
from __future__ import annotations

import codecs
import dataclasses
import os
import re
from pathlib import Path
from typing import Callable

from .formats import CorpusError, ReadOptions
from .page_readers import parse_alto, parse_funsd, parse_hocr, parse_layout_text, parse_ocr_tsv
from .page_readers import TSV_HEADER as _TSV_HEADER
from .pages import BBOX_SCALE, Box, Page, check_box

__all__ = ["BBOX_SCALE", "Box", "Page", "check_box", "PARSERS", "DOCUMENT_OPTIONS", "infer_document_format",
           "read_document", "parse_ocr_tsv", "parse_hocr", "parse_alto", "parse_funsd", "parse_layout_text"]

PARSERS: dict[str, Callable[[bytes, str, ReadOptions], list[Page]]] = {
    "ocr-tsv": parse_ocr_tsv,
    "hocr": parse_hocr,
    "alto": parse_alto,
    "funsd": parse_funsd,
    "layout-text": parse_layout_text,
}
# the options each format takes beyond encoding/errors (textkit.formats reuses this table)
DOCUMENT_OPTIONS: dict[str, tuple[str, ...]] = {
    "ocr-tsv": ("min_confidence",),
    "hocr": ("min_confidence",),
    "alto": ("min_confidence",),
    "funsd": ("page_size",),
    "layout-text": (),
}
HEAD_BYTES = 8192  # how much of a file infer_document_format needs


# ---------------------------------------------------------------- which format, and reading a file

def infer_document_format(name: str, head: bytes) -> str | None:
    """The document format a file's ``name`` and first bytes ``head`` show, or None (not a page)."""
    suffix = Path(name).suffix.lower()
    head = head.removeprefix(codecs.BOM_UTF8)
    if suffix == ".tsv":
        first = head.split(b"\n", 1)[0].rstrip(b"\r")
        return "ocr-tsv" if first == _TSV_HEADER.encode() else None  # else an ordinary TSV corpus
    if suffix == ".hocr":
        return "hocr"
    if suffix in (".html", ".htm", ".xhtml"):
        return "hocr" if b"ocr_page" in head else None
    if suffix == ".xml":
        return "alto" if _xml_root(head) == b"alto" else None
    if suffix == ".json":
        return "funsd" if head.lstrip().startswith(b"{") and _FORM_KEY.search(head) else None
    return None  # .txt is label-text: layout-text is only ever chosen by name


_FORM_KEY = re.compile(rb'"form"\s*:\s*\[')
_COMMENT = re.compile(rb"<!--.*?-->", re.S)
_FIRST_TAG = re.compile(rb"<(?![?!])(?:[\w.-]+:)?([\w.-]+)")


def _xml_root(head: bytes) -> bytes | None:
    """The local name of the first element in ``head`` (past the declaration, comments, DOCTYPE)."""
    match = _FIRST_TAG.search(_COMMENT.sub(b"", head))
    return match.group(1) if match else None


def read_document(path: str | os.PathLike, format: str | None = None, **options) -> list[Page]:
    """Read one page file (any format above) -> its pages. ``options``: ``ReadOptions`` fields."""
    path = Path(path)
    if not path.is_file():
        what = "is a directory, not a file" if path.is_dir() else "no such file"
        raise CorpusError(f"{path}: {what} (working directory: {Path.cwd()})")
    if format is None:
        with open(path, "rb") as fh:
            format = infer_document_format(path.name, fh.read(HEAD_BYTES))
        if format is None:
            raise CorpusError(f"{path}: cannot tell the document format from its name and first bytes; "
                              f"pass format= one of {', '.join(PARSERS)}")
    elif format not in PARSERS:
        raise CorpusError(f"format={format!r} is not a document format; choose one of {', '.join(PARSERS)}")
    check_document_options(format, options, str(path))
    options = ReadOptions(**options)
    size = path.stat().st_size
    if size > options.max_member_bytes:  # the same limit as a page file inside a corpus folder
        raise CorpusError(f"{path}: {size:,} bytes, more than max_member_bytes={options.max_member_bytes:,}; "
                          f"is it a page file? If it is, raise max_member_bytes=")
    return PARSERS[format](path.read_bytes(), str(path), options)


def check_document_options(format: str, options: dict, source: str) -> None:
    """Refuse an option the format does not use, naming the formats it is for."""
    fields = {f.name for f in dataclasses.fields(ReadOptions)}
    allowed = ("encoding", "errors", "max_record_chars", "max_member_bytes", "max_compression_ratio",
               *DOCUMENT_OPTIONS[format])
    for name, value in options.items():
        if name not in fields:
            raise CorpusError(f"{name}= is not an option; page files take {', '.join(sorted(_ALL_OPTIONS))}")
        if value is None or name in allowed:
            continue
        users = [f for f, names in DOCUMENT_OPTIONS.items() if name in names]
        where = f"it is for formats {', '.join(users)}" if users else "it is for text corpora, not page files"
        raise CorpusError(f"{name}= does not apply to format {format!r} ({source}); {where}")


_ALL_OPTIONS = {"encoding", "errors", "max_record_chars", "max_member_bytes", "max_compression_ratio",
                *(name for names in DOCUMENT_OPTIONS.values() for name in names)}
