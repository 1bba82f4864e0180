"""Document readers: every format on small files (real Tesseract 5.3 output, trimmed), every error
case pinned by its message, and counts on the real shared corpora (FARA TSVs, FUNSD JSON).

The TSV, hOCR and ALTO excerpts below are cut from ONE Tesseract 5.3.0 run (``tesseract list.txt
multi -l eng --psm 3 hocr alto tsv``) over two page images rendered at 150 dpi from
``shared/corpora/fara_forms/pdf_samples`` (the top 260 px of a Dissemination Report and a
Short-Form, rendered with pypdfium2, never their text layer): the same lines of the same pages in
each format, so the three readers must agree word for word and box for box. Tesseract is not
needed to run these tests.
"""
import json
import statistics
import tarfile
from collections import defaultdict
from pathlib import Path

import pytest

from textkit.documents import (DOCUMENT_OPTIONS, PARSERS, Page, infer_document_format, parse_alto,
                               parse_funsd, parse_hocr, parse_layout_text, parse_ocr_tsv, read_document)
from textkit.formats import CorpusError, ReadOptions

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"shared corpora not found at {SHARED}")

OPTIONS = ReadOptions()
HEADER = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"

# --- real Tesseract 5.3 output, trimmed to two lines of page 1 and one line of page 2 -------------

# the \x20 is Tesseract's own: a word row holding a space (here a scanned rule), which is not a word
TSV = HEADER + """
1\t1\t0\t0\t0\t0\t0\t0\t1272\t260\t-1\t
2\t1\t1\t0\t0\t0\t0\t0\t1272\t93\t-1\t
3\t1\t1\t1\t0\t0\t0\t0\t1272\t93\t-1\t
4\t1\t1\t1\t1\t0\t0\t0\t1272\t93\t-1\t
5\t1\t1\t1\t1\t1\t0\t0\t1272\t93\t95.000000\t\x20
2\t1\t2\t0\t0\t0\t59\t95\t1155\t29\t-1\t
3\t1\t2\t1\t0\t0\t59\t95\t1155\t29\t-1\t
4\t1\t2\t1\t1\t0\t59\t95\t1154\t18\t-1\t
5\t1\t2\t1\t1\t1\t59\t109\t2\t4\t0.000000\t;
5\t1\t2\t1\t1\t2\t660\t100\t3\t2\t0.000000\t.
5\t1\t2\t1\t1\t3\t708\t99\t2\t3\t42.007748\t+
5\t1\t2\t1\t1\t4\t739\t99\t2\t3\t0.000000\t.
5\t1\t2\t1\t1\t5\t1101\t91\t28\t21\t67.174057\t\u2018OMB
5\t1\t2\t1\t1\t6\t1136\t91\t20\t21\t91.651924\tNo.
5\t1\t2\t1\t1\t7\t1163\t95\t50\t10\t77.341339\t1105-0006
2\t1\t3\t0\t0\t0\t78\t134\t197\t20\t-1\t
3\t1\t3\t1\t0\t0\t78\t134\t197\t20\t-1\t
4\t1\t3\t1\t1\t0\t78\t134\t197\t20\t-1\t
5\t1\t3\t1\t1\t1\t78\t134\t100\t20\t96.112839\tWashington,
5\t1\t3\t1\t1\t2\t188\t134\t27\t15\t96.112839\tDC
5\t1\t3\t1\t1\t3\t224\t134\t51\t15\t96.772812\t20530
1\t2\t0\t0\t0\t0\t0\t0\t1267\t260\t-1\t
2\t2\t1\t0\t0\t0\t168\t30\t787\t43\t-1\t
3\t2\t1\t1\t0\t0\t168\t30\t787\t43\t-1\t
4\t2\t1\t1\t1\t0\t168\t30\t787\t27\t-1\t
5\t2\t1\t1\t1\t1\t168\t31\t102\t20\t96.832176\tReceived
5\t2\t1\t1\t1\t2\t278\t31\t27\t26\t93.290367\tby
5\t2\t1\t1\t1\t3\t313\t31\t138\t20\t91.913307\tNSD/FARA
5\t2\t1\t1\t1\t4\t460\t31\t135\t25\t95.741348\tRegistration
5\t2\t1\t1\t1\t5\t603\t31\t50\t19\t95.384132\tUnit
5\t2\t1\t1\t1\t6\t676\t30\t126\t20\t91.255371\t06/08/2017
5\t2\t1\t1\t1\t7\t823\t30\t83\t20\t91.255371\t5:06:28
5\t2\t1\t1\t1\t8\t915\t31\t40\t19\t96.807457\tPM
"""

