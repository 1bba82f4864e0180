"""Scanned images and PDFs -> Tesseract TSV files: the engine behind ``textkit ocr``.

::

    report = ocr(["scans/forms"], "ocr/forms", max_pages=1)
    # scans/forms/Amendment/a.pdf -> ocr/forms/Amendment/a.tsv   (class folders survive)

What it writes: one TSV per input file, exactly what ``tesseract page.png out tsv`` writes
(a header, then the rows of every page; a level-1 row per page gives its size in pixels,
``page_num`` counts 1..n through a multi-page PDF or TIFF). ``textkit.documents`` reads it
back as ``format="ocr-tsv"``.

Order of work:

1. check everything before any OCR: the options, every input (a missing file, a file of an
   unknown type, a folder with nothing to OCR, two inputs that would be written to the same
   TSV), Tesseract and its language data, pypdfium2 when there are PDFs, and that ``out``
   was not OCR'd with other settings;
2. skip each input whose TSV already exists ("already done": a rerun after a kill resumes);
3. OCR the rest in ``num_proc`` worker processes, one file per task: a PDF page by page
   (rendered by pypdfium2, grayscale, at ``dpi``), an image as it is (a multi-page TIFF
   page by page), each page piped to ``tesseract stdin stdout``;
4. write each TSV as its file finishes, atomically (``textkit.fileio.atomic_write``).

**Inputs.** Files and folders; folders are walked recursively for the types in
``IMAGE_SUFFIXES`` and ``PDF_SUFFIXES`` (other files, hidden files and ``__MACOSX`` are
ignored there). A TSV keeps its input's path relative to the folder it was found under; a
file named on its own goes to the top of ``out``.

**The text layer.** A PDF's embedded text is never read: there is no option for it. Scanned
PDFs often carry a hidden text layer that differs from what is printed (the FARA corpus has
one holding the document's class label), so only the rendered page is OCR'd.

**Resolution.** ``dpi=150`` (the default) is what the shipped FARA corpus was OCR'd at
(pdftoppm -r 150 -gray, Tesseract 5.3.0, --psm 3), so a model trained on it sees the same
kind of OCR. Small print reads better at 300 dpi, at about 4 times the pixels and time.
``dpi`` applies to PDFs; images are OCR'd at their own resolution.

**Bad inputs.** A corrupt image or PDF, a PDF with no pages, a page Tesseract fails on: the
file is reported (``on_failure(path, reason)`` as it happens, and in the report) and
skipped, nothing is written for it, and the other files go on.

**Interruptions.** Ctrl-C (or SIGTERM turned into ``KeyboardInterrupt``, as the CLI does)
stops the workers and their Tesseract processes; a TSV is either complete or absent.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import importlib.metadata
import importlib.util
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import signal
import subprocess
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from .analyzer import resolve_num_proc
from .fileio import atomic_write, read_versioned_json

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pnm", ".pgm", ".ppm")
PDF_SUFFIXES = (".pdf",)
DEFAULT_DPI = 150  # the FARA corpus's resolution (see the module doc)
PSM_MODES = (1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)  # 0 (orientation only) and 2 do no OCR
TSV_HEADER = b"level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
MAX_SIDE = 32767  # Tesseract refuses a wider or taller image
SETTINGS_FILE = ".textkit-ocr.json"  # in out: the settings its TSVs were made with
SETTINGS_FORMAT, SETTINGS_VERSION = "textkit-ocr-settings", 1
INSTALL_TESSERACT = ("apt-get install tesseract-ocr (Debian/Ubuntu), brew install tesseract (macOS), or the "
                     "UB Mannheim installer, https://github.com/UB-Mannheim/tesseract/wiki (Windows)")
CRASHED = ("the worker process OCR'ing it died (a crash in the PDF renderer, or killed for lack of memory); "
           "try a lower dpi")


class BadInput(Exception):
    """One input cannot be OCR'd: reported and skipped, the run goes on."""


@dataclass(frozen=True)
class Settings:
    """What every page is OCR'd with (recorded in ``out``, so a resumed run cannot mix settings)."""

    dpi: int
    lang: str
    psm: int
    max_pages: int | None


