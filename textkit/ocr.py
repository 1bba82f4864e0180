"""Scanned images and PDFs -> Tesseract TSV files: the run behind ``textkit ocr``.

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
4. write each TSV as its file finishes, atomically (``textkit.fileio.atomic_write``); the
   temporary files a killed run left are removed before step 2, and only those
   (``textkit.fileio.remove_stale_temporaries``): nothing else in ``out`` is ever deleted.

One file's OCR (step 3) is ``textkit.tesseract``'s job; this module finds the files, runs
the workers and writes what they return.

**Inputs.** Files and folders; folders are walked recursively for the types in
``IMAGE_SUFFIXES`` and ``PDF_SUFFIXES`` (other files, hidden files and ``__MACOSX`` are
ignored there). A TSV keeps its input's path relative to the folder it was found under; a
file named on its own goes to the top of ``out``.

**The text layer and the resolution.** A PDF's embedded text is never read, and ``dpi``
defaults to the FARA corpus's 150 (it applies to PDFs; images are OCR'd at their own
resolution): ``textkit.tesseract`` says why.

**Bad inputs.** A corrupt image or PDF, a PDF with no pages, a page Tesseract fails on: the
file is reported (``on_failure(path, reason)`` as it happens, and in the report) and
skipped, nothing is written for it, and the other files go on.

**Interruptions.** Ctrl-C (or SIGTERM turned into ``KeyboardInterrupt``, as the CLI does)
stops the workers and their Tesseract processes; a TSV is either complete or absent.
"""
from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import multiprocessing.connection
import os
import time
from collections import deque
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from . import tesseract as engine  # not "tesseract": ocr()'s argument of that name is the program
from .analyzer import resolve_num_proc
from .fileio import atomic_write, read_versioned_json, remove_stale_temporaries
from .tesseract import DEFAULT_DPI, Settings, check_settings  # public here too: the API of ocr()

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".pnm", ".pgm", ".ppm")
PDF_SUFFIXES = (".pdf",)
SETTINGS_FILE = ".textkit-ocr.json"  # in out: the settings its TSVs were made with
SETTINGS_FORMAT, SETTINGS_VERSION = "textkit-ocr-settings", 1
CRASHED = ("the worker process OCR'ing it died (a crash in the PDF renderer, or killed for lack of memory); "
           "try a lower dpi")


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
    versions = {"tesseract": engine.check_tesseract(tesseract, lang)}
    pdfs = [job.source for job in jobs if job.kind == "pdf"]
    if pdfs:
        versions["pypdfium2"] = engine.check_pdf_renderer(pdfs[0])
    record_settings(out, settings)
    # once per run, not per TSV (each sweep lists a folder that may hold thousands of them)
    remove_stale_temporaries(out, recursive=True)
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
            "settings": asdict(settings), "engine": versions}


# ---------------------------------------------------------------- the settings out was made with

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
            pages = engine.pdf_pages(job.source, tesseract, settings)
        else:
            pages = engine.image_pages(job.source, tesseract, settings)
        return _Outcome(engine.merge_pages(pages), len(pages), None)
    except engine.BadInput as exc:
        return _Outcome(None, 0, str(exc))
    except OSError as exc:  # unreadable, vanished since it was listed, or Tesseract gone
        return _Outcome(None, 0, str(exc))


# ---------------------------------------------------------------- worker processes

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
                                                                   initializer=engine.init_worker)
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
            process.terminate()  # -> the engine's _stop_worker: its Tesseract is killed too
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

    atomic_write(path, write, sweep=False)  # ocr() sweeps the whole out folder once, at its start


def _progress(total: int, enabled: bool | None):
    from .progress import progress

    return progress("ocr", total=total, unit=" files", enabled=enabled)  # a bar, or log lines
