"""The OCR'd page: what every reader of ``documents.py`` returns, and the checks they share.

A :class:`Page` holds one page of a file::

    words   tuple[str, ...]                      in the engine's reading order
    boxes   tuple[(x0, y0, x1, y1), ...]         the page's own units (pixels, ALTO's mm10, ...),
                                                 origin at the top left, x0 <= x1, y0 <= y1
    width, height                                the page size in those units (> 0)
    number                                       1-based page number within its file (TSV's
                                                 page_num, hOCR's ppageno, ALTO's PHYSICAL_IMG_NR,
                                                 shifted by one where they count from 0 as
                                                 Tesseract's do; else the order in the file)

``page.bboxes()`` gives the boxes as LayoutLM stores them: ``[x0, y0, x1, y1]`` scaled to
0-1000 of the page, so pages scanned at any resolution or size line up.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

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
        return self.bbox_array().tolist()

    def bbox_array(self) -> np.ndarray:
        """``bboxes()`` as an int64 array ``(N, 4)``; one vectorized multiply (a Python loop over a
        corpus's boxes was half the time of building its grids)."""
        if not self.boxes:
            return np.zeros((0, 4), dtype=np.int64)
        sx, sy = BBOX_SCALE / self.width, BBOX_SCALE / self.height
        # float64 products truncated toward zero, as int(x * s) does: the same ints as LayoutLM's recipe
        return (np.asarray(self.boxes, dtype=np.float64) * (sx, sy, sx, sy)).astype(np.int64)


def check_box(box: Box, width: float, height: float, where: str) -> None:
    """A box must lie on its page with ``x0 <= x1`` and ``y0 <= y1``; ``where`` names it in the error."""
    x0, y0, x1, y1 = box
    if not (0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height):
        raise CorpusError(f"{where}: box ({x0}, {y0}, {x1}, {y1}) is not on the {width} x {height} page "
                          f"(expected 0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height)")


# ---------------------------------------------------------------- shared checks

def checked_min_confidence(options: ReadOptions, source: str) -> float:
    """``options.min_confidence`` checked; 0 when unset (every engine's scores are >= 0)."""
    value = options.min_confidence
    if value is None:
        return 0.0
    if not is_number(value) or not 0 <= value <= 100:
        raise CorpusError(f"{source}: min_confidence= must be a number from 0 to 100 (the engine's word "
                          f"confidence in percent), got {value!r}")
    return float(value)


def checked_page_size(value: object, source: str, name: str) -> tuple[float, float]:
    """A ``(width, height)`` of two positive finite numbers; ``name`` says where it came from."""
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(is_finite(v) and v > 0 for v in value)):
        raise CorpusError(f"{source}: {name} must be (width, height), two positive numbers, got {value!r}")
    return value[0], value[1]


def is_number(value: object) -> bool:
    # numbers.Real takes numpy scalars too; bool is an int subclass, but True is no coordinate
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_finite(value: object) -> bool:
    """A number that is not NaN or infinite (nor an int too large for a float, from hostile JSON)."""
    try:
        return is_number(value) and math.isfinite(value)
    except OverflowError:
        return False


def parse_number(value: str | None, where: str, name: str) -> float:
    """An XML attribute or hOCR property -> int when integral (pixels stay ints), else float."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise CorpusError(f"{where}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise CorpusError(f"{where}: {name} must be a finite number, got {value!r}")
    return int(number) if number.is_integer() else number


def page_numbers(raw: list[str | None], source: str, name: str) -> list[int]:
    """Page numbers from each page's ``name`` (ALTO's PHYSICAL_IMG_NR, hOCR's ppageno), else the order.

    Tesseract counts both from 0 (its first page says ``PHYSICAL_IMG_NR="0"`` / ``ppageno 0``), so a
    file whose numbers start at 0 is shifted by one: ``Page.number`` is 1-based like the rest.
    """
    if not raw or any(value is None for value in raw):
        return list(range(1, len(raw) + 1))
    numbers = [parse_number(value, f"{source}, page {i}", name) for i, value in enumerate(raw, 1)]
    if not all(isinstance(n, int) and n >= 0 for n in numbers):
        raise CorpusError(f"{source}: {name} must be whole numbers >= 0, got {', '.join(raw)}")
    if len(set(numbers)) != len(numbers):
        raise CorpusError(f"{source}: two pages have the same {name} ({', '.join(raw)}); "
                          "each page of a file needs its own number")
    shift = 1 if min(numbers) == 0 else 0
    return [n + shift for n in numbers]


def no_words_error(source: str, page: int, min_confidence: float, dropped: int) -> CorpusError:
    """The error for a page without words (a blank or unreadable scan, or min_confidence too high)."""
    if dropped:
        return CorpusError(f"{source}, page {page}: min_confidence={min_confidence:g} dropped all "
                           f"{dropped} words of the page; lower it")
    return CorpusError(f"{source}, page {page}: the page has no words (a blank or unreadable scan); "
                       "re-OCR it or leave the file out")