@dataclass(frozen=True)
class Job:
    source: Path  # the input file
    output: Path  # its TSV
    kind: str     # "pdf" or "image"


@dataclass(frozen=True)
class _Outcome:
    tsv: bytes | None    # the whole file's TSV, or None when it failed
    pages: int
    reason: str | None   # why it failed (one line)


def ocr(
    inputs: Sequence[str | os.PathLike] | str | os.PathLike,
    out: str | os.PathLike,
    *,
    dpi: int = DEFAULT_DPI,
    lang: str = "eng",
    psm: int = 3,
    max_pages: int | None = None,
    num_proc: int | None = None,
    progress: bool | None = None,
    on_failure: Callable[[str, str], None] | None = None,
    tesseract: str = "tesseract",
) -> dict:
    """OCR ``inputs`` (images, PDFs, folders of them) into one Tesseract TSV each under ``out``.

    Args:
        inputs: files and folders (see the module doc for the output layout).
        out: the output folder (created if missing; existing TSVs there count as done).
        dpi: resolution PDFs are rendered at. lang: Tesseract language(s), e.g. ``"eng+deu"``.
        psm: Tesseract page segmentation mode (3: fully automatic, as the FARA corpus).
        max_pages: OCR only the first N pages of each file (``None``: all).
        num_proc: worker processes (``None``: every available core).
        progress: a bar on stderr (``None``: only on a terminal).
        on_failure: called as ``on_failure(input_path, reason)`` when a file fails.
        tesseract: the Tesseract program, a name on PATH or a path.

    Returns the report: ``files`` (inputs found), ``done`` (written now), ``skipped`` (already
    done), ``failed`` (a list of ``{"input", "reason"}``), ``pages`` (OCR'd now), ``seconds``,
    ``out``, ``num_proc``, ``settings`` and ``engine`` (Tesseract's and pypdfium2's versions).

    Raises (before any OCR) ``ValueError`` for bad options or inputs, ``FileNotFoundError`` for
    a missing input, Tesseract or language, ``ImportError`` when PDFs need pypdfium2.
    """
    started = time.perf_counter()
    settings = check_settings(dpi=dpi, lang=lang, psm=psm, max_pages=max_pages)
    workers = resolve_num_proc(num_proc)
    out = Path(out)
    jobs = find_inputs(inputs, out)
    engine = {"tesseract": check_tesseract(tesseract, lang)}
    pdfs = [job.source for job in jobs if job.kind == "pdf"]
    if pdfs:
        engine["pypdfium2"] = check_pdf_renderer(pdfs[0])
    record_settings(out, settings)
    todo = [job for job in jobs if not job.output.exists()]
    report = {"files": len(jobs), "done": 0, "skipped": len(jobs) - len(todo), "failed": [], "pages": 0}
    with _Workers(tesseract, settings, min(workers, len(todo))) as pool, _progress(len(todo), progress) as bar:
        for job, outcome in pool.run(todo):
            if outcome.reason is None:
                _write(job.output, outcome.tsv)
                report["done"] += 1
                report["pages"] += outcome.pages
            else:
                report["failed"].append({"input": str(job.source), "reason": outcome.reason})
                if on_failure is not None:
                    with bar.external_write_mode():  # the callback may print: keep the bar intact
                        on_failure(str(job.source), outcome.reason)
            bar.set_postfix(pages=report["pages"], failed=len(report["failed"]), refresh=False)
            bar.update(1)
    return {**report, "seconds": round(time.perf_counter() - started, 3), "out": str(out), "num_proc": workers,
            "settings": asdict(settings), "engine": engine}


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


def record_settings(out: Path, settings: Settings) -> None:
    """Create ``out`` with ``SETTINGS_FILE`` in it, or check that its TSVs were made with
    ``settings``: a resumed run that skips files done at another dpi, language, mode or page
    limit would mix two kinds of OCR in one corpus without a word."""
    path = out / SETTINGS_FILE
    if path.exists():
        data, source = read_versioned_json(path, name="OCR settings", format=SETTINGS_FORMAT,
                                           version=SETTINGS_VERSION)
        if data.get("settings") != asdict(settings):
            raise ValueError(f"{out} holds OCR made with {_describe(data.get('settings'))}, not "
                             f"{_describe(asdict(settings))} (see {source}); rerun with those settings to resume, "
                             f"or choose another out folder")
        return
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"out {str(out)!r} is a file, expected a folder; choose another out folder")
    out.mkdir(parents=True, exist_ok=True)
    from . import __version__

    text = json.dumps({"format": SETTINGS_FORMAT, "version": SETTINGS_VERSION, "textkit_version": __version__,
                       "settings": asdict(settings)}, indent=2) + "\n"
    _write(path, text.encode("utf-8"))


