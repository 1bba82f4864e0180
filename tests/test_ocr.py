"""textkit.ocr (the run) and textkit.tesseract (one file): scans -> Tesseract TSV, with real Tesseract."""
from __future__ import annotations

import importlib.util
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

import pytest

import textkit.tesseract as engine_module
from textkit.ocr import CRASHED, SETTINGS_FILE, Settings, check_settings, find_inputs, ocr, record_settings

CORPORA = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
FARA = CORPORA / "fara_forms"
HEADER = ["level", "page_num", "block_num", "par_num", "line_num", "word_num", "left", "top", "width", "height",
          "conf", "text"]

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None,
                                     reason="tesseract-ocr is not installed (apt-get install tesseract-ocr)")
needs_corpora = pytest.mark.skipif(not FARA.is_dir(), reason=f"shared corpora not found at {CORPORA}")
needs_pdfium = pytest.mark.skipif(importlib.util.find_spec("pypdfium2") is None,
                                  reason="pypdfium2 is not installed (pip install 'textkit[ocr]')")


# ---------------------------------------------------------------- helpers

def make_pdf(words: list[str], hidden: str | None = None, size: tuple[int, int] = (360, 120)) -> bytes:
    """A PDF with one page per word, printed big in Helvetica; ``hidden`` is invisible text
    (render mode 3, as an OCR layer is) on every page."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"",
                            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for word in words:
        content = b"BT /F1 48 Tf 30 55 Td (%s) Tj ET" % word.encode()
        if hidden:
            content += b"\nBT /F1 24 Tf 3 Tr 30 12 Td (%s) Tj ET" % hidden.encode()
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /Font << /F1 3 0 R >> >> "
                       b"/Contents %d 0 R >>" % (*size, len(objects)))
        kids.append(len(objects))
    objects[1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids))
    pdf, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


def word_image(word: str, xy: tuple[int, int] = (100, 100), size: tuple[int, int] = (800, 300)):
    """A white grayscale image with ``word`` printed big at ``xy``."""
    Image = pytest.importorskip("PIL.Image")
    from PIL import ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=72)
    except TypeError:
        pytest.skip("Pillow >= 10.1 is needed for a scalable default font")
    image = Image.new("L", size, 255)
    ImageDraw.Draw(image).text(xy, word, fill=0, font=font)
    return image


def read_tsv(path: Path) -> list[dict]:
    """Rows of a TSV, checked against Tesseract's format: its 12-column header, 12 fields a row,
    integer columns, a float confidence; text only on word rows."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0].split("\t") == HEADER and lines[-1] == ""
    rows = []
    for line in lines[1:-1]:
        fields = line.split("\t")
        assert len(fields) == 12, line
        row = {name: int(value) for name, value in zip(HEADER[:10], fields)}
        row["conf"], row["text"] = float(fields[10]), fields[11]
        assert 1 <= row["level"] <= 5 and (row["level"] == 5 or (row["text"] == "" and row["conf"] == -1))
        rows.append(row)
    return rows


def words_by_page(rows: list[dict]) -> dict[int, list[str]]:
    pages: dict[int, list[str]] = {}
    for row in rows:
        if row["level"] == 1:
            pages[row["page_num"]] = []
        elif row["level"] == 5 and row["text"].strip():
            pages[row["page_num"]].append(row["text"])
    return pages