HOCR = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title></title>
  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
  <meta name='ocr-system' content='tesseract 5.3.0' />
  <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>
 </head>
 <body>
  <div class='ocr_page' id='page_1' title='image "/tmp/ocr/p1.png"; bbox 0 0 1272 260; ppageno 0; scan_res 150 150'>
   <div class='ocr_photo' id='block_1_1' title="bbox 0 0 1272 93"></div>
   <div class='ocr_carea' id='block_1_2' title="bbox 59 95 1214 124">
    <p class='ocr_par' id='par_1_1' lang='eng' title="bbox 59 95 1214 124">
     <span class='ocr_caption' id='line_1_1' title="bbox 59 95 1213 113; baseline 0.005 -15; x_size 12.5; x_descenders 2.5; x_ascenders 4.318182">
      <span class='ocrx_word' id='word_1_1' title='bbox 59 109 61 113; x_wconf 0'>;</span>
      <span class='ocrx_word' id='word_1_2' title='bbox 660 100 663 102; x_wconf 0'>.</span>
      <span class='ocrx_word' id='word_1_3' title='bbox 708 99 710 102; x_wconf 42'>+</span>
      <span class='ocrx_word' id='word_1_4' title='bbox 739 99 741 102; x_wconf 0'>.</span>
      <span class='ocrx_word' id='word_1_5' title='bbox 1101 91 1129 112; x_wconf 67'>\u2018OMB</span>
      <span class='ocrx_word' id='word_1_6' title='bbox 1136 91 1156 112; x_wconf 91'>No.</span>
      <span class='ocrx_word' id='word_1_7' title='bbox 1163 95 1213 105; x_wconf 77'>1105-0006</span>
     </span>
    </p>
   </div>
   <div class='ocr_carea' id='block_1_3' title="bbox 78 134 275 154">
    <p class='ocr_par' id='par_1_2' lang='eng' title="bbox 78 134 275 154">
     <span class='ocr_line' id='line_1_3' title="bbox 78 134 275 154; baseline -0.005 -4; x_size 19; x_descenders 4; x_ascenders 5">
      <span class='ocrx_word' id='word_1_19' title='bbox 78 134 178 154; x_wconf 96'>Washington,</span>
      <span class='ocrx_word' id='word_1_20' title='bbox 188 134 215 149; x_wconf 96'>DC</span>
      <span class='ocrx_word' id='word_1_21' title='bbox 224 134 275 149; x_wconf 96'>20530</span>
     </span>
    </p>
   </div>
  </div>
  <div class='ocr_page' id='page_2' title='image "/tmp/ocr/p2.png"; bbox 0 0 1267 260; ppageno 1; scan_res 150 150'>
   <div class='ocr_carea' id='block_2_1' title="bbox 168 30 955 73">
    <p class='ocr_par' id='par_2_1' lang='eng' title="bbox 168 30 955 73">
     <span class='ocr_line' id='line_2_1' title="bbox 168 30 955 57; baseline -0.001 -6; x_size 26; x_descenders 6; x_ascenders 7">
      <span class='ocrx_word' id='word_2_1' title='bbox 168 31 270 51; x_wconf 96'>Received</span>
      <span class='ocrx_word' id='word_2_2' title='bbox 278 31 305 57; x_wconf 93'>by</span>
      <span class='ocrx_word' id='word_2_3' title='bbox 313 31 451 51; x_wconf 91'>NSD/FARA</span>
      <span class='ocrx_word' id='word_2_4' title='bbox 460 31 595 56; x_wconf 95'>Registration</span>
      <span class='ocrx_word' id='word_2_5' title='bbox 603 31 653 50; x_wconf 95'>Unit</span>
      <span class='ocrx_word' id='word_2_6' title='bbox 676 30 802 50; x_wconf 91'>06/08/2017</span>
      <span class='ocrx_word' id='word_2_7' title='bbox 823 30 906 50; x_wconf 91'>5:06:28</span>
      <span class='ocrx_word' id='word_2_8' title='bbox 915 31 955 50; x_wconf 96'>PM</span>
     </span>
    </p>
   </div>
  </div>
 </body>