def _describe(settings) -> str:
    if not isinstance(settings, dict):
        return f"unknown settings {settings!r}"
    return ", ".join(f"{key}={value!r}" for key, value in settings.items())


# ---------------------------------------------------------------- inputs -> jobs

def find_inputs(inputs: Sequence[str | os.PathLike] | str | os.PathLike, out: Path) -> list[Job]:
    """Every file to OCR and its TSV under ``out``; refuses two inputs bound for one TSV."""
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]  # ocr("scans", ...) means one folder, not five one-letter names
    if not inputs:
        raise ValueError("no inputs given; name image or PDF files, or folders holding them")
    jobs, seen = [], {}
    for item in map(Path, inputs):
        for source, relative in _files_of(item):
            job = Job(source, out / relative.with_suffix(".tsv"), _kind(source))
            # case-folded: a.tsv and A.tsv are one file on macOS and Windows
            key = job.output.relative_to(out).as_posix().casefold()
            if key in seen:
                if seen[key].source.resolve() == source.resolve():
                    continue  # the same file named twice (a folder and a file in it): OCR it once
                raise ValueError(f"{seen[key].source} and {source} would both be written to {job.output}; rename "
                                 f"one of them, or OCR them into separate out folders")
            seen[key] = job
            jobs.append(job)
    return jobs


def _files_of(item: Path) -> Iterator[tuple[Path, Path]]:
    """``(file, path relative to the folder it was found under)`` for one input."""
    if item.is_dir():
        found = False
        for path in _walk(item):
            found = True
            yield path, path.relative_to(item)
        if not found:
            raise ValueError(f"folder {item} holds no images or PDFs (looked for "
                             f"{', '.join(IMAGE_SUFFIXES + PDF_SUFFIXES)}; hidden files are skipped)")
    elif item.is_file():
        if _kind(item) is None:
            raise ValueError(f"{item} is not an image or a PDF by its name (expected one of "
                             f"{', '.join(IMAGE_SUFFIXES + PDF_SUFFIXES)}); convert it, or rename it if it is one")
        yield item, Path(item.name)
    else:
        raise FileNotFoundError(f"input {item} does not exist")


