"""``textkit`` on the command line: a thin shell over the API (argument parsing and printing).

One module per job: ``parser`` (the arguments), ``common`` (what the commands share), and one
per command: ``quickstart``, ``data`` (corpora, preprocess, ocr), ``train``, ``evaluate``,
``predict``. Nothing here imports torch until a command needs it, so ``--help`` and argument
errors are instant.

::

    textkit quickstart                                   # the README's tour, under a minute on 2 cores
    textkit corpora                                      # registered corpora and where they were found
    textkit preprocess train=a.csv test=b.csv --out prep # -> Parquet shards + pipeline.json + report.json
    textkit train --corpus trec --model cnn --out runs/trec
    textkit evaluate runs/trec --corpus trec --out runs/trec-eval
    textkit predict runs/trec "How far is the moon ?"
    textkit ocr scans/ --out pages/                      # images and PDFs -> Tesseract TSV, resumable
    textkit train --train pages/ --format ocr-tsv --model grid --cv 5 --out runs/forms   # pages on a grid

Every command has ``--help``. Bad input ends with one line on stderr,
``textkit: error: <what, where, and the fix>``, exit status 2, and no output directory
(outputs are built in a temporary sibling and renamed at the end; see
``textkit.outputs.atomic_directory``).
"""
from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import warnings
from typing import Sequence

from .common import (
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    one_line,
    show_warning,
    command_threads,
)
from .parser import build_parser

# ---------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``textkit`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    started = time.perf_counter()  # "done in" counts imports and loading too
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if extra and getattr(args, "command", None) == "predict" and not any(a.startswith("-") for a in extra):
            args.texts += extra  # `predict MODEL --proba "a text"`: texts after an option are texts too
        elif extra:
            command = f"textkit {args.command}" if getattr(args, "command", None) else "textkit"
            parser.exit(EXIT_USAGE, f"textkit: error: unrecognized arguments: {' '.join(extra)} "
                                    f"(see '{command} --help')\n")
    except SystemExit as exit_:  # --help, --version and usage errors
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    args.argv = list(sys.argv[1:] if argv is None else argv)  # recorded in metrics.json
    args.started = started
    if getattr(args, "threads", None) is not None and args.threads < 1:
        print(f"textkit: error: --threads must be >= 1, got {args.threads} (see 'textkit {args.command} --help')",
              file=sys.stderr)
        return EXIT_USAGE
    with warnings.catch_warnings(), command_threads(getattr(args, "threads", None)), _terminate_as_interrupt():
        warnings.showwarning = show_warning
        try:
            return args.func(args) or 0
        except KeyboardInterrupt as stop:
            what = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
            note = getattr(args, "interrupted_note", "no output was left behind")
            from ..distributed import is_main_process

            if is_main_process():  # under torchrun every process is stopped; one says so
                print(f"textkit: error: {what}; {note}", file=sys.stderr)
            return EXIT_TERMINATED if isinstance(stop, Terminated) else EXIT_INTERRUPTED
        except BrokenPipeError:  # `textkit predict ... | head`: the reader has seen enough
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
            return 0
        # Bad input, as the API reports it: CorpusError and json errors are ValueErrors,
        # missing files and refused output directories OSErrors, unknown codecs LookupErrors,
        # a training run that diverged (its message says what to try) a FloatingPointError.
        # Anything else is a bug and keeps its traceback.
        except (ValueError, TypeError, OSError, LookupError, FloatingPointError) as error:
            from ..distributed import world

            rank, size = world()  # under torchrun: which process it was (torchrun then stops the others)
            print(f"textkit: error: {f'[rank {rank} of {size}] ' if size > 1 else ''}{one_line(error)}",
                  file=sys.stderr)
            return EXIT_USAGE


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, a job scheduler), raised where the command is, so it unwinds through
    the same cleanup as Ctrl-C: temporary output removed, worker processes stopped."""


@contextlib.contextmanager
def _terminate_as_interrupt():
    def stop(signum, frame):
        raise Terminated()

    if threading.current_thread() is not threading.main_thread():  # signals go to the main thread only
        yield
        return
    before = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)