</html>
"""

ALTO = """<?xml version="1.0" encoding="UTF-8"?>
<alto xmlns="http://www.loc.gov/standards/alto/ns-v3#" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.loc.gov/standards/alto/ns-v3# http://www.loc.gov/alto/v3/alto-3-0.xsd">
\t<Description>
\t\t<MeasurementUnit>pixel</MeasurementUnit>
\t\t<sourceImageInformation>
\t\t\t<fileName>/tmp/ocr/p1.png</fileName>
\t\t</sourceImageInformation>
\t\t<OCRProcessing ID="OCR_0">
\t\t\t<ocrProcessingStep>
\t\t\t\t<processingSoftware>
\t\t\t\t\t<softwareName>tesseract 5.3.0</softwareName>
\t\t\t\t</processingSoftware>
\t\t\t</ocrProcessingStep>
\t\t</OCRProcessing>
\t</Description>
\t<Layout>
\t\t<Page WIDTH="1272" HEIGHT="260" PHYSICAL_IMG_NR="0" ID="page_0">
\t\t\t<PrintSpace HPOS="0" VPOS="0" WIDTH="1272" HEIGHT="260">
\t\t\t\t<Illustration ID="cblock_0" HPOS="0" VPOS="0" WIDTH="1272" HEIGHT="93"></Illustration>
\t\t\t\t<ComposedBlock ID="cblock_1" HPOS="59" VPOS="95" WIDTH="1155" HEIGHT="29">
\t\t\t\t\t<TextBlock ID="block_0" HPOS="59" VPOS="95" WIDTH="1155" HEIGHT="29">
\t\t\t\t\t\t<TextLine ID="line_0" HPOS="59" VPOS="95" WIDTH="1154" HEIGHT="18">
\t\t\t\t\t\t\t<String ID="string_0" HPOS="59" VPOS="109" WIDTH="2" HEIGHT="4" WC="0.0" CONTENT=";"/><SP WIDTH="599" VPOS="109" HPOS="61"/>
\t\t\t\t\t\t\t<String ID="string_1" HPOS="660" VPOS="100" WIDTH="3" HEIGHT="2" WC="0.0" CONTENT="."/><SP WIDTH="45" VPOS="100" HPOS="663"/>
\t\t\t\t\t\t\t<String ID="string_2" HPOS="708" VPOS="99" WIDTH="2" HEIGHT="3" WC="0.42" CONTENT="+"/><SP WIDTH="29" VPOS="99" HPOS="710"/>
\t\t\t\t\t\t\t<String ID="string_3" HPOS="739" VPOS="99" WIDTH="2" HEIGHT="3" WC="0.0" CONTENT="."/><SP WIDTH="360" VPOS="99" HPOS="741"/>
\t\t\t\t\t\t\t<String ID="string_4" HPOS="1101" VPOS="91" WIDTH="28" HEIGHT="21" WC="0.67" CONTENT="\u2018OMB"/><SP WIDTH="7" VPOS="91" HPOS="1129"/>
\t\t\t\t\t\t\t<String ID="string_5" HPOS="1136" VPOS="91" WIDTH="20" HEIGHT="21" WC="0.91" CONTENT="No."/><SP WIDTH="7" VPOS="91" HPOS="1156"/>
\t\t\t\t\t\t\t<String ID="string_6" HPOS="1163" VPOS="95" WIDTH="50" HEIGHT="10" WC="0.77" CONTENT="1105-0006"/>
\t\t\t\t\t\t</TextLine>
\t\t\t\t\t</TextBlock>
\t\t\t\t</ComposedBlock>
\t\t\t\t<ComposedBlock ID="cblock_2" HPOS="78" VPOS="134" WIDTH="197" HEIGHT="20">
\t\t\t\t\t<TextBlock ID="block_1" HPOS="78" VPOS="134" WIDTH="197" HEIGHT="20">
\t\t\t\t\t\t<TextLine ID="line_2" HPOS="78" VPOS="134" WIDTH="197" HEIGHT="20">
\t\t\t\t\t\t\t<String ID="string_18" HPOS="78" VPOS="134" WIDTH="100" HEIGHT="20" WC="0.96" CONTENT="Washington,"/><SP WIDTH="10" VPOS="134" HPOS="178"/>
\t\t\t\t\t\t\t<String ID="string_19" HPOS="188" VPOS="134" WIDTH="27" HEIGHT="15" WC="0.96" CONTENT="DC"/><SP WIDTH="9" VPOS="134" HPOS="215"/>
\t\t\t\t\t\t\t<String ID="string_20" HPOS="224" VPOS="134" WIDTH="51" HEIGHT="15" WC="0.96" CONTENT="20530"/>
\t\t\t\t\t\t</TextLine>
\t\t\t\t\t</TextBlock>
\t\t\t\t</ComposedBlock>
\t\t\t\t<GraphicalElement ID="cblock_3" HPOS="733" VPOS="171" WIDTH="481" HEIGHT="16"></GraphicalElement >
\t\t\t</PrintSpace>
\t\t</Page>
\t\t<Page WIDTH="1267" HEIGHT="260" PHYSICAL_IMG_NR="1" ID="page_1">
\t\t\t<PrintSpace HPOS="0" VPOS="0" WIDTH="1267" HEIGHT="260">
\t\t\t\t<ComposedBlock ID="cblock_0" HPOS="168" VPOS="30" WIDTH="787" HEIGHT="43">
\t\t\t\t\t<TextBlock ID="block_0" HPOS="168" VPOS="30" WIDTH="787" HEIGHT="43">
\t\t\t\t\t\t<TextLine ID="line_0" HPOS="168" VPOS="30" WIDTH="787" HEIGHT="27">
\t\t\t\t\t\t\t<String ID="string_0" HPOS="168" VPOS="31" WIDTH="102" HEIGHT="20" WC="0.96" CONTENT="Received"/><SP WIDTH="8" VPOS="31" HPOS="270"/>
\t\t\t\t\t\t\t<String ID="string_1" HPOS="278" VPOS="31" WIDTH="27" HEIGHT="26" WC="0.93" CONTENT="by"/><SP WIDTH="8" VPOS="31" HPOS="305"/>
\t\t\t\t\t\t\t<String ID="string_2" HPOS="313" VPOS="31" WIDTH="138" HEIGHT="20" WC="0.91" CONTENT="NSD/FARA"/><SP WIDTH="9" VPOS="31" HPOS="451"/>
\t\t\t\t\t\t\t<String ID="string_3" HPOS="460" VPOS="31" WIDTH="135" HEIGHT="25" WC="0.95" CONTENT="Registration"/><SP WIDTH="8" VPOS="31" HPOS="595"/>
\t\t\t\t\t\t\t<String ID="string_4" HPOS="603" VPOS="31" WIDTH="50" HEIGHT="19" WC="0.95" CONTENT="Unit"/><SP WIDTH="23" VPOS="31" HPOS="653"/>
\t\t\t\t\t\t\t<String ID="string_5" HPOS="676" VPOS="30" WIDTH="126" HEIGHT="20" WC="0.91" CONTENT="06/08/2017"/><SP WIDTH="21" VPOS="30" HPOS="802"/>
\t\t\t\t\t\t\t<String ID="string_6" HPOS="823" VPOS="30" WIDTH="83" HEIGHT="20" WC="0.91" CONTENT="5:06:28"/><SP WIDTH="9" VPOS="30" HPOS="906"/>
\t\t\t\t\t\t\t<String ID="string_7" HPOS="915" VPOS="31" WIDTH="40" HEIGHT="19" WC="0.96" CONTENT="PM"/>
\t\t\t\t\t\t</TextLine>
\t\t\t\t\t</TextBlock>
\t\t\t\t</ComposedBlock>
\t\t\t</PrintSpace>
\t\t</Page>
\t</Layout>
</alto>
"""

PAGE1_WORDS = (";", ".", "+", ".", "\u2018OMB", "No.", "1105-0006", "Washington,", "DC", "20530")
PAGE2_WORDS = ("Received", "by", "NSD/FARA", "Registration", "Unit", "06/08/2017", "5:06:28", "PM")


def tsv(*rows: str) -> bytes:
    """A Tesseract TSV file: the header, then ``rows`` written with spaces between the first 12
    fields (the text field keeps its own spaces) or, where a row holds a tab, as it is."""
    rows = [row if "\t" in row else "\t".join(row.split(" ", 11)) for row in rows]
    return "\n".join([HEADER, *rows]).encode() + b"\n"


PAGE_ROW = "1 1 0 0 0 0 0 0 100 50 -1 "  # a 100 x 50 page, empty text field
WORD_ROW = "5 1 1 1 1 1 10 20 30 5 96.5 word"


def read(parse, text: str | bytes, **options) -> list[Page]:
    """Parse ``text`` with ``parse`` as a file named "f" (the name every error message starts with)."""
    return parse(text.encode() if isinstance(text, str) else text, "f", ReadOptions(**options))


# ---------------------------------------------------------------- the same real pages, three formats

@pytest.mark.parametrize("parse, text", [(parse_ocr_tsv, TSV), (parse_hocr, HOCR), (parse_alto, ALTO)],
                         ids=["ocr-tsv", "hocr", "alto"])
def test_real_tesseract_output_reads_alike_in_every_format(parse, text):
    pages = read(parse, text)
    assert [(p.number, p.width, p.height) for p in pages] == [(1, 1272, 260), (2, 1267, 260)]
    assert pages[0].words == PAGE1_WORDS and pages[1].words == PAGE2_WORDS
    assert pages[0].boxes[4] == (1101, 91, 1129, 112)  # left, top, left + width, top + height
    assert pages[1].boxes[-1] == (915, 31, 955, 50)
    assert pages[1].text.startswith("Received by NSD/FARA")
    assert pages[1].bboxes()[0] == [int(168 * 1000 / 1267), int(31 * 1000 / 260),
                                    int(270 * 1000 / 1267), int(51 * 1000 / 260)]
    assert all(0 <= v <= 1000 for p in pages for box in p.bboxes() for v in box)


@pytest.mark.parametrize("parse, text", [(parse_ocr_tsv, TSV), (parse_hocr, HOCR), (parse_alto, ALTO)],
                         ids=["ocr-tsv", "hocr", "alto"])
def test_min_confidence_drops_the_words_the_engine_doubts(parse, text):
    pages = read(parse, text, min_confidence=50)
    assert pages[0].words == ("\u2018OMB", "No.", "1105-0006", "Washington,", "DC", "20530")
    assert pages[1].words == PAGE2_WORDS
    assert len(read(parse, text, min_confidence=0)[0].words) == len(PAGE1_WORDS)
    with pytest.raises(CorpusError, match=r"page 1: min_confidence=97 dropped all 10 words of the page; lower it"):
        read(parse, text, min_confidence=97)


@pytest.mark.parametrize("value", [150, -1, "high", True, float("nan")])
def test_min_confidence_must_be_a_percentage(value):
    with pytest.raises(CorpusError, match=r"f: min_confidence= must be a number from 0 to 100"):
        read(parse_ocr_tsv, TSV, min_confidence=value)


# ---------------------------------------------------------------- Tesseract TSV

def test_tsv_accepts_a_bom_and_crlf_and_strips_spaces_around_words():
    data = b"\xef\xbb\xbf" + tsv(PAGE_ROW, "5 1 1 1 1 1 10 20 30 5 60 \x20Pursnant").replace(b"\n", b"\r\n")
    [page] = read(parse_ocr_tsv, data)
    assert page.words == ("Pursnant",) and page.boxes == ((10, 20, 40, 25),)
    assert (page.width, page.height) == (100, 50)


def test_tsv_page_size_counts_from_the_image_origin():
    # a level-1 row at (10, 5) (tesseract run on a rectangle): word boxes stay in image coordinates
    [page] = read(parse_ocr_tsv, tsv("1 1 0 0 0 0 10 5 100 50 -1 ", "5 1 1 1 1 1 100 50 10 5 90 edge"))
    assert (page.width, page.height) == (110, 55) and page.boxes == ((100, 50, 110, 55),)


@pytest.mark.parametrize("header, message", [
    ("level\tpage_num\tleft\ttop\twidth\theight\ttext", r"f, line 1: the header lacks Tesseract's column\(s\) "
                                                        r"block_num, par_num, line_num, word_num, conf; expected"),
    (HEADER.replace("left\ttop", "top\tleft"), r"f, line 1: the header must be exactly Tesseract's 12"),
    ("text\tlabel", r"lacks Tesseract's column\(s\) level, page_num, .*, conf"),
])
def test_tsv_header_must_be_tesseracts(header, message):
    with pytest.raises(CorpusError, match=message):
        read(parse_ocr_tsv, header + "\n" + PAGE_ROW.replace(" ", "\t") + "\n")


@pytest.mark.parametrize("rows, message", [
    ((PAGE_ROW, "5 1 1 1 1 1 10 20 30 5 96.5"), r"^f, line 3: 11 tab-separated fields, expected 12"),
    ((PAGE_ROW, WORD_ROW.replace(" ", "\t") + "\tmore"), r"^f, line 3: 13 tab-separated fields"),
    ((PAGE_ROW, "", WORD_ROW), r"^f, line 3: blank line; every line after the header is a row"),
    ((PAGE_ROW, "5 1 1 1 1 1 x 20 30 5 96.5 word"), r"^f, line 3: not a number: left='x'$"),
    ((PAGE_ROW, "5 1 1 1 1 1 10 20 3.5 5 high word"), r"^f, line 3: not a number: width='3.5', conf='high'$"),
    (("1 one 0 0 0 0 0 0 100 50 -1 ", WORD_ROW), r"^f, line 2: not a number: page_num='one'$"),
    ((PAGE_ROW, "7 1 1 1 1 1 10 20 30 5 96.5 word"), r"^f, line 3: level must be 1-5 .* got '7'"),
    ((WORD_ROW, PAGE_ROW), r"^f, line 2: a word row before any page \(level-1\) row"),
    ((PAGE_ROW, "5 2 1 1 1 1 10 20 30 5 96.5 word"), r"^f, line 3: word row with page_num '2' inside page 1; "
                                                     r"a new page must start with its own level-1 row"),
    (("1 1 0 0 0 0 0 0 0 50 -1 ", WORD_ROW), r"^f, line 2: page 1 has size 0 x 50 .* positive width"),
    (("1 1 0 0 0 0 0 0 100 -5 -1 ", WORD_ROW), r"^f, line 2: page 1 has size 100 x -5"),
    ((PAGE_ROW, "5 1 1 1 1 1 90 20 30 5 96.5 word"), r"^f, line 3: box \(90, 20, 120, 25\) is not on the "
                                                     r"100 x 50 page"),
    ((PAGE_ROW, "5 1 1 1 1 1 -1 20 30 5 96.5 word"), r"^f, line 3: box \(-1, 20, 29, 25\) is not on the"),
    ((PAGE_ROW, "5 1 1 1 1 1 10 20 30 5 101 word"), r"^f, line 3: conf must be 0-100 for a word, got '101'"),
    ((PAGE_ROW, "4 1 1 1 1 0 10 20 30 5 -1 ", "5 1 1 1 1 1 10 20 30 5 95 \x20"),
     r"^f, page 1: the page has no words \(a blank or unreadable scan\)"),
    ((PAGE_ROW, WORD_ROW, PAGE_ROW.replace("1 1", "1 2", 1)),
     r"^f, page 2: the page has no words"),  # the last page is checked too
    ((PAGE_ROW, WORD_ROW, PAGE_ROW, WORD_ROW), r"^f, line 4: page_num 1 is not a new page number"),
    ((), r"^f: no page \(level-1\) rows after the header"),
])
def test_tsv_errors_name_the_file_and_line(rows, message):
    with pytest.raises(CorpusError, match=message):
        read(parse_ocr_tsv, tsv(*rows))


def test_tsv_skips_structure_rows_without_converting_them():
    # levels 2-4 hold no words; their fields are not even read (speed), only counted
    [page] = read(parse_ocr_tsv, tsv(PAGE_ROW, "2 1 1 0 0 0 ? ? ? ? ? ", WORD_ROW))
    assert page.words == ("word",)


def test_tsv_empty_and_undecodable_files():
    with pytest.raises(CorpusError, match=r"^f: the file is empty; expected Tesseract's TSV"):
        read(parse_ocr_tsv, b"\n\n")
    with pytest.raises(CorpusError, match=r"^f, line 3, byte offset \d+: cannot decode b'\\xff' as utf-8"):
        read(parse_ocr_tsv, tsv(PAGE_ROW, WORD_ROW).replace(b"\tword\n", b"\tw\xff\n"))
    [page] = read(parse_ocr_tsv, tsv(PAGE_ROW, WORD_ROW).replace(b"\tword\n", b"\tw\xe9\n"), encoding="latin-1")
    assert page.words == ("w\xe9",)


# ---------------------------------------------------------------- hOCR

def test_hocr_namespace_does_not_matter():
    no_namespace = HOCR.replace(' xmlns="http://www.w3.org/1999/xhtml"', "")
    prefixed = HOCR.replace("<html xmlns=", "<h:html xmlns:h=").replace("</html>", "</h:html>")
    assert read(parse_hocr, no_namespace) == read(parse_hocr, HOCR) == read(parse_hocr, prefixed)


def hocr(words: str, page_title: str = "bbox 0 0 100 50; ppageno 0", page_id: str = "page_1") -> str:
    """A minimal hOCR file: one ocr_page holding ``words`` (markup)."""
    return (f'<html xmlns="http://www.w3.org/1999/xhtml"><body>\n'
            f"<div class='ocr_page' id='{page_id}' title='{page_title}'>\n{words}\n</div>\n</body></html>")


WORD = "<span class='ocrx_word' id='w1' title='bbox 10 20 40 25; x_wconf 96'>word</span>"


def test_hocr_word_text_is_all_text_inside_and_blank_words_are_not_words():
    words = ("<span class='ocrx_word' id='w1' title='bbox 10 20 40 25; x_wconf 96'><strong>bold</strong></span>"
             "<span class='ocrx_word' id='w2' title='bbox 10 20 40 25'>  <em>it</em>alic </span>"
             "<span class='ocrx_word' id='w3' title='bbox 10 20 40 25; x_wconf 10'>  </span>")
    [page] = read(parse_hocr, hocr(words), min_confidence=50)
    assert page.words == ("bold", "italic")  # w2 has no x_wconf: kept whatever min_confidence is


def test_hocr_title_may_quote_a_file_name_holding_semicolons():
    title = 'image "C:/scans/a; bbox 9 9 9 9.png"; bbox 0 0 100 50; ppageno 4'
    [page] = read(parse_hocr, hocr(WORD, page_title=title))
    assert (page.width, page.height, page.number) == (100, 50, 4)  # ppageno numbered from 1 here


def test_hocr_page_size_is_the_far_corner_of_the_page_bbox():
    [page] = read(parse_hocr, hocr(WORD, page_title="bbox 5 10 100 50"))
    assert (page.width, page.height, page.number) == (100, 50, 1)


@pytest.mark.parametrize("text, message", [
    (hocr(WORD).replace("</div>", ""), r"^f, line 5, column 3: not well-formed XML \(mismatched tag\); hOCR must "
                                       r"be XHTML"),
    (hocr(WORD.replace(">word<", ">a&nbsp;b<")), r"^f, line 3, column \d+: not well-formed XML "
                                                  r"\(undefined entity\).*convert HTML hOCR"),
    (hocr(WORD.replace("bbox 10 20 40 25; ", "")), r"^f, page 1, <span id='w1'>: no 'bbox x0 y0 x1 y1' in its "
                                                   r"title 'x_wconf 96'"),
    (hocr(WORD.replace("bbox 10 20 40 25", "bbox 10 20 40")), r"^f, page 1, <span id='w1'>: no 'bbox"),
    (hocr(WORD.replace("bbox 10 20 40 25", "bbox 10 20 40 2x")), r"^f, page 1, <span id='w1'>: bbox must be a "
                                                                 r"number, got '2x'"),
    (hocr(WORD.replace(" id='w1'", "").replace("bbox 10 20 40 25; ", "")), r"^f, page 1, ocrx_word 1: no 'bbox"),
    (hocr(WORD.replace("bbox 10 20 40 25", "bbox 10 20 140 25")),
     r"^f, page 1, <span id='w1'>: box \(10, 20, 140, 25\) is not on the 100 x 50 page"),
    (hocr(WORD.replace("x_wconf 96", "x_wconf 960")), r"<span id='w1'>: x_wconf must be 0-100, got 960"),
    (hocr(WORD, page_title="image x.png"), r"^f, <div id='page_1'>: no 'bbox x0 y0 x1 y1' in its title"),
    (hocr(WORD, page_title="bbox 0 0 0 50"),
     r"^f, <div id='page_1'>: page bbox 0 0 0 50 is not a page; expected 'bbox 0 0 width height'"),
    (hocr(""), r"^f, page 1: the page has no words \(a blank or unreadable scan\)"),
    (hocr(WORD).replace("class='ocr_page'", "class='ocr_carea'"), r"^f: no element with class 'ocr_page'; "
                                                                  r"is it hOCR\?"),
    (hocr(WORD).replace("</body>", WORD.replace("w1", "w9") + "</body>"), r"^f, <span id='w9'>: a word outside "
                                                                           r"any ocr_page"),
    (hocr(WORD) + hocr(WORD), r"^f, line 5, column 15: not well-formed XML \(junk after"),
])
def test_hocr_errors_name_the_file_and_the_element(text, message):
    with pytest.raises(CorpusError, match=message):
        read(parse_hocr, text)


def test_hocr_two_pages_with_the_same_ppageno_are_an_error():
    two = HOCR.replace("ppageno 1", "ppageno 0")
    with pytest.raises(CorpusError, match=r"^f: two pages have the same ppageno \(0, 0\)"):
        read(parse_hocr, two)


def test_xml_readers_refuse_entity_bombs_and_never_fetch_external_entities():
    laughs = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE html [{laughs}]><html><body>&a9;</body></html>'
    with pytest.raises(CorpusError, match=r"not well-formed XML \(limit on input amplification factor"):
        read(parse_hocr, bomb)
    external = ('<?xml version="1.0"?><!DOCTYPE alto [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                '<alto><Layout><Page WIDTH="9" HEIGHT="9"><String CONTENT="a">&x;</String></Page></Layout></alto>')
    with pytest.raises(CorpusError, match=r"not well-formed XML \(undefined entity &x;\)"):
        read(parse_alto, external)


# ---------------------------------------------------------------- ALTO

def alto_page(strings: str, page: str = 'WIDTH="100" HEIGHT="50" ID="p1"') -> str:
    """An ALTO Page element (``page``: its attributes) holding ``strings`` (markup) in one line."""
    return (f"<Page {page}><PrintSpace><TextBlock><TextLine>\n{strings}\n"
            "</TextLine></TextBlock></PrintSpace></Page>")


def alto(*pages: str, namespace: str = "") -> str:
    """A minimal ALTO file holding ``pages`` (``alto_page`` markup)."""
    xmlns = f' xmlns="{namespace}"' if namespace else ""
    return f"<alto{xmlns}><Layout>\n" + "\n".join(pages) + "\n</Layout></alto>"


STRING = '<String ID="s1" HPOS="10" VPOS="20" WIDTH="30" HEIGHT="5" WC="0.96" CONTENT="word"/>'


@pytest.mark.parametrize("namespace", ["", "http://www.loc.gov/standards/alto/ns-v2#",
                                       "http://www.loc.gov/standards/alto/ns-v4#"])
def test_alto_any_version_or_no_namespace(namespace):
    [page] = read(parse_alto, alto(alto_page(STRING), namespace=namespace))
    assert page.words == ("word",) and page.boxes == ((10, 20, 40, 25),) and page.number == 1
    assert read(parse_alto, ALTO.replace("ns-v3#", "ns-v4#")) == read(parse_alto, ALTO)


def test_alto_units_do_not_matter_once_boxes_are_normalised():
    # the same word in mm10 (floats allowed) and in pixels at 300 dpi: 2159 mm10 = 8.5 in = 2550 px
    mm10 = alto(alto_page('<String HPOS="215.9" VPOS="0" WIDTH="1079.5" HEIGHT="279.4" CONTENT="half"/>',
                          page='WIDTH="2159" HEIGHT="2794"'))
    pixels = alto(alto_page('<String HPOS="255" VPOS="0" WIDTH="1275" HEIGHT="330" CONTENT="half"/>',
                            page='WIDTH="2550" HEIGHT="3300"'))
    [a], [b] = read(parse_alto, mm10), read(parse_alto, pixels)
    assert a.boxes == ((215.9, 0, 1295.4, 279.4),) and a.bboxes() == b.bboxes() == [[100, 0, 600, 100]]


def test_alto_page_numbers_and_blank_strings():
    two = alto(alto_page(STRING, page='WIDTH="100" HEIGHT="50" PHYSICAL_IMG_NR="7"'),
               alto_page(STRING, page='WIDTH="100" HEIGHT="50" PHYSICAL_IMG_NR="8"'))
    assert [p.number for p in read(parse_alto, two)] == [7, 8]  # numbered from 1 already: kept
    unnumbered = two.replace(' PHYSICAL_IMG_NR="7"', "")
    assert [p.number for p in read(parse_alto, unnumbered)] == [1, 2]  # one missing: the order
    [page] = read(parse_alto, alto(alto_page(STRING + STRING.replace('CONTENT="word"', 'CONTENT=" "')
                                             + STRING.replace(' WC="0.96"', ""))), min_confidence=99)
    assert page.words == ("word",)  # the blank String is no word; the one without WC is kept


def one_page(strings: str, page: str = 'WIDTH="100" HEIGHT="50" ID="p1"') -> str:
    return alto(alto_page(strings, page))


@pytest.mark.parametrize("text, message", [
    (one_page(STRING.replace(' HPOS="10"', "")), r"^f, page 1, <String id='s1'>: HPOS must be a number, got None"),
    (one_page(STRING.replace('HEIGHT="5"', 'HEIGHT="five"')),
     r"^f, page 1, <String id='s1'>: HEIGHT must be a number, got 'five'"),
    (one_page(STRING.replace(' ID="s1"', "").replace(' VPOS="20"', "")),
     r"^f, page 1, String 1: VPOS must be a number"),  # no ID: named by its place
    (one_page(STRING.replace('WIDTH="30"', 'WIDTH="300"')),
     r"^f, page 1, <String id='s1'>: box \(10, 20, 310, 25\) is not on the 100 x 50 page"),
    (one_page(STRING.replace('WC="0.96"', 'WC="96"')),
     r"<String id='s1'>: WC must be 0-1 \(ALTO's word confidence\)"),
    (one_page(STRING.replace('HPOS="10"', 'HPOS="inf"')), r"<String id='s1'>: HPOS must be a finite number"),
    (one_page(STRING, page='HEIGHT="50" ID="p1"'), r"^f, <Page id='p1'>: WIDTH must be a number, got None"),
    (one_page(STRING, page='WIDTH="0" HEIGHT="50" ID="p1"'),
     r"^f, <Page id='p1'>: WIDTH and HEIGHT must be positive"),
    (one_page(STRING, page='WIDTH="100" HEIGHT="50" PHYSICAL_IMG_NR="1.5"'),
     r"^f: PHYSICAL_IMG_NR must be whole numbers >= 0, got 1.5"),
    (one_page(STRING.replace('CONTENT="word"', 'CONTENT=""')), r"^f, page 1: the page has no words"),
    (one_page(STRING).replace("Page", "Pages"), r"^f: no Page element; is it ALTO XML\? \(root <alto>\)"),
    (one_page(STRING).replace("</Layout>", STRING + "</Layout>"), r"^f: a String outside any Page"),
    (one_page(STRING).replace('CONTENT="word"', 'CONTENT="a<b"'),
     r"^f, line 3, column \d+: not well-formed XML \(not well-formed \(invalid token\)\); ALTO"),
])
def test_alto_errors_name_the_file_and_the_element(text, message):
    with pytest.raises(CorpusError, match=message):
        read(parse_alto, text)


# ---------------------------------------------------------------- FUNSD JSON

FUNSD = {"form": [
    {"id": 0, "text": "DATE: 4/1/98", "label": "question", "box": [10, 10, 90, 20],
     "words": [{"box": [10, 10, 50, 20], "text": "DATE:"}, {"box": [55, 10, 90, 20], "text": "4/1/98"}],
     "linking": []},
    {"id": 1, "text": "", "label": "other", "box": [0, 0, 5, 5], "words": [{"box": [0, 0, 5, 5], "text": " "}]},
    {"id": 2, "text": "TO", "label": "header", "box": [10, 30, 30, 40],
     "words": [{"box": [10, 30, 30, 40], "text": " TO "}]},
]}


def test_funsd_words_in_entity_then_word_order_blank_words_dropped():
    [page] = read(parse_funsd, json.dumps(FUNSD), page_size=(100, 50))
    assert page.words == ("DATE:", "4/1/98", "TO") and page.boxes[2] == (10, 30, 30, 40)
    assert (page.width, page.height, page.number) == (100, 50, 1)


def test_funsd_page_size_from_xfund_style_img_and_options_win():
    [page] = read(parse_funsd, json.dumps({**FUNSD, "img": {"fname": "a.jpg", "width": 120, "height": 60}}))
    assert (page.width, page.height) == (120, 60)
    [page] = read(parse_funsd, json.dumps({**FUNSD, "img": {"width": 120, "height": 60}}), page_size=[200, 80])
    assert (page.width, page.height) == (200, 80)


@pytest.mark.parametrize("text, options, message", [
    (json.dumps(FUNSD), {}, r"^f: FUNSD JSON does not hold the page size; pass page_size=\(width, height\) .*"
                            r"for FUNSD pass page_size=\(1000, 1000\) \(its scans are 1000 px high"),
    (json.dumps(FUNSD), {"page_size": (100,)}, r"^f: page_size= must be \(width, height\), two positive numbers"),
    (json.dumps(FUNSD), {"page_size": (100, 0)}, r"^f: page_size= must be \(width, height\)"),
    (json.dumps(FUNSD), {"page_size": "100x50"}, r"^f: page_size= must be \(width, height\)"),
    (json.dumps({**FUNSD, "img": {"width": -1, "height": 5}}), {}, r'^f: "img" width and height must be'),
    ('{"form": [\n  {"words": [}\n]}', {}, r"^f, line 2, column 14: not JSON \(Expecting value\)"),
    ("[" * 100_000 + "]" * 100_000, {}, r"^f: JSON nested too deeply to read"),
    ('{"form": [{"words": [{"box": [1, 2, 3, %s], "text": "a"}]}]}' % ("9" * 400), {"page_size": (9, 9)},
     r'^f, form\[0\].words\[0\]: "box" must be \[x0, y0, x1, y1\], four numbers'),
    ('{"form": %s}' % ("1" * 5000), {}, r"^f: not JSON that can be read \(Exceeds the limit"),
    ('{"forms": []}', {}, r'^f: expected a JSON object with a "form" list'),
    ('{"form": [{"id": 0}]}', {"page_size": (9, 9)}, r'^f, form\[0\]: expected an object with a "words" list'),
    ('{"form": [{"words": [{"box": [1, 2, 3], "text": "a"}]}]}', {"page_size": (9, 9)},
     r'^f, form\[0\].words\[0\]: "box" must be \[x0, y0, x1, y1\], four numbers, got \[1, 2, 3\]'),
    ('{"form": [{"words": [{"box": [1, 2, 3, 4], "text": 5}]}]}', {"page_size": (9, 9)},
     r'^f, form\[0\].words\[0\]: "text" must be a string, got 5'),
    ('{"form": [{"words": [{"box": [1, 2, 30, 4], "text": "a"}]}]}', {"page_size": (9, 9)},
     r"^f, form\[0\].words\[0\]: box \(1, 2, 30, 4\) is not on the 9 x 9 page"),
    ('{"form": [{"words": [{"box": [1, 2, 3, 4], "text": ""}]}]}', {"page_size": (9, 9)},
     r"^f, page 1: the page has no words"),
])
def test_funsd_errors(text, options, message):
    with pytest.raises(CorpusError, match=message):
        read(parse_funsd, text, **options)


# ---------------------------------------------------------------- layout text

def test_layout_text_lines_are_rows_and_characters_columns():
    text = ("INVOICE          No. 17\r\n"
            "\n"
            "Item\tQty\n"
            "\f"
            "  total: 3\n"
            "\f\n")  # pdftotext ends every page with a form feed
    first, second = read(parse_layout_text, text)
    assert first.words == ("INVOICE", "No.", "17", "Item", "Qty")
    assert first.boxes == ((0, 0, 7, 1), (17, 0, 20, 1), (21, 0, 23, 1), (0, 2, 4, 3), (8, 2, 11, 3))
    assert (first.width, first.height, first.number) == (23, 3, 1)  # the blank line is layout
    assert second.words == ("total:", "3") and second.boxes[0] == (2, 0, 8, 1)
    assert (second.width, second.height, second.number) == (10, 1, 2)


def test_layout_text_keeps_leading_blank_lines_and_needs_no_final_newline():
    [page] = read(parse_layout_text, "\n\n   x")
    assert page.boxes == ((3, 2, 4, 3),) and (page.width, page.height) == (4, 3)


@pytest.mark.parametrize("text, message", [
    ("a\n\f\n  \n\fb\n\f", r"^f: page 2 \(between form feeds\) is empty; a page needs at least one word"),
    ("\fb", r"^f: page 1 \(between form feeds\) is empty"),
    ("", r"^f: the file is empty"),
    (" \n\t\n", r"^f: the file is empty"),
])
def test_layout_text_empty_pages_are_errors(text, message):
    with pytest.raises(CorpusError, match=message):
        read(parse_layout_text, text)


# ---------------------------------------------------------------- inferring the format, reading a file

@pytest.mark.parametrize("name, head, expected", [
    ("page.tsv", TSV.encode()[:200], "ocr-tsv"),
    ("page.TSV", b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n1\t1", "ocr-tsv"),
    ("reviews.tsv", b"label\ttext\npos\tgreat\n", None),  # an ordinary TSV corpus
    ("page.hocr", b"<html>", "hocr"),
    ("page.html", HOCR.encode()[:1500], "hocr"),
    ("index.html", b"<html><body>hello</body></html>", None),
    ("page.xml", ALTO.encode()[:300], "alto"),
    ("page.xml", b'<?xml version="1.0"?>\n<!-- <html> -->\n<a:alto xmlns:a="x">', "alto"),
    ("pom.xml", b'<?xml version="1.0"?>\n<project>', None),
    ("00040534.json", b'{\n    "form": [\n        {\n            "box": [', "funsd"),
    ("x.json", b'{"img": {"width": 5, "height": 5}, "form": [', "funsd"),
    ("config.json", b'{"lr": 0.1}', None),
    ("report.txt", b"INVOICE   No. 17\n", None),  # .txt is label-text; layout-text only by name
    ("page.png", b"\x89PNG", None),
])
def test_infer_document_format(name, head, expected):
    assert infer_document_format(name, head) == expected


def test_every_format_has_its_options_listed():
    assert set(DOCUMENT_OPTIONS) == set(PARSERS)


def test_read_document_infers_the_format_and_passes_options(tmp_path):
    (tmp_path / "page.tsv").write_text(TSV, encoding="utf-8")
    (tmp_path / "page.hocr").write_text(HOCR, encoding="utf-8")
    (tmp_path / "page.xml").write_text(ALTO, encoding="utf-8")
    (tmp_path / "form.json").write_text(json.dumps(FUNSD), encoding="utf-8")
    (tmp_path / "report.txt").write_text("a  b\n", encoding="utf-8")
    for name in ("page.tsv", "page.hocr", "page.xml"):
        assert [p.words for p in read_document(tmp_path / name)] == [PAGE1_WORDS, PAGE2_WORDS]
        assert len(read_document(str(tmp_path / name), min_confidence=50)[0].words) == 6
    assert read_document(tmp_path / "form.json", page_size=(100, 50))[0].words == ("DATE:", "4/1/98", "TO")
    assert read_document(tmp_path / "report.txt", format="layout-text", encoding="ascii")[0].words == ("a", "b")
    assert read_document(tmp_path / "page.tsv", min_confidence=None, page_size=None)[1].words == PAGE2_WORDS


@pytest.mark.parametrize("name, format, options, message", [
    ("form.json", None, {"min_confidence": 50},
     r"^min_confidence= does not apply to format 'funsd' \(.*form.json\); it is for formats ocr-tsv, hocr, alto$"),
    ("page.tsv", None, {"page_size": (1, 1)}, r"^page_size= does not apply to format 'ocr-tsv' .*; it is for "
                                              r"formats funsd$"),
    ("page.tsv", None, {"text_column": "text"}, r"^text_column= does not apply to format 'ocr-tsv' .*; it is for "
                                                r"text corpora, not page files"),
    ("page.tsv", None, {"min_conf": 50}, r"^min_conf= is not an option; page files take encoding, errors, "
                                         r"max_compression_ratio, max_member_bytes, max_record_chars, "
                                         r"min_confidence, page_size"),
    ("page.tsv", None, {"encoding": "klingon"}, r"encoding='klingon' is not a codec"),
    ("report.txt", None, {}, r"report.txt: cannot tell the document format from its name and first bytes; "
                             r"pass format= one of ocr-tsv, hocr, alto, funsd, layout-text"),
    ("page.tsv", "pdf", {}, r"^format='pdf' is not a document format; choose one of ocr-tsv, hocr"),
    ("missing.tsv", None, {}, r"missing.tsv: no such file \(working directory"),
    (".", None, {}, r": is a directory, not a file"),
])
def test_read_document_errors(tmp_path, name, format, options, message):
    (tmp_path / "page.tsv").write_text(TSV, encoding="utf-8")
    (tmp_path / "form.json").write_text(json.dumps(FUNSD), encoding="utf-8")
    (tmp_path / "report.txt").write_text("a  b\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=message):
        read_document(tmp_path / name, format, **options)


# ---------------------------------------------------------------- the real shared corpora

@needs_shared
def test_every_fara_tsv_parses_and_word_counts_match_source_md():
    counts = defaultdict(list)
    with tarfile.open(SHARED / "fara_forms" / "fara_forms_ocr.tar.gz") as tf:
        for member in tf:
            if member.isfile():
                pages = parse_ocr_tsv(tf.extractfile(member).read(), member.name, OPTIONS)
                assert len(pages) == 1 and pages[0].number == 1, member.name
                counts[member.name.split("/")[1]].append(len(pages[0].words))
    # SOURCE.md's table: documents, mean, median, min-max words per page (non-blank level-5 rows)
    expected = {"Amendment": (200, 492.8, 539.5, 162, 665),
                "Dissemination_Report": (200, 484.8, 514.5, 71, 574),
                "Short-Form": (200, 605.0, 634.0, 13, 728)}
    found = {c: (len(n), round(statistics.mean(n), 1), statistics.median(n), min(n), max(n))
             for c, n in counts.items()}
    assert found == expected
    assert round(statistics.mean([n for ns in counts.values() for n in ns]), 1) == 527.5


@needs_shared
@pytest.mark.parametrize("split, pages, words, blank, far_corner", [
    ("training_data", 149, 22_512, 624, (809, 992)),
    ("testing_data", 50, 8_973, 266, (768, 1000)),
])
def test_funsd_files_parse_with_a_1000_px_square_page(split, pages, words, blank, far_corner):
    files = sorted((SHARED / "funsd" / "dataset" / split / "annotations").glob("*.json"))
    assert len(files) == pages
    # SOURCE.md counts every word entry, blank ones included; a blank word is not a word here
    raw = sum(len(e["words"]) for f in files for e in json.loads(f.read_bytes())["form"])
    parsed = [parse_funsd(f.read_bytes(), str(f), ReadOptions(page_size=(1000, 1000)))[0] for f in files]
    assert (raw, sum(len(page.words) for page in parsed)) == (words, words - blank)
    # the page_size hint's claim: scans 1000 px high, at most ~810 px wide
    assert (max(b[2] for page in parsed for b in page.boxes),
            max(b[3] for page in parsed for b in page.boxes)) == far_corner
    with pytest.raises(CorpusError, match=r"page_size=\(1000, 1000\)"):
        parse_funsd(files[0].read_bytes(), str(files[0]), OPTIONS)


def test_read_document_refuses_a_file_over_the_member_limit(tmp_path):
    path = tmp_path / "page.tsv"
    path.write_text(HEADER + "\n1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t\n"
                    "5\t1\t1\t1\t1\t1\t10\t10\t20\t10\t96\tword\n", encoding="utf-8")
    assert read_document(path)[0].words == ("word",)
    with pytest.raises(CorpusError, match=r"page.tsv: \d+ bytes, more than max_member_bytes=100; is it a page file"):
        read_document(path, max_member_bytes=100)
