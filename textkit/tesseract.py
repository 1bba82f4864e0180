"""One scanned file -> Tesseract TSV bytes: the OCR engine under ``textkit.ocr``.

::

    settings = check_settings(dpi=150, lang="eng", psm=3, max_pages=None)
    tsv = merge_pages(pdf_pages(Path("a.pdf"), "tesseract", settings))  # what ocr() writes as a.tsv

A PDF is rendered page by page by pypdfium2 (grayscale, at ``dpi``), an image is OCR'd as it
is (a multi-page TIFF page by page), and each page is piped to ``tesseract stdin stdout``;
``merge_pages`` joins the pages' TSVs into what Tesseract writes for a multi-page file.
Finding the files, the worker processes and writing the TSVs are ``textkit.ocr``'s job: its
workers call ``pdf_pages`` / ``image_pages`` after ``init_worker``.

**The text layer.** A PDF's embedded text is never read: there is no option for it. Scanned
PDFs often carry a hidden text layer that differs from what is printed (the FARA corpus has
one holding the document's class label), so only the rendered page is OCR'd.

**Resolution.** ``dpi=150`` (the default) is what the shipped FARA corpus was OCR'd at
(pdftoppm -r 150 -gray, Tesseract 5.3.0, --psm 3), so a model trained on it sees the same
kind of OCR. Small print reads better at 300 dpi, at about 4 times the pixels and time.
``dpi`` applies to PDFs; images are OCR'd at their own resolution.

**Bad inputs.** A file or page that cannot be OCR'd (a corrupt image or PDF, a PDF with no
pages, a page Tesseract fails on) raises ``BadInput`` with a one-line reason; a file that
cannot be read, or a Tesseract that cannot be started, raises ``OSError``.
"""
from __future__ import annotations

import contextlib
import importlib.metadata
import importlib.util
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DPI = 150  # the FARA corpus's resolution (see the module doc)
PSM_MODES = (1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)  # 0 (orientation only) and 2 do no OCR
TSV_HEADER = b"level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
MAX_SIDE = 32767  # Tesseract refuses a wider or taller image
INSTALL_TESSERACT = ("apt-get install tesseract-ocr (Debian/Ubuntu), brew install tesseract (macOS), or the "
                     "UB Mannheim installer, https://github.com/UB-Mannheim/tesseract/wiki (Windows)")


class BadInput(Exception):
    """One input cannot be OCR'd: reported and skipped, the run goes on."""


@dataclass(frozen=True)
class Settings:
    """What every page is OCR'd with (recorded in ``out``, so a resumed run cannot mix settings)."""

    dpi: int
    lang: str
    psm: int
    max_pages: int | None


# ---------------------------------------------------------------- checks before any work

