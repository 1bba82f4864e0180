"""OCR'd pages: words and where each was printed. One reader per document format.

A :class:`Page` is what every reader returns, one per page of a file::

    words   tuple[str, ...]                      in the engine's reading order
    boxes   tuple[(x0, y0, x1, y1), ...]         the page's own units (pixels, ALTO's mm10, ...),
                                                 origin at the top left, x0 <= x1, y0 <= y1
    width, height                                the page size in those units (> 0)
    number                                       1-based page number within its file

``page.bboxes()`` gives the boxes as LayoutLM stores them: ``[x0, y0, x1, y1]`` scaled to
0-1000 of the page, so pages scanned at any resolution or size line up.

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

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .formats import CorpusError, ReadOptions

Box = tuple  # (x0, y0, x1, y1), numbers in the page's units
BBOX_SCALE = 1000  # LayoutLM's convention: boxes in 0..1000 of the page


@dataclass(frozen=True)
class Page:
    """One OCR'd page (see the module doc for the fields)."""

    words: tuple[str, ...]
    boxes: tuple[Box, ...]
    width: float
    height: float
    number: int = 1

    def __post_init__(self) -> None:
        if len(self.words) != len(self.boxes):
            raise ValueError(f"Page has {len(self.words)} words but {len(self.boxes)} boxes")
        if not (self.width > 0 and self.height > 0):
            raise ValueError(f"page size must be positive, got {self.width} x {self.height}")

    @property
    def text(self) -> str:
        """The words in reading order, joined with a space (what text-only models read)."""
        return " ".join(self.words)

    def bboxes(self) -> list[list[int]]:
        """Boxes as ``[x0, y0, x1, y1]`` ints in 0..1000 of the page (LayoutLM's convention)."""
        sx, sy = BBOX_SCALE / self.width, BBOX_SCALE / self.height
        return [[int(x0 * sx), int(y0 * sy), int(x1 * sx), int(y1 * sy)] for x0, y0, x1, y1 in self.boxes]


def check_box(box: Box, width: float, height: float, where: str) -> None:
    """A box must lie on its page with ``x0 <= x1`` and ``y0 <= y1``; ``where`` names it in the error."""
    x0, y0, x1, y1 = box
    if not (0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height):
        raise CorpusError(f"{where}: box ({x0}, {y0}, {x1}, {y1}) is not on the {width} x {height} page "
                          f"(expected 0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height)")


# ---------------------------------------------------------------- one reader per format
# Each takes a file's bytes, the name to put in errors, and the read options.

def parse_ocr_tsv(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """Tesseract's TSV output -> its pages."""
    raise NotImplementedError


def parse_hocr(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """hOCR -> its pages."""
    raise NotImplementedError


def parse_alto(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """ALTO XML -> its pages."""
    raise NotImplementedError


def parse_funsd(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """FUNSD-style JSON -> one page."""
    raise NotImplementedError


def parse_layout_text(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """Text laid out with spaces -> its pages (split at form feeds)."""
    raise NotImplementedError


PARSERS: dict[str, Callable[[bytes, str, ReadOptions], list[Page]]] = {
    "ocr-tsv": parse_ocr_tsv,
    "hocr": parse_hocr,
    "alto": parse_alto,
    "funsd": parse_funsd,
    "layout-text": parse_layout_text,
}


def infer_document_format(name: str, head: bytes) -> str | None:
    """The document format a file's ``name`` and first bytes ``head`` show, or None (not a page)."""
    raise NotImplementedError


def read_document(path: str | os.PathLike, format: str | None = None, **options) -> list[Page]:
    """Read one page file (any format above) -> its pages. ``options``: ``ReadOptions`` fields."""
    raise NotImplementedError