def files_under(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# ---------------------------------------------------------------- real scans

@needs_pdfium
@needs_tesseract
@needs_corpora
def test_fara_page_one_matches_the_shipped_ocr(tmp_path):
    # the corpus was made with pdftoppm (poppler); pypdfium2 renders slightly differently, so
    # the OCR is close, not identical. Measured here (tesseract 5.3.0, pypdfium2 5.15.2), the
    # fraction of the shipped words found: 0.954 on this page (0.71-0.96 over the 6 samples)
    stem = "20110729_LeClairRyan, A Professional Corporation_Amendment_Amendment"
    (tmp_path / "forms" / "Amendment").mkdir(parents=True)
    shutil.copy(FARA / "pdf_samples" / f"{stem}.pdf", tmp_path / "forms" / "Amendment")
    report = ocr([tmp_path / "forms"], tmp_path / "out", max_pages=1, progress=False)  # a 3-page filing
    assert (report["done"], report["pages"], report["failed"]) == (1, 1, [])

    ours = read_tsv(tmp_path / "out" / "Amendment" / f"{stem}.tsv")  # the corpus's own layout
    with tarfile.open(FARA / "fara_forms_ocr.tar.gz") as tar:
        shipped_bytes = tar.extractfile(f"fara_forms/Amendment/{stem}.tsv").read()
    (tmp_path / "shipped.tsv").write_bytes(shipped_bytes)
    shipped = read_tsv(tmp_path / "shipped.tsv")
    assert {row["page_num"] for row in ours} == {1}
    (page,) = [row for row in ours if row["level"] == 1]
    (page_shipped,) = [row for row in shipped if row["level"] == 1]
    assert abs(page["width"] - page_shipped["width"]) <= 2 and abs(page["height"] - page_shipped["height"]) <= 2
    found, expected = Counter(words_by_page(ours)[1]), Counter(words_by_page(shipped)[1])
    overlap = sum((found & expected).values()) / sum(expected.values())
    assert overlap >= 0.85, f"only {overlap:.3f} of the shipped words were found"
    # the hidden text layer (which may say DOCUMENT TYPE=<label>) was not read: no shipped TSV has it
    assert "DOCUMENT TYPE" not in " ".join(words_by_page(ours)[1]).upper()


# ---------------------------------------------------------------- synthetic pages

@needs_tesseract
def test_an_image_word_is_read_at_its_place(tmp_path):
    word_image("INVOICE", xy=(100, 100)).save(tmp_path / "scan.png")
    report = ocr([tmp_path / "scan.png"], tmp_path / "out", progress=False)
    assert (report["done"], report["pages"]) == (1, 1)
    rows = read_tsv(tmp_path / "out" / "scan.tsv")
    (page,) = [row for row in rows if row["level"] == 1]
    assert (page["width"], page["height"]) == (800, 300)
    (word,) = [row for row in rows if row["level"] == 5 and row["text"].strip()]
    assert word["text"] == "INVOICE" and word["conf"] > 80
    # Pillow's text box for 72 px DejaVu starts a few pixels right of and below xy
    assert abs(word["left"] - 100) <= 20 and abs(word["top"] - 100) <= 30
    assert 200 <= word["width"] <= 340 and 40 <= word["height"] <= 70


@needs_pdfium
@needs_tesseract
def test_a_pdf_is_ocrd_page_by_page_and_its_hidden_text_never_read(tmp_path):
    (tmp_path / "doc.pdf").write_bytes(make_pdf(["INVOICE", "RECEIPT", "PAYMENT"], hidden="SECRETLABEL"))
    report = ocr([tmp_path / "doc.pdf"], tmp_path / "out", progress=False)
    assert (report["done"], report["pages"], report["failed"]) == (1, 3, [])
    rows = read_tsv(tmp_path / "out" / "doc.tsv")
    assert words_by_page(rows) == {1: ["INVOICE"], 2: ["RECEIPT"], 3: ["PAYMENT"]}
    pages = [row for row in rows if row["level"] == 1]
    assert [p["page_num"] for p in pages] == [1, 2, 3]
    assert {(p["width"], p["height"]) for p in pages} <= {(750, 250), (750, 251)}  # 360 x 120 pt at 150 dpi, rounded up
    assert "SECRET" not in (tmp_path / "out" / "doc.tsv").read_text()

    report = ocr([tmp_path / "doc.pdf"], tmp_path / "first2", max_pages=2, dpi=100, progress=False)
    rows = read_tsv(tmp_path / "first2" / "doc.tsv")
    assert report["pages"] == 2 and words_by_page(rows) == {1: ["INVOICE"], 2: ["RECEIPT"]}
    assert {(r["width"], r["height"]) for r in rows if r["level"] == 1} <= {(500, 167), (500, 168)}


@needs_tesseract
def test_a_multipage_tiff_gives_what_tesseract_itself_writes(tmp_path):
    first, *rest = [word_image(w) for w in ("INVOICE", "RECEIPT")]
    first.save(tmp_path / "fax.tif", save_all=True, append_images=rest)
    ocr([tmp_path / "fax.tif"], tmp_path / "out", progress=False)
    own = subprocess.run(["tesseract", str(tmp_path / "fax.tif"), "stdout", "tsv"], capture_output=True,
                         env={**os.environ, "OMP_THREAD_LIMIT": "1"}, check=True).stdout
    assert (tmp_path / "out" / "fax.tsv").read_bytes() == own
    assert words_by_page(read_tsv(tmp_path / "out" / "fax.tsv")) == {1: ["INVOICE"], 2: ["RECEIPT"]}

    report = ocr([tmp_path / "fax.tif"], tmp_path / "first", max_pages=1, progress=False)
    assert report["pages"] == 1 and words_by_page(read_tsv(tmp_path / "first" / "fax.tsv")) == {1: ["INVOICE"]}


@needs_pdfium
@needs_tesseract
def test_a_rerun_skips_what_is_done_and_leaves_it_untouched(tmp_path):
    (tmp_path / "scans" / "a").mkdir(parents=True)
    word_image("INVOICE").save(tmp_path / "scans" / "a" / "one.png")
    (tmp_path / "scans" / "two.pdf").write_bytes(make_pdf(["RECEIPT"]))
    out = tmp_path / "out"
    first = ocr([tmp_path / "scans"], out, progress=False)
    assert (first["files"], first["done"], first["skipped"]) == (2, 2, 0)
    assert files_under(out) == [SETTINGS_FILE, "a/one.tsv", "two.tsv"]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*.tsv")}

    again = ocr([tmp_path / "scans"], out, progress=False)
    assert (again["done"], again["skipped"], again["pages"], again["failed"]) == (0, 2, 0, [])
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*.tsv")} == before

    (out / "two.tsv").unlink()  # as if the first run had been killed before this file
    resumed = ocr([tmp_path / "scans"], out, progress=False)
    assert (resumed["done"], resumed["skipped"]) == (1, 1)
    assert (out / "two.tsv").read_bytes() == before[out / "two.tsv"][0]
    umask = os.umask(0)
    os.umask(umask)
    assert (out / "two.tsv").stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it, not mkstemp's 0600


@needs_pdfium
@needs_tesseract
def test_bad_files_are_reported_and_skipped_and_the_rest_done(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    word_image("INVOICE").save(scans / "image.png")
    (scans / "doc.pdf").write_bytes(make_pdf(["RECEIPT"]))
    (scans / "corrupt.pdf").write_bytes(make_pdf(["RECEIPT"])[:200])
    (scans / "nopages.pdf").write_bytes(make_pdf([]))
    (scans / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (scans / "list.png").write_bytes(b"/etc/hostname\n")  # Tesseract would read this as a list of images
    (scans / "empty.jpg").write_bytes(b"")
    seen = []
    # one worker: it meets corrupt.pdf before nopages.pdf, whose PDFium error would be stale
    report = ocr([scans], tmp_path / "out", on_failure=lambda path, reason: seen.append((path, reason)),
                 num_proc=1, progress=False)
    assert (report["files"], report["done"], report["pages"]) == (7, 2, 2)
    reasons = {Path(f["input"]).name: f["reason"] for f in report["failed"]}
    assert sorted(seen) == sorted((f["input"], f["reason"]) for f in report["failed"])
    assert reasons["corrupt.pdf"] == "not a readable PDF (not a PDF or corrupted)"
    assert reasons["nopages.pdf"] == "a PDF with no pages"
    assert reasons["broken.png"].startswith("tesseract failed (exit status 1): ")
    assert reasons["list.png"] == "not an image: it starts with b'/etc/hos', which no image format does"
    assert reasons["empty.jpg"] == "an empty file"
    assert all("\n" not in reason for reason in reasons.values())
    assert files_under(tmp_path / "out") == [SETTINGS_FILE, "doc.tsv", "image.tsv"]  # nothing for the bad ones
    assert words_by_page(read_tsv(tmp_path / "out" / "doc.tsv")) == {1: ["RECEIPT"]}


def test_a_name_collision_is_refused_before_any_work(tmp_path):
    for folder in ("box1/Amendment", "box2/Amendment", "same"):
        (tmp_path / folder).mkdir(parents=True)
    for path in ("box1/Amendment/a.pdf", "box2/Amendment/a.pdf", "same/a.png", "same/a.pdf"):
        (tmp_path / path).write_bytes(b"")
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=r"box1/Amendment/a.pdf and .*box2/Amendment/a.pdf would both be written "
                                         r"to .*out/Amendment/a.tsv; rename one of them, or OCR them into separate"):
        ocr([tmp_path / "box1", tmp_path / "box2"], out)
    with pytest.raises(ValueError, match=r"same/a.pdf and .*same/a.png would both be written to .*out/a.tsv"):
        ocr([tmp_path / "same"], out)
    assert not out.exists()


def test_inputs_keep_their_folders_and_skip_what_is_not_a_scan(tmp_path):
    for path in ("forms/Amendment/a.pdf", "forms/Short-Form/b.PNG", "forms/notes.txt", "forms/.hidden.png",
                 "forms/.git/c.png", "forms/__MACOSX/Amendment/._a.pdf", "loose.tiff"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(b"")
    out = tmp_path / "out"
    jobs = find_inputs([tmp_path / "forms", tmp_path / "loose.tiff", tmp_path / "forms"], out)  # forms twice: once
    assert [(j.source.relative_to(tmp_path).as_posix(), j.output.relative_to(out).as_posix(), j.kind)
            for j in jobs] == [("forms/Amendment/a.pdf", "Amendment/a.tsv", "pdf"),
                               ("forms/Short-Form/b.PNG", "Short-Form/b.tsv", "image"),
                               ("loose.tiff", "loose.tsv", "image")]
    with pytest.raises(ValueError, match=r"notes.txt is not an image or a PDF by its name \(expected one of "
                                         r"\.png, .*\.pdf\); convert it, or rename it if it is one"):
        find_inputs([tmp_path / "forms" / "notes.txt"], out)
    with pytest.raises(FileNotFoundError, match=r"input .*nope.pdf does not exist"):
        find_inputs([tmp_path / "nope.pdf"], out)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"folder .*empty holds no images or PDFs"):
        find_inputs([tmp_path / "empty"], out)
    assert find_inputs(str(tmp_path / "loose.tiff"), out)[0].output == out / "loose.tsv"  # one path, not its letters


@pytest.mark.parametrize("option, message", [
    ({"dpi": 0}, r"dpi must be an int >= 1 .*got 0"),
    ({"psm": 0}, r"psm must be one of 1, 3-13 .*got 0"),
    ({"max_pages": 0}, r"max_pages must be None \(every page\) or an int >= 1, got 0"),
    ({"lang": "eng deu"}, r"lang must be Tesseract language names joined by '\+'.*got 'eng deu'"),
])
def test_bad_options_are_refused(option, message):
    with pytest.raises(ValueError, match=message):
        check_settings(**{"dpi": 150, "lang": "eng", "psm": 3, "max_pages": None, **option})


def test_missing_tesseract_says_how_to_install_it(tmp_path, monkeypatch):
    (tmp_path / "scan.png").write_bytes(b"")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    for kwargs in ({}, {"tesseract": str(tmp_path / "no" / "tesseract")}):
        with pytest.raises(FileNotFoundError) as caught:
            ocr([tmp_path / "scan.png"], tmp_path / "out", **kwargs)
        message = str(caught.value)
        assert "\n" not in message and "was not found; install it: apt-get install tesseract-ocr (Debian/Ubuntu), " \
               "brew install tesseract (macOS), or the UB Mannheim installer" in message
    assert not (tmp_path / "out").exists()


@needs_tesseract
def test_missing_language_data_says_which_package(tmp_path):
    (tmp_path / "scan.png").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"Tesseract has no 'xyz' language data \(installed: .*eng.*\); "
                                                r"install it: apt-get install tesseract-ocr-xyz \(Debian/Ubuntu\)"):
        ocr([tmp_path / "scan.png"], tmp_path / "out", lang="eng+xyz")
    assert not (tmp_path / "out").exists()


def test_missing_pypdfium2_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "a.pdf").write_bytes(b"")
    monkeypatch.setattr(engine_module, "check_tesseract", lambda tesseract, lang: "5.3.0")
    real = engine_module.importlib.util.find_spec
    monkeypatch.setattr(engine_module.importlib.util, "find_spec",
                        lambda name, *a: None if name == "pypdfium2" else real(name, *a))
    with pytest.raises(ImportError, match=r"a.pdf: OCR'ing PDFs needs pypdfium2 to render their pages: "
                                          r"pip install 'textkit\[ocr\]'"):
        ocr([tmp_path / "a.pdf"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_resumed_run_must_use_the_same_settings(tmp_path):
    out = tmp_path / "out"
    record_settings(out, Settings(dpi=150, lang="eng", psm=3, max_pages=1))
    record_settings(out, Settings(dpi=150, lang="eng", psm=3, max_pages=1))  # same: fine
    with pytest.raises(ValueError, match=r"out holds OCR made with dpi=150, lang='eng', psm=3, max_pages=1, not "
                                         r"dpi=300, .*; rerun with those settings to resume, or choose another out"):
        record_settings(out, Settings(dpi=300, lang="eng", psm=3, max_pages=1))


# ---------------------------------------------------------------- processes

def _crash_on(name: str):
    real = engine_module.pdf_pages

    def pages(path, tesseract, settings):
        if path.name == name:
            os._exit(1)  # what a segfault in the renderer, or the out-of-memory killer, does
        return real(path, tesseract, settings)
    return pages


@needs_pdfium
@needs_tesseract
@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="the patch reaches workers by fork")
def test_a_worker_that_dies_costs_only_its_own_file(tmp_path, monkeypatch):
    for name, word in (("a", "INVOICE"), ("crash", "RECEIPT"), ("c", "PAYMENT"), ("d", "TOTAL")):
        (tmp_path / f"{name}.pdf").write_bytes(make_pdf([word]))
    monkeypatch.setattr(engine_module, "pdf_pages", _crash_on("crash.pdf"))
    report = ocr([tmp_path], tmp_path / "out", num_proc=2, progress=False)
    assert report["failed"] == [{"input": str(tmp_path / "crash.pdf"), "reason": CRASHED}]
    assert report["done"] == 3 and files_under(tmp_path / "out") == [SETTINGS_FILE, "a.tsv", "c.tsv", "d.tsv"]


RUN_OCR = """
import signal, sys
from textkit.ocr import ocr

def stop(signum, frame):
    raise KeyboardInterrupt  # what the CLI does with SIGTERM

signal.signal(signal.SIGTERM, stop)
try:
    ocr([sys.argv[1]], sys.argv[2], num_proc=2, progress=False)
except KeyboardInterrupt:
    sys.exit(130)
"""


@needs_pdfium
@needs_tesseract
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_a_signal_mid_run_leaves_only_whole_files_and_a_rerun_resumes(tmp_path, signal_name):
    scans, out = tmp_path / "scans", tmp_path / "out"
    scans.mkdir()
    for i in range(8):
        (scans / f"doc{i}.pdf").write_bytes(make_pdf(["INVOICE", "RECEIPT", "PAYMENT"]))
    process = subprocess.Popen([sys.executable, "-c", RUN_OCR, str(scans), str(out)], stderr=subprocess.PIPE,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while not list(out.glob("*.tsv")) and time.monotonic() < deadline:
        time.sleep(0.05)  # under way: one file done, the workers on the next ones
    assert process.poll() is None, "the run ended before the signal; give it more pages"
    os.killpg(process.pid, getattr(signal, signal_name))
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130, err.decode()
    assert err.decode() == ""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # workers and their Tesseracts are gone
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("processes of the interrupted run are still alive")
    written = sorted(p.name for p in out.glob("*.tsv"))
    assert files_under(out) == sorted([SETTINGS_FILE] + written)  # no temporary file left
    assert 1 <= len(written) < 8
    for name in written:
        assert len(words_by_page(read_tsv(out / name))) == 3

    report = ocr([scans], out, num_proc=2, progress=False)
    assert (report["skipped"], report["done"], report["failed"]) == (len(written), 8 - len(written), [])