def check_settings(*, dpi: int, lang: str, psm: int, max_pages: int | None) -> Settings:
    """Validate the OCR options (each error names the option, what it takes and what it got)."""
    def is_int(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not is_int(dpi) or dpi < 1:
        raise ValueError(f"dpi must be an int >= 1 (150: the FARA corpus; 300 for small print), got {dpi!r}")
    if not isinstance(lang, str) or not re.fullmatch(r"[\w/.-]+(\+[\w/.-]+)*", lang):
        raise ValueError(f"lang must be Tesseract language names joined by '+', e.g. 'eng' or 'eng+deu', "
                         f"got {lang!r}")
    if not is_int(psm) or psm not in PSM_MODES:
        raise ValueError(f"psm must be one of 1, 3-13 (Tesseract's page segmentation modes; 0 and 2 do no OCR), "
                         f"got {psm!r}")
    if max_pages is not None and (not is_int(max_pages) or max_pages < 1):
        raise ValueError(f"max_pages must be None (every page) or an int >= 1, got {max_pages!r}")
    return Settings(dpi=dpi, lang=lang, psm=psm, max_pages=max_pages)


def check_tesseract(tesseract: str, lang: str) -> str:
    """Tesseract's version, after checking it runs, is 4 or newer and has ``lang``'s data."""
    if shutil.which(tesseract) is None:
        raise FileNotFoundError(f"Tesseract OCR ({tesseract!r}) was not found; install it: {INSTALL_TESSERACT}; "
                                f"or pass the program's path")
    output = _run_quietly([tesseract, "--version"])
    found = re.search(r"tesseract\s+v?(\d+)((?:\.\d+)*)", output, re.IGNORECASE)
    if found is None or int(found[1]) < 4:
        raise FileNotFoundError(f"{tesseract!r} is not Tesseract 4 or newer (--version says "
                                f"{output.strip().splitlines()[0] if output.strip() else 'nothing'!r}); "
                                f"install a current one: {INSTALL_TESSERACT}")
    # --list-langs: a title line, then one name per line (stderr in Tesseract 4.0, stdout later)
    lines = _run_quietly([tesseract, "--list-langs"]).splitlines()[1:]
    installed = [line.strip() for line in lines if line.strip() and " " not in line.strip()]
    for name in lang.split("+"):
        if name not in installed:
            package = name.lower().replace("_", "-")
            raise FileNotFoundError(
                f"Tesseract has no {name!r} language data (installed: {', '.join(installed) or 'none'}); install "
                f"it: apt-get install tesseract-ocr-{package} (Debian/Ubuntu), brew install tesseract-lang (macOS), "
                f"or tick it in the UB Mannheim installer (Windows)")
    return found[1] + found[2]


def _run_quietly(command: list[str]) -> str:
    """stdout + stderr of a short command; an OSError or failure names the command."""
    try:
        done = subprocess.run(command, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FileNotFoundError(f"could not run {' '.join(command)}: {exc}; reinstall Tesseract: "
                                f"{INSTALL_TESSERACT}") from None
    text = (done.stdout + done.stderr).decode("utf-8", "replace")
    if done.returncode != 0:
        raise FileNotFoundError(f"{' '.join(command)} failed (exit status {done.returncode}: "
                                f"{_first_error(text)}); reinstall Tesseract: {INSTALL_TESSERACT}")
    return text


def check_pdf_renderer(first_pdf: Path) -> str:
    """pypdfium2's version; it is an extra, needed only when there are PDFs."""
    if importlib.util.find_spec("pypdfium2") is None:
        raise ImportError(f"{first_pdf}: OCR'ing PDFs needs pypdfium2 to render their pages: "
                          f"pip install 'textkit[ocr]'  (or: pip install pypdfium2)")
    # not imported here: the workers render, and the parent forks them
    return importlib.metadata.version("pypdfium2")

# ---------------------------------------------------------------- one file -> TSV


def pdf_pages(path: Path, tesseract: str, settings: Settings) -> list[bytes]:
    """Render each page and OCR the picture. Never the text layer (see the module doc)."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(path)
    except pdfium.PdfiumError:
        raise BadInput(_why_unreadable(path.read_bytes())) from None
    try:
        pdf.init_forms()  # filled-in form fields are printed, so they are rendered too
        count = len(pdf) if settings.max_pages is None else min(len(pdf), settings.max_pages)
        command = _command(tesseract, settings, "--dpi", str(settings.dpi))  # the picture's true resolution
        return [_tesseract(command, _render(pdf, i, settings.dpi)) for i in range(count)]
    finally:
        pdf.close()


# FPDF_GetLastError's codes (fpdfview.h)
_PDFIUM_ERRORS = {1: "unknown error", 2: "file not found or could not be opened", 3: "not a PDF or corrupted",
                  4: "password required or incorrect password", 5: "unsupported security scheme",
                  6: "page not found or content error"}


def _why_unreadable(data: bytes) -> str:
    """Why PDFium would not open ``data``. pypdfium2 refuses a PDF without pages like a
    corrupt one, with the error code of an earlier failure (PDFium sets none for it), so
    open it once more with the raw API to tell them apart."""
    import pypdfium2.raw as raw

    handle = raw.FPDF_LoadMemDocument64(data, len(data), None)
    if not handle:
        code = raw.FPDF_GetLastError()  # fresh: set by this very failure
        return f"not a readable PDF ({_PDFIUM_ERRORS.get(code, f'PDFium error {code}')})"
    try:
        pages = raw.FPDF_GetPageCount(handle)
    finally:
        raw.FPDF_CloseDocument(handle)
    return "a PDF with no pages" if pages < 1 else "not a readable PDF (PDFium failed to open it)"


def _render(pdf, index: int, dpi: int) -> bytes:
    """Page ``index`` as an 8-bit grayscale PGM (P5) image: Tesseract reads it, no Pillow needed."""
    import pypdfium2 as pdfium

    page = pdf[index]
    try:
        width, height = (round(side * dpi / 72) for side in page.get_size())  # PDF units are 1/72 inch
        if max(width, height) > MAX_SIDE:
            raise BadInput(f"page {index + 1} would be {width} x {height} pixels at {dpi} dpi, more than Tesseract "
                           f"takes ({MAX_SIDE}); use a lower dpi")
        pixels = page.render(scale=dpi / 72, grayscale=True).to_numpy()  # (H, W) uint8
    except pdfium.PdfiumError as exc:
        raise BadInput(f"cannot render page {index + 1} ({exc})") from None
    finally:
        page.close()
    rows, cols = pixels.shape[:2]
    return b"P5\n%d %d\n255\n" % (cols, rows) + pixels.tobytes()


def image_pages(path: Path, tesseract: str, settings: Settings) -> list[bytes]:
    """OCR an image; a TIFF page by page (Tesseract picks one with tessedit_page_number)."""
    data = path.read_bytes()
    kind = _image_format(data)
    if kind is None:
        raise BadInput("an empty file" if not data else
                       f"not an image: it starts with {data[:8]!r}, which no image format does")
    command = _command(tesseract, settings)
    if kind != "TIFF":
        return [_tesseract(command, data)]
    pages = []
    while settings.max_pages is None or len(pages) < settings.max_pages:
        tsv = _tesseract(command + ["-c", f"tessedit_page_number={len(pages)}"], data)
        if b"\n1\t" not in tsv:  # no level-1 row: past the last page
            break
        pages.append(tsv)
    if not pages:
        raise BadInput("a TIFF with no pages Tesseract can read")
    return pages


def _image_format(data: bytes) -> str | None:
    """The image format ``data`` starts with, or None. Checked first because Tesseract reads
    input that is not an image as a list of image files to open, and says 'file not found'."""
    signatures = {b"\x89PNG\r\n\x1a\n": "PNG", b"\xff\xd8\xff": "JPEG", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
                  b"BM": "BMP", b"GIF87a": "GIF", b"GIF89a": "GIF"}
    for magic, name in signatures.items():
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if re.match(rb"P[1-6]\s", data[:3]):
        return "PNM"
    return None


def _command(tesseract: str, settings: Settings, *options: str) -> list[str]:
    # tessedit_create_tsv=1 is what the `tsv` config file says, without needing that file
    return [tesseract, "stdin", "stdout", "-l", settings.lang, "--psm", str(settings.psm), *options,
            "-c", "tessedit_create_tsv=1"]


_CHILD: subprocess.Popen | None = None  # the Tesseract process this worker waits for


def _tesseract(command: list[str], image: bytes) -> bytes:
    """Run Tesseract on one image (its bytes on stdin) -> its TSV (on stdout)."""
    global _CHILD
    # one thread each: several processes share the cores (what the FARA corpus was made with)
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env) as child:
        _CHILD = child
        try:
            tsv, errors = child.communicate(image)
        finally:
            _CHILD = None
    if child.returncode != 0:
        how = (f"was stopped by a signal ({signal.strsignal(-child.returncode) or -child.returncode})"
               if child.returncode < 0 else f"failed (exit status {child.returncode})")
        raise BadInput(f"tesseract {how}: {_first_error(errors.decode('utf-8', 'replace'))}")
    if not tsv.startswith(TSV_HEADER):
        raise BadInput(f"tesseract wrote no TSV (it said: {_first_error(errors.decode('utf-8', 'replace'))})")
    return tsv


def _first_error(text: str) -> str:
    """The line of Tesseract's stderr that says what went wrong (not its progress chatter)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    chatter = ("Error during processing", "Estimating resolution", "Page ", "Warning", "Detected ")
    useful = [line for line in lines if not line.startswith(chatter)]
    return (useful or lines or ["no message"])[0]


def merge_pages(pages: list[bytes]) -> bytes:
    """Per-page TSVs -> one, with ``page_num`` 1..n: what Tesseract writes for a multi-page file."""
    rows = [TSV_HEADER]
    for number, tsv in enumerate(pages, start=1):
        for row in tsv.split(b"\n")[1:]:
            if row:
                level, _, rest = row.split(b"\t", 2)
                rows.append(b"\t".join((level, b"%d" % number, rest)))
    return b"\n".join(rows) + b"\n"


# ---------------------------------------------------------------- in a worker process

def init_worker() -> None:
    """In a worker. Ctrl-C reaches the whole process group: ignored here, the parent decides.
    SIGTERM (the parent stopping its workers) kills this worker's Tesseract and exits at once:
    the worker writes no files, and ProcessPoolExecutor would catch a SystemExit and go on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)


def _stop_worker(signum: int, frame: object) -> None:
    child = _CHILD
    if child is not None and child.returncode is None:
        # os calls, not child.kill()/wait(): the interrupted code may be inside Popen.wait,
        # holding the lock those take, and the handler would wait for itself forever
        with contextlib.suppress(OSError):  # already gone
            os.kill(child.pid, getattr(signal, "SIGKILL", signal.SIGTERM))
            os.waitpid(child.pid, 0)  # reaped here: an orphaned zombie would outlive the run
    os._exit(128 + signum)
