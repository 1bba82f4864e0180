"""The page-file readers: Tesseract TSV, hOCR, ALTO XML, FUNSD JSON and laid-out text.

Each is ``parse_<format>(data: bytes, source: str, options: ReadOptions) -> list[Page]``;
``documents.py`` lists them, tells the format of a file, and reads one file.
"""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

from .formats import CorpusError, ReadOptions, decode
from .pages import (Box, Page, check_box, checked_min_confidence, checked_page_size, is_finite, no_words_error,
                    page_numbers, parse_number)

# ---------------------------------------------------------------- Tesseract TSV

TSV_COLUMNS = ("level", "page_num", "block_num", "par_num", "line_num", "word_num",
               "left", "top", "width", "height", "conf", "text")
TSV_HEADER = "\t".join(TSV_COLUMNS)


def parse_ocr_tsv(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """Tesseract's TSV output -> its pages.

    A level-1 row starts a page and gives its size; level-5 rows are its words; levels 2-4
    (block, paragraph, line) hold no words and are skipped unconverted. This loop is the
    reference of the layout-grid benchmark, so it is kept flat: fields are converted only on
    rows that are used, and ``check_box`` (a call per word) runs only once a box has failed.
    """
    min_conf = checked_min_confidence(options, source)
    text = decode(data, source, options)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text.split("\n")
    while lines and not lines[-1].strip():  # the final newline ends the last row
        lines.pop()
    if not lines:
        raise CorpusError(f"{source}: the file is empty; expected Tesseract's TSV "
                          "(tesseract page.png out tsv)")
    _check_tsv_header(lines[0], source)
    pages: list[Page] = []
    words: list[str] | None = None  # the current page's words, None before the first level-1 row
    boxes: list[Box] = []
    page_key, page_num, width, height, dropped = None, 0, 0, 0, 0
    for number, line in enumerate(lines[1:], 2):
        f = line.split("\t")
        if len(f) != 12:
            raise _tsv_row_error(source, number, line, len(f))
        level = f[0]
        if level == "5":
            word = f[11].strip()
            if not word:  # Tesseract writes rows of spaces (rules, specks): not words
                continue
            if f[1] != page_key:
                raise _tsv_page_error(source, number, f[1], page_num, words is None)
            try:
                x0, y0, conf = int(f[6]), int(f[7]), float(f[10])
                x1, y1 = x0 + int(f[8]), y0 + int(f[9])
            except ValueError:
                raise _tsv_number_error(source, number, f) from None
            if not (0 <= x0 <= x1 <= width and 0 <= y0 <= y1 <= height):
                check_box((x0, y0, x1, y1), width, height, f"{source}, line {number}")
            if not 0 <= conf <= 100:
                raise CorpusError(f"{source}, line {number}: conf must be 0-100 for a word, got {f[10]!r}")
            if conf < min_conf:  # a user's choice, documented: not a silent drop
                dropped += 1
                continue
            words.append(word)
            boxes.append((x0, y0, x1, y1))
        elif level == "1":
            if words is not None:
                pages.append(_tsv_page(source, words, boxes, width, height, page_num, min_conf, dropped))
            page_key, page_num, width, height = _tsv_page_row(source, number, f, pages)
            words, boxes, dropped = [], [], 0
        elif level not in ("2", "3", "4"):
            raise CorpusError(f"{source}, line {number}: level must be 1-5 (page, block, paragraph, "
                              f"line, word), got {level!r}")
    if words is None:
        raise CorpusError(f"{source}: no page (level-1) rows after the header; is the file cut short?")
    pages.append(_tsv_page(source, words, boxes, width, height, page_num, min_conf, dropped))
    return pages


def _check_tsv_header(line: str, source: str) -> None:
    names = line.rstrip("\r").split("\t")
    if tuple(names) == TSV_COLUMNS:
        return
    missing = [c for c in TSV_COLUMNS if c not in names]
    if missing:
        raise CorpusError(f"{source}, line 1: the header lacks Tesseract's column(s) {', '.join(missing)}; "
                          f"expected the 12 tab-separated columns {' '.join(TSV_COLUMNS)} "
                          "(tesseract page.png out tsv)")
    raise CorpusError(f"{source}, line 1: the header must be exactly Tesseract's 12 tab-separated "
                      f"columns {' '.join(TSV_COLUMNS)}, got {' '.join(names)}")


def _tsv_row_error(source: str, number: int, line: str, fields: int) -> CorpusError:
    if not line.strip():
        return CorpusError(f"{source}, line {number}: blank line; every line after the header is a "
                           "row of 12 tab-separated fields, remove it")
    return CorpusError(f"{source}, line {number}: {fields} tab-separated fields, expected 12 "
                       f"({' '.join(TSV_COLUMNS)}); got {line[:80]!r}")


def _tsv_number_error(source: str, number: int, f: list[str]) -> CorpusError:
    bad = [f"{TSV_COLUMNS[i]}={f[i]!r}" for i in (1, 6, 7, 8, 9, 10) if not _parses(f[i], i != 10)]
    return CorpusError(f"{source}, line {number}: not a number: {', '.join(bad)}")


def _parses(text: str, integer: bool) -> bool:
    try:
        int(text) if integer else float(text)
    except ValueError:
        return False
    return True


def _tsv_page_error(source: str, number: int, got: str, page_num: int, before_page: bool) -> CorpusError:
    if before_page:
        return CorpusError(f"{source}, line {number}: a word row before any page (level-1) row; "
                           "each page starts with a level-1 row giving its size")
    return CorpusError(f"{source}, line {number}: word row with page_num {got!r} inside page {page_num}; "
                       "a new page must start with its own level-1 row")


def _tsv_page_row(source: str, number: int, f: list[str], pages: list[Page]) -> tuple[str, int, int, int]:
    """A level-1 row -> ``(page_num as written, page_num, page width, page height)``."""
    try:
        page_num, left, top, width, height = (int(f[i]) for i in (1, 6, 7, 8, 9))
    except ValueError:
        raise _tsv_number_error(source, number, f) from None
    if width <= 0 or height <= 0 or left < 0 or top < 0:
        raise CorpusError(f"{source}, line {number}: page {page_num} has size {width} x {height} at "
                          f"({left}, {top}); a page needs a positive width and height")
    if page_num < 1 or any(p.number == page_num for p in pages):
        raise CorpusError(f"{source}, line {number}: page_num {page_num} is not a new page number "
                          "(expected 1, 2, ... once each)")
    # word boxes are in the image's coordinates; a page row that does not start at 0 (tesseract run
    # on a rectangle) leaves a margin, so the page spans from 0 to its far edge
    return f[1], page_num, left + width, top + height


def _tsv_page(source: str, words: list[str], boxes: list[Box], width: int, height: int,
              number: int, min_conf: float, dropped: int) -> Page:
    if not words:
        raise no_words_error(source, number, min_conf, dropped)
    return Page(tuple(words), tuple(boxes), width, height, number)


# ---------------------------------------------------------------- XML: hOCR and ALTO

def _parse_xml(data: bytes, source: str, options: ReadOptions, hint: str) -> ET.Element:
    """Decode with ``options.encoding`` (so the XML declaration's encoding is not consulted) and parse.

    Safe on hostile files: expat (2.4+, Python ships 2.5) refuses entity-expansion bombs ("billion
    laughs"), and ElementTree never fetches external entities or DTDs (Tesseract's hOCR names one).
    """
    text = decode(data, source, options)
    try:
        return ET.fromstring(text)
    except ET.ParseError as e:
        line, column = e.position
        reason = re.sub(r":\s*line \d+, column \d+$", "", str(e))
        raise CorpusError(f"{source}, line {line}, column {column + 1}: not well-formed XML ({reason}); "
                          f"{hint}") from None


def _local(name: str) -> str:
    """``{namespace}Page`` -> ``Page``: ALTO v2, v3, v4 and none all read alike."""
    return name.rpartition("}")[2]


def _attrs(element: ET.Element) -> dict[str, str]:
    """An element's attributes by local name (namespaces must not matter)."""
    return {_local(k): v for k, v in element.attrib.items()}


def _describe(element: ET.Element, attrs: dict[str, str], fallback: str) -> str:
    """``span id='word_1_3'``: how an error names an element (its id, else ``fallback``)."""
    ident = attrs.get("id") or attrs.get("ID")
    return f"<{_local(element.tag)} id={ident!r}>" if ident else fallback


_QUOTED = re.compile(r'"[^"]*"')


def _hocr_properties(title: str) -> dict[str, list[str]]:
    """``'image "a;b.png"; bbox 0 0 10 20; x_wconf 96'`` -> ``{"bbox": ["0", "0", "10", "20"], ...}``."""
    properties = {}
    for part in _QUOTED.sub('""', title).split(";"):  # a quoted file name may hold ';'
        key, *values = part.split() or [""]
        if key:
            properties[key] = values
    return properties


def _hocr_bbox(element: ET.Element, attrs: dict[str, str], where: str) -> tuple[dict, Box]:
    """An hOCR element's title properties and its ``bbox`` (``x0 y0 x1 y1``)."""
    properties = _hocr_properties(attrs.get("title", ""))
    values = properties.get("bbox")
    if values is None or len(values) != 4:
        raise CorpusError(f"{where}: no 'bbox x0 y0 x1 y1' in its title {attrs.get('title', '')!r}; "
                          "every ocr_page and ocrx_word needs one")
    return properties, tuple(parse_number(v, where, "bbox") for v in values)


_HOCR_HINT = ("hOCR must be XHTML (as tesseract img out hocr writes it); convert HTML hOCR, e.g. "
              "with &nbsp; entities or unclosed tags, to XHTML first")


def _classes(attrs: dict[str, str]) -> list[str]:
    return attrs.get("class", "").split()


def parse_hocr(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """hOCR -> its pages: ``ocr_page`` elements, and the ``ocrx_word`` elements inside each.

    The page size is the page bbox's far corner ``(x1, y1)``: word boxes are in the image's
    coordinates, so a page bbox that does not start at 0 only adds a margin and never pushes a
    word off the page (Tesseract always writes ``bbox 0 0 W H``).
    """
    min_conf = checked_min_confidence(options, source)
    root = _parse_xml(data, source, options, _HOCR_HINT)
    page_elements = [el for el in root.iter() if "ocr_page" in _classes(_attrs(el))]
    if not page_elements:
        raise CorpusError(f"{source}: no element with class 'ocr_page'; is it hOCR? "
                          "(tesseract img out hocr writes one per page)")
    sizes, ppagenos, word_lists = [], [], []
    for i, element in enumerate(page_elements, 1):
        attrs = _attrs(element)
        where = f"{source}, {_describe(element, attrs, f'ocr_page {i}')}"
        properties, (x0, y0, x1, y1) = _hocr_bbox(element, attrs, where)
        if not (0 <= x0 < x1 and 0 <= y0 < y1):
            raise CorpusError(f"{where}: page bbox {x0} {y0} {x1} {y1} is not a page; "
                              "expected 'bbox 0 0 width height' with width, height > 0")
        sizes.append((x1, y1))
        ppagenos.append((properties.get("ppageno") or [None])[0])
        word_lists.append([el for el in element.iter() if "ocrx_word" in _classes(_attrs(el))])
    _check_all_words_on_pages(root, word_lists, source)
    numbers = page_numbers(ppagenos, source, "ppageno")
    return [_hocr_page(source, words, size, number, min_conf)
            for words, size, number in zip(word_lists, sizes, numbers)]


def _check_all_words_on_pages(root: ET.Element, word_lists: list[list[ET.Element]], source: str) -> None:
    on_pages = {id(el) for words in word_lists for el in words}
    for el in root.iter():
        attrs = _attrs(el)
        if "ocrx_word" in _classes(attrs) and id(el) not in on_pages:
            raise CorpusError(f"{source}, {_describe(el, attrs, 'an ocrx_word')}: a word outside any "
                              "ocr_page; words must sit inside their page's element")


def _hocr_page(source: str, elements: list[ET.Element], size: tuple[float, float], number: int,
               min_conf: float) -> Page:
    words, boxes, dropped = [], [], 0
    for i, element in enumerate(elements, 1):
        attrs = _attrs(element)
        text = "".join(element.itertext()).strip()  # Tesseract may wrap a word in <strong>/<em>
        if not text:  # not a word, like Tesseract's blank TSV rows
            continue
        where = f"{source}, page {number}, {_describe(element, attrs, f'ocrx_word {i}')}"
        properties, box = _hocr_bbox(element, attrs, where)
        check_box(box, size[0], size[1], where)
        conf = properties.get("x_wconf")
        if conf is not None:  # words without a confidence are kept
            value = parse_number(conf[0] if len(conf) == 1 else " ".join(conf), where, "x_wconf")
            if not 0 <= value <= 100:
                raise CorpusError(f"{where}: x_wconf must be 0-100, got {value}")
            if value < min_conf:
                dropped += 1
                continue
        words.append(text)
        boxes.append(box)
    if not words:
        raise no_words_error(source, number, min_conf, dropped)
    return Page(tuple(words), tuple(boxes), size[0], size[1], number)


_ALTO_HINT = "ALTO must be well-formed XML (as tesseract img out alto writes it)"


def parse_alto(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """ALTO XML -> its pages: ``Page`` elements and the ``String`` elements inside each.

    Units (pixel, mm10, inch1200: ``MeasurementUnit``) do not matter: a page's boxes and its
    ``WIDTH``/``HEIGHT`` share them, and ``Page.bboxes()`` divides one by the other.
    """
    min_conf = checked_min_confidence(options, source)
    root = _parse_xml(data, source, options, _ALTO_HINT)
    page_elements = [el for el in root.iter() if _local(el.tag) == "Page"]
    if not page_elements:
        raise CorpusError(f"{source}: no Page element; is it ALTO XML? (root <{_local(root.tag)}>)")
    strings = [[el for el in page.iter() if _local(el.tag) == "String"] for page in page_elements]
    if sum(map(len, strings)) != sum(1 for el in root.iter() if _local(el.tag) == "String"):
        raise CorpusError(f"{source}: a String outside any Page; words must sit inside their Page")
    attrs = [_attrs(page) for page in page_elements]
    numbers = page_numbers([a.get("PHYSICAL_IMG_NR") for a in attrs], source, "PHYSICAL_IMG_NR")
    pages = []
    for element, page_attrs, page_strings, number in zip(page_elements, attrs, strings, numbers):
        where = f"{source}, {_describe(element, page_attrs, f'Page {number}')}"
        size = tuple(parse_number(page_attrs.get(name), where, name) for name in ("WIDTH", "HEIGHT"))
        if not (size[0] > 0 and size[1] > 0):
            raise CorpusError(f"{where}: WIDTH and HEIGHT must be positive, got {size[0]} x {size[1]}")
        pages.append(_alto_page(source, page_strings, size, number, min_conf))
    return pages


def _alto_page(source: str, elements: list[ET.Element], size: tuple[float, float], number: int,
               min_conf: float) -> Page:
    words, boxes, dropped = [], [], 0
    for i, element in enumerate(elements, 1):
        attrs = _attrs(element)
        text = attrs.get("CONTENT", "").strip()
        if not text:  # not a word, like Tesseract's blank TSV rows
            continue
        where = f"{source}, page {number}, {_describe(element, attrs, f'String {i}')}"
        x0, y0, w, h = (parse_number(attrs.get(name), where, name) for name in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
        box = (x0, y0, x0 + w, y0 + h)
        check_box(box, size[0], size[1], where)
        if "WC" in attrs:  # words without a confidence are kept
            wc = parse_number(attrs["WC"], where, "WC")
            if not 0 <= wc <= 1:
                raise CorpusError(f"{where}: WC must be 0-1 (ALTO's word confidence), got {wc}")
            if wc * 100 < min_conf:
                dropped += 1
                continue
        words.append(text)
        boxes.append(box)
    if not words:
        raise no_words_error(source, number, min_conf, dropped)
    return Page(tuple(words), tuple(boxes), size[0], size[1], number)


# ---------------------------------------------------------------- FUNSD JSON

# FUNSD's scans are 1000 px high and at most 809 px wide (max x1 809, max y1 1000 over its 199 files)
_FUNSD_HINT = "for FUNSD pass page_size=(1000, 1000) (its scans are 1000 px high and up to ~810 px wide)"


def parse_funsd(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """FUNSD-style JSON -> one page; words in entity order, then word order within an entity."""
    text = decode(data, source, options)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{source}, line {e.lineno}, column {e.colno}: not JSON ({e.msg})") from None
    except RecursionError:  # a hostile file nested thousands deep
        raise CorpusError(f"{source}: JSON nested too deeply to read; FUNSD files are "
                          "{'form': [{'words': [...]}]}") from None
    except ValueError as e:  # an integer of more than 4300 digits (Python's limit), say
        raise CorpusError(f"{source}: not JSON that can be read ({e})") from None
    if not isinstance(document, dict) or not isinstance(document.get("form"), list):
        raise CorpusError(f"{source}: expected a JSON object with a \"form\" list "
                          "({\"form\": [{\"words\": [{\"box\": [x0, y0, x1, y1], \"text\": ...}]}]})")
    width, height = _funsd_page_size(document, source, options)
    words, boxes = [], []
    for i, entity in enumerate(document["form"]):
        where = f"{source}, form[{i}]"
        if not isinstance(entity, dict) or not isinstance(entity.get("words"), list):
            raise CorpusError(f"{where}: expected an object with a \"words\" list, got {str(entity)[:60]}")
        for j, word in enumerate(entity["words"]):
            text, box = _funsd_word(word, f"{where}.words[{j}]")
            if text:  # FUNSD has a few hundred words of blank text (see tests): not words
                check_box(box, width, height, f"{where}.words[{j}]")
                words.append(text)
                boxes.append(box)
    if not words:
        raise no_words_error(source, 1, 0.0, 0)
    return [Page(tuple(words), tuple(boxes), width, height, 1)]


def _funsd_page_size(document: dict, source: str, options: ReadOptions) -> tuple[float, float]:
    """``options.page_size``, else XFUND's ``"img": {"width", "height"}``, else an error with the hint."""
    if options.page_size is not None:
        return checked_page_size(options.page_size, source, "page_size=")
    image = document.get("img")
    if isinstance(image, dict) and "width" in image and "height" in image:
        return checked_page_size((image["width"], image["height"]), source, '"img" width and height')
    raise CorpusError(f"{source}: FUNSD JSON does not hold the page size; pass page_size=(width, height) "
                      f"in the boxes' pixels; {_FUNSD_HINT}")


def _funsd_word(word: object, where: str) -> tuple[str, Box]:
    """``{"box": [x0, y0, x1, y1], "text": ...}`` -> ``(stripped text, box)``."""
    if not isinstance(word, dict):
        raise CorpusError(f"{where}: expected {{\"box\": [x0, y0, x1, y1], \"text\": ...}}, got {str(word)[:60]}")
    box, text = word.get("box"), word.get("text")
    if not isinstance(box, list) or len(box) != 4 or not all(is_finite(v) for v in box):
        raise CorpusError(f"{where}: \"box\" must be [x0, y0, x1, y1], four numbers, got {box!r}")
    if not isinstance(text, str):
        raise CorpusError(f"{where}: \"text\" must be a string, got {text!r}")
    return text.strip(), tuple(box)


# ---------------------------------------------------------------- layout text

_WORD = re.compile(r"\S+")


def parse_layout_text(data: bytes, source: str, options: ReadOptions) -> list[Page]:
    """Text laid out with spaces -> its pages (split at form feeds).

    A line is a row and a character a column (tabs expanded to 8), so a word's box is
    ``(start column, line, end column, line + 1)``. A page is as wide as its longest line and
    as high as its line count: blank lines are layout, not noise.
    """
    parts = decode(data, source, options).split("\f")
    if len(parts) > 1 and not parts[-1].strip():  # pdftotext ends every page with a form feed
        parts.pop()
    pages = []
    for number, part in enumerate(parts, 1):
        page = _layout_page(part, number)
        if page is None:
            where = ("the file is empty" if len(parts) == 1
                     else f"page {number} (between form feeds) is empty")
            raise CorpusError(f"{source}: {where}; a page needs at least one word")
        pages.append(page)
    return pages


def _layout_page(text: str, number: int) -> Page | None:
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":  # the newline ending the last line opens no new one
        lines.pop()
    lines = [line.removesuffix("\r").expandtabs(8) for line in lines]
    words, boxes = [], []
    for row, line in enumerate(lines):
        for match in _WORD.finditer(line):
            words.append(match.group())
            boxes.append((match.start(), row, match.end(), row + 1))
    if not words:
        return None
    return Page(tuple(words), tuple(boxes), max(1, max(map(len, lines))), len(lines), number)