def _walk(folder: Path) -> Iterator[Path]:
    """Images and PDFs under ``folder``, sorted, skipping hidden entries and macOS zip debris."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(files):
            if not name.startswith(".") and _kind(Path(name)) is not None:
                yield Path(root) / name


def _kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return "pdf" if suffix in PDF_SUFFIXES else "image" if suffix in IMAGE_SUFFIXES else None


# ---------------------------------------------------------------- one file, in a worker

def _ocr_job(job: Job, tesseract: str, settings: Settings) -> _Outcome:
    """OCR one file -> its TSV; a bad input becomes an outcome with a reason, not an exception."""
    try:
        if job.kind == "pdf":
            pages = _pdf_pages(job.source, tesseract, settings)
        else:
            pages = _image_pages(job.source, tesseract, settings)
        return _Outcome(_merge(pages), len(pages), None)
    except BadInput as exc:
        return _Outcome(None, 0, str(exc))
    except OSError as exc:  # unreadable, vanished since it was listed, or Tesseract gone
        return _Outcome(None, 0, str(exc))


def _pdf_pages(path: Path, tesseract: str, settings: Settings) -> list[bytes]:
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


def _image_pages(path: Path, tesseract: str, settings: Settings) -> list[bytes]:
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


def _merge(pages: list[bytes]) -> bytes:
    """Per-page TSVs -> one, with ``page_num`` 1..n: what Tesseract writes for a multi-page file."""
    rows = [TSV_HEADER]
    for number, tsv in enumerate(pages, start=1):
        for row in tsv.split(b"\n")[1:]:
            if row:
                level, _, rest = row.split(b"\t", 2)
                rows.append(b"\t".join((level, b"%d" % number, rest)))
    return b"\n".join(rows) + b"\n"


# ---------------------------------------------------------------- worker processes

def _init_worker() -> None:
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


class _Workers:
    """``run(jobs)`` yields ``(job, outcome)`` as files finish, from worker processes.

    A ProcessPoolExecutor, not a ``multiprocessing.Pool``: when a worker dies (a renderer
    crash, the kernel's out-of-memory killer), a Pool waits forever for its task, while the
    executor fails the tasks in flight. Those are retried one at a time in a fresh executor,
    so the file that kills a worker alone is reported and the others are done.
    """

    def __init__(self, tesseract: str, settings: Settings, size: int) -> None:
        self.tesseract, self.settings, self.size = tesseract, settings, size
        self.executor: concurrent.futures.ProcessPoolExecutor | None = None

    def __enter__(self) -> _Workers:
        if self.size:
            # fork the workers now, before the progress bar's monitor thread exists: a process
            # forked while other threads run can deadlock (Python 3.12+ warns about it)
            self._executor().submit(int).result()
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(force=kind is not None)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, _Outcome]]:
        queue, suspects, running = deque(jobs), deque(), {}
        while queue or suspects or running:
            limit = 1 if suspects else self.size  # a suspect runs alone, so a crash names its file
            while len(running) < limit and (suspects or queue):
                job = (suspects or queue).popleft()
                running[self._executor().submit(_ocr_job, job, self.tesseract, self.settings)] = job
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            if not any(isinstance(future.exception(), BrokenProcessPool) for future in done):
                for future in done:
                    yield running.pop(future), future.result()
                continue
            concurrent.futures.wait(running)  # the rest fail at once, or finished just before
            lost = [job for future, job in running.items() if isinstance(future.exception(), BrokenProcessPool)]
            finished = [(job, future.result()) for future, job in running.items() if future.exception() is None]
            running.clear()
            self.close(force=True)
            yield from finished
            if len(lost) == 1:
                yield lost[0], _Outcome(None, 0, CRASHED)
            else:
                suspects.extend(lost)

    def _executor(self) -> concurrent.futures.ProcessPoolExecutor:
        if self.executor is None:
            # fork starts workers fast and without re-importing; elsewhere the platform's default
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else None)
            self.executor = concurrent.futures.ProcessPoolExecutor(self.size, mp_context=context,
                                                                   initializer=_init_worker)
        return self.executor

    def close(self, *, force: bool, timeout: float = 5.0) -> None:
        """Stop the workers: at once when ``force`` (an error or Ctrl-C), else once they are idle."""
        executor, self.executor = self.executor, None
        if executor is None:
            return
        if not force:
            executor.shutdown(wait=True)
            return
        processes = list((getattr(executor, "_processes", None) or {}).values())  # CPython's; no public way < 3.14
        executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()  # -> _stop_worker: its Tesseract is killed too
        # Wait on the sentinels, not join(): the executor's own thread joins (reaps) the same
        # processes, and a second join can miss the exit and wait out its whole timeout.
        alive = {process.sentinel: process for process in processes}
        deadline = time.monotonic() + timeout
        while alive and time.monotonic() < deadline:
            for sentinel in multiprocessing.connection.wait(list(alive), deadline - time.monotonic()):
                del alive[sentinel]
        for process in alive.values():
            process.kill()


# ---------------------------------------------------------------- the parent's side

def _write(path: Path, data: bytes) -> None:
    """``data`` to ``path`` atomically, with the permissions ``open`` would give (atomic_write's
    temporary file is private, 0600: the OCR of a shared corpus must be readable by its group)."""
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(f) -> None:
        if hasattr(os, "fchmod"):  # POSIX
            umask = os.umask(0)
            os.umask(umask)
            os.fchmod(f.fileno(), 0o666 & ~umask)
        f.write(data)

    atomic_write(path, write)


def _progress(total: int, enabled: bool | None):
    from tqdm import tqdm

    # enabled=None: tqdm shows the bar only on a terminal
    return tqdm(total=total, desc="ocr", unit=" files", disable=None if enabled is None else not enabled,
                leave=False)
