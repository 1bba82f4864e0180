"""``textkit`` on the command line: a thin shell over the API (argument parsing and printing).

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

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

from . import __version__

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM
MODELS = ("bow", "cnn", "rnn", "grid")  # textkit.models.MODELS, listed here so --help needs no torch
PAGE_MODELS = ("grid",)  # the models that read OCR'd pages (MODELS[name].inputs == "pages")
TOKENIZERS = ("regex", "whitespace", "char", "spacy", "nltk-treebank", "nltk-tweet")
FORMATS = ("label-text", "fasttext", "csv", "tsv", "jsonl", "parquet", "ptb-trees", "ptb-phrases", "folders", "tar",
           "zip", "ocr-tsv", "hocr", "alto", "funsd", "layout-text")
DOCUMENT_FORMATS = FORMATS[-5:]  # the page formats (textkit.documents.PARSERS)
SPLITS = ("train", "valid", "test")
QUICKSTART_EPOCHS = 5
MESSY_EXAMPLE = "<p>Sooooo... WHAT's the fee to call https://example.com from Paris &amp; Rome??? \U0001F600</p>"


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line, like every other textkit error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"textkit: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="textkit", description="From messy text to a trained, evaluated PyTorch text classifier.")
    parser.add_argument("--version", action="version", version=f"textkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("quickstart", help="the tour: TREC -> clean -> tokenize -> Batch -> models -> CNN",
                            description="Load the bundled TREC corpus, show one messy example cleaned and tokenized, "
                                        "the Batch shapes, what bow/cnn/rnn do with them (shapes from a real forward "
                                        "pass), then train a classifier and compare with Kim (2014).")
    p.add_argument("--model", choices=[m for m in MODELS if m not in PAGE_MODELS], default="cnn",
                   help="model to train on TREC (default: cnn)")
    p.add_argument("--epochs", type=int, default=QUICKSTART_EPOCHS,
                   help=f"training epochs (default: {QUICKSTART_EPOCHS}, under a minute on 2 CPU cores)")
    p.add_argument("--seed", type=int, default=0, help="seed of the valid split, initialisation and batch order")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    _threads_flag(p)
    _progress_flag(p)
    p.set_defaults(func=cmd_quickstart)

    p = commands.add_parser("corpora", help="registered corpora and where each was found",
                            description="List the registered corpora (textkit.corpora.list_corpora) and where "
                                        "load_corpus finds each: $TEXTKIT_DATA/<name>/, the bundled copy, or the "
                                        "Hugging Face hub (not checked: needs the network).")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=cmd_corpora)

    p = commands.add_parser(
        "preprocess", help="any corpus -> cleaned, tokenized, indexed Parquet/Arrow shards",
        description="Clean, tokenize and index a corpus into shards per split (columns text, label, ids, length), "
                    "plus pipeline.json (the fitted TextPipeline), report.json (counts, vocabulary, rejected rows) "
                    "and rejected.jsonl. The vocabulary is fit on train only. Rows with no token after cleaning "
                    "are rejected (listed, never dropped silently) unless --keep-empty. csv/tsv/jsonl/parquet/"
                    "label-text/fasttext inputs are streamed in batches (bounded memory, except the token counter, "
                    "which grows with the distinct train tokens). Output is built in DIR.tmp-XXXX and renamed to "
                    "DIR at the end.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="a registered corpus name (alone), or files/folders/archives as [SPLIT=]PATH; without "
                        "SPLIT= the split comes from the file name (train/dev/valid/test), else train")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (must not exist; see --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it is earlier textkit output")
    _file_flags(p)
    _pipeline_flags(p)
    p.add_argument("--keep-empty", action="store_true",
                   help="keep rows with no tokens (length 0) instead of rejecting them")
    p.add_argument("--output-format", choices=("parquet", "arrow"), default="parquet",
                   help="shard files: parquet (default) or arrow (Arrow IPC stream, datasets.Dataset.from_file)")
    p.add_argument("--shard-size", type=int, default=100_000, metavar="ROWS", help="rows per shard (default: 100000)")
    p.add_argument("--num-proc", type=int, default=None, metavar="N", help="worker processes (default: every core)")
    _progress_flag(p)
    p.set_defaults(func=cmd_preprocess)

    p = commands.add_parser(
        "train", help="train a classifier; write metrics.json and the model",
        description="Train a TextClassifier on a registered corpus (--corpus), on files (--train/--valid/--test) or "
                    "on a preprocess output (--preprocessed), score it on the test data, and write DIR/metrics.json "
                    "(accuracy, macro_f1, per-class scores, confusion matrix) and DIR/model/. --cv K runs K "
                    "stratified folds over the non-test data (train plus valid) and reports mean and sd; the saved "
                    "model is then trained on all of it.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", metavar="NAME", help="a registered corpus (see 'textkit corpora')")
    source.add_argument("--train", metavar="FILE", help="training file (with --format and column options)")
    source.add_argument("--preprocessed", metavar="DIR",
                        help="a 'textkit preprocess' output: its splits and pipeline.json (the vocabulary is refit "
                             "on the training part, which gives preprocess's own when DIR has a valid split)")
    p.add_argument("--valid", metavar="FILE", help="validation file for early stopping (default: 10%% of train)")
    p.add_argument("--test", metavar="FILE", help="test file to score the model on (needed with --train, "
                                                  "unless --cv K cross-validates)")
    _file_flags(p)
    _pipeline_flags(p)
    g = p.add_argument_group("layout grid, for --model grid (see textkit.layout.LayoutPipeline)")
    g.add_argument("--grid", type=int, nargs=2, metavar=("H", "W"), help="grid rows and columns (default: 64 48)")
    g.add_argument("--slots", type=int, metavar="S", help="tokens a grid cell keeps (default: 8)")
    _model_flags(p)
    p.add_argument("--recipe", metavar="JSON",
                   help='a file {"pipeline": {...}, "model_config": {...}, "train": {...}} (each optional) of '
                        "TextPipeline, model and TrainConfig options, as scripts/reproduce.py's RECIPES; flags "
                        "given here override it")
    p.add_argument("--cv", type=int, metavar="K", help="K-fold stratified cross-validation (K >= 2)")
    p.add_argument("--out", metavar="DIR", help="output directory (must not exist; see --overwrite; default: a new "
                                                "numbered folder under runs/)")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it is earlier textkit output")
    p.add_argument("--resume", action="store_true",
                   help="continue the interrupted run of --out DIR from its last finished epoch (an interrupted or "
                        "killed run keeps its epochs; without --resume a new run starts over)")
    _progress_flag(p)
    p.set_defaults(func=cmd_train)

    p = commands.add_parser(
        "evaluate", help="score a saved model; per-class table, metrics.json, confusion-matrix PNG",
        description="Score a saved model (a 'textkit train' output or a TextClassifier.save directory) on a corpus "
                    "split or a test file: print a per-class table (precision, recall, F1, support) and, with "
                    "--out, write DIR/metrics.json and DIR/confusion_matrix.png (needs matplotlib: "
                    "pip install 'textkit[plot]').")
    p.add_argument("model_dir", metavar="MODEL_DIR")
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--corpus", metavar="NAME", help="a registered corpus")
    data.add_argument("--test", metavar="FILE", help="a labelled file (with --format and column options)")
    p.add_argument("--split", choices=SPLITS, default="test", help="split of --corpus (default: test)")
    _file_flags(p)
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    _threads_flag(p)
    p.add_argument("--out", metavar="DIR", help="write metrics.json and confusion_matrix.png here")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it is earlier textkit output")
    p.set_defaults(func=cmd_evaluate)

    p = commands.add_parser(
        "predict", help="label texts (or, with a grid model, page files) with a saved model (JSON lines out)",
        description="Label texts given as arguments, in a file (one text per line; '-' for stdin) or piped on "
                    "stdin. One JSON object per text: {\"text\", \"label\"}, with --proba also "
                    "\"probabilities\": {label: p}. A model that reads pages (--model grid) takes page files "
                    "instead (Tesseract TSV, hOCR, ALTO, FUNSD JSON; laid-out text with --format layout-text), "
                    "as arguments or one path per line, and prints one object per page: {\"file\", \"page\", "
                    "\"label\"}.")
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument("texts", nargs="*", metavar="TEXT", help="texts to label (page files for a grid model)")
    p.add_argument("--file", metavar="FILE", help="one text per line ('-': stdin)")
    p.add_argument("--encoding", default="utf-8", help="encoding of --file/stdin (default: utf-8)")
    p.add_argument("--max-record-chars", type=int, metavar="N",
                   help="refuse a line of --file/stdin longer than N characters (default: 16777216)")
    p.add_argument("--proba", action="store_true", help="print every class's probability")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="texts per batch (default: 256)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    _threads_flag(p)
    g = p.add_argument_group("page files, for a grid model (see textkit.documents.read_document)")
    g.add_argument("--format", choices=DOCUMENT_FORMATS, help="page file format (default: from the name and content)")
    _page_flags(g)
    p.set_defaults(func=cmd_predict)

    p = commands.add_parser(
        "ocr", help="scanned images and PDFs -> Tesseract TSV pages (resumable)",
        description="OCR images (png, jpg, tif, ...) and PDFs with Tesseract (the tesseract-ocr system package) into "
                    "one TSV per file under DIR, keeping each file's path below the folder given (class folders "
                    "survive: scans/Amendment/a.pdf -> DIR/Amendment/a.tsv). PDF pages are rendered with pypdfium2 "
                    "(pip install 'textkit[ocr]'); their hidden text layer is never read. Files already done are "
                    "skipped, so rerunning resumes an interrupted run. A file that cannot be OCR'd is reported and "
                    "skipped; the exit status is then 1. Read the output with --format ocr-tsv.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image/PDF files and folders (walked recursively)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (created; reused to resume)")
    p.add_argument("--dpi", type=int, default=150,
                   help="PDF rendering resolution (default: 150, as the FARA corpus; 300 for small print)")
    p.add_argument("--lang", default="eng", help="Tesseract language(s), e.g. eng or deu+eng (default: eng)")
    p.add_argument("--psm", type=int, default=3, help="Tesseract page segmentation mode (default: 3, automatic)")
    p.add_argument("--max-pages", type=int, metavar="N", help="OCR only the first N pages of each file")
    p.add_argument("--num-proc", type=int, metavar="N", help="worker processes (default: every core)")
    p.add_argument("--tesseract", default="tesseract", metavar="PATH",
                   help="the tesseract program (default: the one on PATH)")
    _progress_flag(p)
    p.set_defaults(func=cmd_ocr, interrupted_note="the TSV files written are complete: rerun the same command "
                                                  "to resume")
    return parser


def _column(value: str) -> str | int:
    return int(value) if value.isdigit() else value  # "2": the third column (0-based)


def _file_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("file format (see textkit.corpora.load_corpus)")
    g.add_argument("--format", choices=FORMATS, help="file format (default: from the file name)")
    g.add_argument("--text-column", type=_column, action="append", metavar="C",
                   help="text column name or 0-based index; repeat to join several (default: text)")
    g.add_argument("--label-column", type=_column, metavar="C", help="label column name or index (default: label)")
    g.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                   help="whether a csv/tsv's first row names the columns (default: yes when columns are named)")
    g.add_argument("--encoding", help="text encoding (default: utf-8, or the corpus card's)")
    g.add_argument("--errors", choices=("strict", "replace", "ignore"), help="undecodable bytes (default: strict)")
    _page_flags(g)
    g = p.add_argument_group("limits (keep memory bounded whatever the input; raise them for data that really is "
                             "this large)")
    g.add_argument("--max-record-chars", type=int, metavar="N",
                   help="refuse a record (line, csv row, JSON line, document) longer than N characters "
                        "(default: 16777216, far above any real corpus)")
    g.add_argument("--max-member-bytes", type=int, metavar="N",
                   help="refuse a file of a folder or archive larger than N bytes, decompressed (default: 67108864)")
    g.add_argument("--max-compression-ratio", type=float, metavar="R",
                   help="refuse an archive member, or the archive so far, that decompresses to more than R times "
                        "its compressed size: zip bombs (default: 100; inf turns it off)")


def _page_flags(g) -> None:
    g.add_argument("--min-confidence", type=float, metavar="C",
                   help="OCR'd pages (ocr-tsv, hocr, alto): leave out words the engine scored below C (0-100)")
    g.add_argument("--page-size", type=float, nargs=2, metavar=("W", "H"),
                   help="FUNSD JSON pages: the page's width and height, which the files do not hold")


def _pipeline_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("text pipeline (see textkit.TextPipeline)")
    g.add_argument("--tokenizer", choices=TOKENIZERS, help="tokenizer (default: regex)")
    g.add_argument("--max-length", type=int, metavar="N", help="cut texts to N ids (default: no limit)")
    g.add_argument("--min-freq", type=int, metavar="N", help="keep tokens seen at least N times in train (default: 1)")
    g.add_argument("--max-vocab-size", type=int, metavar="N", help="vocabulary size cap, PAD and UNK included")
    g.add_argument("--ngram-range", type=int, nargs=2, metavar=("MIN", "MAX"), help="word n-grams (default: 1 1)")
    g.add_argument("--ngram-buckets", type=int, metavar="N", help="hash n-grams (n >= 2) into N extra ids")


def _model_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and training (see textkit.TextClassifier, textkit.training.TrainConfig)")
    g.add_argument("--model", choices=MODELS, default="cnn", help="model (default: cnn)")
    g.add_argument("--epochs", type=int, help="epochs at most (default: 10; early stopping on valid)")
    g.add_argument("--batch-size", type=int, help="texts per step (default: 50)")
    g.add_argument("--lr", type=float, help="learning rate (default: the optimizer's usual one)")
    g.add_argument("--vectors", metavar="FILE",
                   help="pretrained word vectors (word2vec, fastText .vec, GloVe; .gz too) for the embedding rows "
                        "of the vocabulary; their dimension becomes the model's (see textkit.vectors)")
    g.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    _threads_flag(g)
    g.add_argument("--seed", type=int, default=0, help="seed of splits, folds, initialisation and batch order")


def _threads_flag(p) -> None:
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch CPU threads (default: the cores no other process is busy on when the command "
                        "starts; see textkit.threads)")


def _progress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: only on a terminal)")


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
    with warnings.catch_warnings(), _torch_threads(getattr(args, "threads", None)), _terminate_as_interrupt():
        warnings.showwarning = _show_warning
        try:
            return args.func(args) or 0
        except KeyboardInterrupt as stop:
            what = "terminated (SIGTERM)" if isinstance(stop, Terminated) else "interrupted"
            note = getattr(args, "interrupted_note", "no output was left behind")
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
            print(f"textkit: error: {_one_line(error)}", file=sys.stderr)
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


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """``--threads N`` for the whole command, restored after (main() may run in-process). The
    default (the free cores) is measured where the work starts (``TrainConfig.threads``,
    :func:`_free_threads`), after the arguments are checked and without importing torch first."""
    if threads is None:
        yield
        return
    from .threads import torch_threads

    with torch_threads(threads):
        yield


def _free_threads(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """The default thread count for evaluate and predict: the free cores (see textkit.threads),
    or nothing to do when --threads was given (main set it)."""
    if args.threads is not None:
        return contextlib.nullcontext()
    from .threads import torch_threads

    return torch_threads(None)


# load_corpus's fixes name its keyword arguments; on the command line they are flags
_API_HINTS = [(re.compile(r"\bheader=True\b"), "--header"), (re.compile(r"\bheader=False\b"), "--no-header"),
              (re.compile(r"\b(format|encoding|errors|text_column|label_column)=(?:'([^']*)')?"),
               lambda m: f"--{m[1].replace('_', '-')}" + (f" {m[2]}" if m[2] is not None else "")),
              (re.compile(r"\b(max_record_chars|max_member_bytes|max_compression_ratio)=([\w.+-]*)"),
               lambda m: f"--{m[1].replace('_', '-')}" + (f" {m[2]}" if m[2] else ""))]


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) if str(error) else type(error).__name__
    for pattern, flag in _API_HINTS:
        text = pattern.sub(flag, text)
    return text if not isinstance(error, OSError) or error.filename is None or str(error.filename) in text \
        else f"{text}: {error.filename}"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"textkit: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _say(*parts: Any) -> None:
    print(*parts, flush=True)


# ---------------------------------------------------------------- shared pieces

def _read_options(args: argparse.Namespace) -> dict[str, Any]:
    """load_corpus keyword arguments for files, from the file-format flags."""
    columns = args.text_column
    return {"format": args.format, "text_column": columns[0] if columns and len(columns) == 1 else columns,
            "label_column": args.label_column, "header": args.header, "encoding": args.encoding,
            "errors": args.errors, "min_confidence": args.min_confidence,
            "page_size": tuple(args.page_size) if args.page_size else None, **_limit_options(args)}


def _check_files(args: argparse.Namespace, paths: Sequence[str | None]) -> None:
    """What reading ``paths`` with the file flags would refuse at the start (a missing file, an
    unknown extension, a missing column), said at once: a command checks its arguments before
    it imports torch or loads anything."""
    from .formats import ReadOptions, check

    given = {k: v for k, v in _read_options(args).items() if v is not None and k != "format"}
    options = ReadOptions(**given)
    for path in filter(None, paths):
        check(path, args.format, options)


def _limit_options(args: argparse.Namespace) -> dict[str, Any]:
    """The limit flags, for load_corpus (files and registered corpora alike)."""
    return {"max_record_chars": args.max_record_chars, "max_member_bytes": args.max_member_bytes,
            "max_compression_ratio": args.max_compression_ratio}


def _pipeline_options(args: argparse.Namespace) -> dict[str, Any]:
    """The pipeline flags given, over the --recipe's pipeline options (train only). For a model
    that reads pages they are LayoutPipeline options, the text flags going to its text layer."""
    options = {"tokenizer": args.tokenizer, "max_length": args.max_length, "min_freq": args.min_freq,
               "max_vocab_size": args.max_vocab_size, "ngram_buckets": args.ngram_buckets,
               "ngram_range": tuple(args.ngram_range) if args.ngram_range else None}
    text = {k: v for k, v in options.items() if v is not None}
    layout = {"grid": tuple(args.grid) if getattr(args, "grid", None) else None, "slots": getattr(args, "slots", None)}
    layout = {k: v for k, v in layout.items() if v is not None}
    recipe = dict(_recipe(args)["pipeline"])
    if getattr(args, "model", None) not in PAGE_MODELS:
        if layout:
            raise ValueError(f"--grid and --slots are options of the layout grid, for --model grid "
                             f"(not --model {getattr(args, 'model', None) or 'of this command'})")
        return {**recipe, **text}
    text = {**recipe.pop("text", {}), **text}
    return {**recipe, **layout, **({"text": text} if text else {})}


RECIPE_PARTS = ("pipeline", "model_config", "train")


def _recipe(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The ``--recipe`` read by ``cmd_train`` (empty dicts for commands without one)."""
    return getattr(args, "recipe_options", None) or {part: {} for part in RECIPE_PARTS}


def _read_recipe(path: str | None) -> dict[str, dict[str, Any]]:
    """``--recipe FILE`` -> its pipeline / model_config / train option dicts (empty without one)."""
    if path is None:
        return {part: {} for part in RECIPE_PARTS}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"--recipe {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    from .fileio import loads_json

    try:
        recipe = loads_json(text, f"--recipe {path}")  # nested past textkit.fileio.MAX_JSON_DEPTH: refused
    except json.JSONDecodeError as e:
        raise ValueError(f"--recipe {path}, line {e.lineno}, column {e.colno}: not JSON ({e.msg})") from None
    expected = 'an object with "pipeline", "model_config" and/or "train" objects'
    if not isinstance(recipe, dict):
        raise ValueError(f"--recipe {path}: expected {expected}, got a JSON {type(recipe).__name__}")
    for key, value in recipe.items():
        if key not in RECIPE_PARTS or not isinstance(value, dict):
            raise ValueError(f"--recipe {path}: {key!r} is not one of {RECIPE_PARTS} holding an object; "
                             f"expected {expected}")
    return {part: dict(recipe.get(part, {})) for part in RECIPE_PARTS}


def _split_lists(dataset, pages: bool = False) -> tuple[list, list[str]]:
    """A ``datasets.Dataset`` split -> (texts, label names); with ``pages``, its OCR'd pages
    (``{"words", "bboxes"}`` each, what the grid model reads) instead of texts."""
    names = dataset.features["label"].names
    labels = [names[i] for i in dataset["label"]]
    if not pages:
        return list(dataset["text"]), labels
    if "bboxes" not in dataset.column_names:
        raise ValueError(f"model 'grid' reads OCR'd pages (words with their boxes), but this data holds plain "
                         f"texts; give it class folders of page files (--format ocr-tsv, hocr, alto, funsd or "
                         f"layout-text; 'textkit ocr' makes ocr-tsv pages from scans), or use --model "
                         f"{'/'.join(m for m in MODELS if m not in PAGE_MODELS)} for texts")
    return [{"words": w, "bboxes": b} for w, b in zip(dataset["words"], dataset["bboxes"])], labels


def _unit(pages: bool) -> str:
    return "pages" if pages else "texts"


def _check_corpus_flags(args: argparse.Namespace, name: str) -> None:
    given = [flag for flag, value in (("--format", args.format), ("--text-column", args.text_column),
                                      ("--label-column", args.label_column), ("--header", args.header),
                                      ("--page-size", args.page_size)) if value is not None]
    if given:
        raise ValueError(f"{', '.join(given)} apply to files, not to the registered corpus {name!r}, "
                         f"which knows its own format")


def _model_directory(path: str) -> Path:
    """MODEL_DIR may be a 'textkit train' output (holding model/) or a saved classifier itself."""
    directory = Path(path)
    if not directory.exists():
        raise FileNotFoundError(f"{directory}: no such directory (expected a 'textkit train' output or a "
                                f"TextClassifier.save directory)")
    if not directory.is_dir():
        raise NotADirectoryError(f"{directory}: is a file; MODEL_DIR is the folder a 'textkit train --out' "
                                 f"wrote (or a TextClassifier.save folder)")
    if not (directory / "config.json").exists() and (directory / "model" / "config.json").exists():
        return directory / "model"
    return directory


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _command_line(argv: Sequence[str]) -> str:
    import shlex

    return "textkit " + " ".join(map(shlex.quote, argv))


# ---------------------------------------------------------------- quickstart

def cmd_quickstart(args: argparse.Namespace) -> int:
    import torch

    from . import TextClassifier, TextPipeline
    from .corpora import get_card, load_corpus
    from .documents import parse_layout_text
    from .formats import ReadOptions
    from .layout import LayoutPipeline
    from .models import MODELS as REGISTERED, build_model

    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    card = get_card("trec")
    corpus = load_corpus("trec", seed=args.seed)  # bundled with the package: no TEXTKIT_DATA, no network
    (train_texts, train_labels), (valid_texts, valid_labels), (test_texts, test_labels) = (
        _split_lists(corpus[s]) for s in SPLITS)
    _say(f"1. data     load_corpus('trec'): {card.title}")
    _say(f"           {corpus['train'].info.description}")
    _say(f"           train {len(train_texts):,} / valid {len(valid_texts):,} (10% of train, stratified, seed "
         f"{args.seed}) / test {len(test_texts):,}; classes {', '.join(corpus['train'].features['label'].names)}")
    _say(f"           e.g. {train_labels[0]}: {train_texts[0]!r}")

    pipe = TextPipeline().fit(train_texts)  # vocabulary from train only
    _say("\n2. text     one messy string through the pipeline (stages 1-3)")
    _say(f"           raw       {MESSY_EXAMPLE!r}")
    _say(f"           clean     {pipe.cleaner(MESSY_EXAMPLE)!r}")
    _say(f"           tokenize  {pipe.analyze(MESSY_EXAMPLE)}")
    _say(f"           index     {pipe.encode([MESSY_EXAMPLE])[0]}   (vocabulary of {len(pipe.vocab):,} from "
         f"train; 0 = <pad>, 1 = <unk>)")

    batch = pipe.transform(train_texts[:4])
    _say("\n3. pad      pipe.transform(4 train questions) -> Batch (stage 4)")
    _say(f"           ids      {_shape(batch.ids)} {batch.ids.dtype}   row 0: {batch.ids[0].tolist()}")
    _say(f"           lengths  {_shape(batch.lengths)} {batch.lengths.dtype}   {batch.lengths.tolist()}")

    # the same questions as a page: a line is a row, a character a column (format layout-text)
    page = parse_layout_text("\n".join(train_texts[:4]).encode(), "4 train questions", ReadOptions())[0]
    layout = LayoutPipeline(text=pipe)  # the same cleaner, tokenizer and vocabulary
    grid = layout.transform([page])
    _say(f"\n3b. page    the 4 questions as a page (line = row, character = column) -> LayoutPipeline(grid="
         f"{layout.grid}, slots={layout.slots}) -> GridBatch")
    _say(f"           ids      {_shape(grid.ids)} {grid.ids.dtype}   (B, H, W, S): page, row, column, slot")
    _say(f"           lengths  {_shape(grid.lengths)} {grid.lengths.dtype}   {grid.lengths.tolist()} tokens placed")
    for row in range(grid.ids.shape[1]):
        cells = [(col, layout.vocab.itos[int(i)]) for col in range(grid.ids.shape[2])
                 for i in grid.ids[0, row, col] if i]
        if cells:
            shown = " ".join(f"{col}:{token}" for col, token in cells[:8])
            _say(f"           row {row:>2}   {shown}{' ...' if len(cells) > 8 else ''}   (column:token)")

    _say("\n4. models   what each model does with (ids, lengths): shapes from forward hooks on these batches")
    torch.manual_seed(args.seed)
    for name in MODELS:
        model = build_model(name, vocab_size=pipe.num_embeddings, num_classes=len(card.classes)).eval()
        doc = (REGISTERED[name].__doc__ or "").strip().splitlines()[0]
        _say(f"   {name}  {type(model).__name__}: {doc}")
        for line in _layer_shapes(model, grid if name in PAGE_MODELS else batch):
            _say(f"           {line}")

    from .threads import torch_threads

    with torch_threads(args.threads) as threads:  # measured now, before the training starts
        _say(f"\n5. train    TextClassifier({args.model!r}, epochs={args.epochs}, seed={args.seed}) on train, "
             f"early stopping on valid, then evaluate on test ({threads} CPU thread(s), --threads; one line per "
             f"epoch on stderr)")
        clf = TextClassifier(args.model, epochs=args.epochs, seed=args.seed, device=args.device, threads=threads,
                             progress=args.progress)
        clf.fit(train_texts, train_labels, valid=(valid_texts, valid_labels))
        scores = clf.evaluate(test_texts, test_labels)
    reference = card.references.get("CNN-rand")
    _say(f"           test ({len(test_texts)} questions): accuracy {scores['accuracy']:.4f}, "
         f"macro-F1 {scores['macro_f1']:.4f}")
    if reference is not None:
        _say(f"           published: CNN-rand accuracy {reference / 100:.3f}, from {card.reference_source}")
    _say(f"           reproduce: textkit quickstart --model {args.model} --epochs {args.epochs} --seed {args.seed}; "
         f"longer runs: textkit train --corpus trec --epochs 10 --out runs/trec")
    _say(f"\ndone in {time.perf_counter() - args.started:.0f} s (since the command started)")
    return 0


def _shape(value: Any) -> str:
    """A tensor, PackedSequence or tuple of them, as its shapes."""
    import torch
    from torch.nn.utils.rnn import PackedSequence

    if isinstance(value, PackedSequence):
        return f"packed{tuple(value.data.shape)}"
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_shape(v) for v in value) + ")"
    return type(value).__name__


def _layer_shapes(model, batch) -> list[str]:
    """Run ``model`` on ``batch`` with a forward hook on every leaf layer; one line per call."""
    import torch
    from torch import nn

    quiet = (nn.Dropout, nn.ReLU, nn.Identity, nn.Tanh)
    lines: list[str] = []
    hooks = []
    for name, module in model.named_modules():
        if list(module.children()) or isinstance(module, quiet):
            continue

        def hook(module, inputs, output, name=name):
            inputs = inputs[0] if len(inputs) == 1 else inputs
            lines.append(f"{name:<17} {type(module).__name__:<13} {_shape(inputs)} -> {_shape(output)}")

        hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits = model(batch.ids, batch.lengths)
    finally:
        for handle in hooks:
            handle.remove()
    lines.append(f"{'= logits':<31} {_shape(logits)}")
    return lines


# ---------------------------------------------------------------- corpora

def cmd_corpora(args: argparse.Namespace) -> int:
    from .corpora import DATA_ENV, list_corpora

    entries = list_corpora()
    if args.json:
        _say(json.dumps(entries, ensure_ascii=False, indent=1))
        return 0
    rows = [("NAME", "CLASSES", "FOUND", "WHERE")]
    for e in entries:
        where = e["location"] or "-"
        if e["found"] == "hub":
            where += "  (hub: not checked, needs the network)"
        if e["missing_files"]:
            where += f"  (lacks {', '.join(e['missing_files'])}: load the other splits with split=)"
        rows.append((e["name"], str(e["classes"]), e["found"], where))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        _say("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    root = os.environ.get(DATA_ENV)
    _say(f"\n${DATA_ENV} = {root}" if root else
         f"\n${DATA_ENV} is not set: set it to a folder holding <name>/ folders to use local copies")
    return 0


# ---------------------------------------------------------------- preprocess

def cmd_preprocess(args: argparse.Namespace) -> int:
    from .outputs import check_output_directory

    check_output_directory(Path(args.out), overwrite=args.overwrite, kind="preprocess")  # before importing torch
    from .preprocess import preprocess

    report = preprocess(
        args.inputs, args.out, **_read_options(args), pipeline=_pipeline_options(args), keep_empty=args.keep_empty,
        shard_size=args.shard_size, output_format=args.output_format, num_proc=args.num_proc,
        overwrite=args.overwrite, progress=args.progress)
    _say(f"{'split':<6} {'read':>9} {'written':>9} {'rejected':>9} {'tokens':>11} {'unk':>6}  shards")
    for split, s in report["splits"].items():
        unk = f"{100 * s['unk_tokens'] / s['tokens']:.1f}%" if s["tokens"] else "-"
        _say(f"{split:<6} {s['rows_read']:>9,} {s['rows_written']:>9,} {s['rows_rejected']:>9,} {s['tokens']:>11,} "
             f"{unk:>6}  {len(s['shards'])}")
    labels = sorted(report["labels"], key=str)  # sorted, as train and evaluate list them (report.json: id order)
    _say(f"vocabulary {report['vocab_size']:,} (fit on {report['vocab_fit_on']}); {len(labels)} labels "
         f"{', '.join(labels)}")
    rejected = report["rejected"]
    if rejected["count"]:
        reasons = "; ".join(f"{n:,} {reason}" for reason, n in rejected["by_reason"].items())
        _say(f"rejected {rejected['count']:,} rows ({reasons}): see {Path(args.out) / rejected['file']}")
    _say(f"wrote {args.out}/ ({report['seconds']:.1f} s, {report['num_proc']} processes)")
    return 0


# ---------------------------------------------------------------- ocr

def cmd_ocr(args: argparse.Namespace) -> int:
    from .ocr import ocr

    def failed(path, reason) -> None:
        print(f"textkit: warning: {path}: {reason}; skipped", file=sys.stderr)

    try:
        report = ocr(args.inputs, args.out, dpi=args.dpi, lang=args.lang, psm=args.psm, max_pages=args.max_pages,
                     num_proc=args.num_proc, progress=args.progress, on_failure=failed, tesseract=args.tesseract)
    except ImportError as error:  # pypdfium2, an optional extra, for PDFs: a fix to name, not a bug
        raise ValueError(str(error)) from None
    done, skipped, bad = report["done"], report["skipped"], report["failed"]
    _say(f"ocr: {done:,} files OCR'd ({report['pages']:,} pages), {skipped:,} already done, {len(bad):,} failed; "
         f"wrote {Path(args.out)}/ ({report['seconds']:.0f} s, {report['num_proc']} processes)")
    if bad:
        _say(f"failed (nothing written for them; fix or remove them, then rerun to finish): "
             f"{', '.join(str(f['input']) for f in bad[:5])}{' ...' if len(bad) > 5 else ''}")
        return 1
    return 0


# ---------------------------------------------------------------- train

def cmd_train(args: argparse.Namespace) -> int:
    from .outputs import atomic_directory, check_output_directory, interrupted_run

    if args.resume and args.out is None:
        raise ValueError("--resume continues the interrupted run of an --out folder: pass the --out it had")
    if args.resume and args.cv is not None:
        raise ValueError("--resume continues one training run; --cv trains one per fold: rerun it without --resume")
    if args.out is None:
        args.out = str(_next_run_folder(Path("runs")))
    if args.resume and interrupted_run(args.out) is None:
        raise ValueError(f"nothing to resume: no interrupted run of --out {args.out} was found (a run that is "
                         f"interrupted or killed keeps its epochs beside it, as {args.out}.tmp-...); rerun without "
                         f"--resume to start it")
    if not args.resume:  # a resumed run's folder is checked once it is taken back
        check_output_directory(Path(args.out), overwrite=args.overwrite, kind="train")  # before any training
    if args.cv is not None and args.cv < 2:
        raise ValueError(f"--cv must be an int >= 2 (folds), got {args.cv}")
    if args.train and not args.test and args.cv is None:
        raise ValueError("no test data: pass --test FILE, or --cv K to cross-validate")
    _check_files(args, [args.train, args.valid, args.test])  # seconds before loading or importing torch
    if args.vectors and not Path(args.vectors).is_file():
        raise FileNotFoundError(f"{args.vectors}: no such word-vector file (--vectors)")
    args.recipe_options = _read_recipe(args.recipe)  # read once; every step below uses this copy
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "device": args.device,
             "seed": args.seed, "threads": args.threads, "progress": args.progress}
    train_options = {**_recipe(args)["train"], **{k: v for k, v in flags.items() if v is not None}}
    try:  # bad options fail now, not after loading
        _new_classifier(args, _pipeline_options(args), train_options)
    except ValueError as error:  # TrainConfig names its field; here it is a flag or a --recipe entry
        field = re.match(r"TrainConfig (\w+) must", str(error))
        if field is None:
            raise
        name = field[1]
        where = f"--{name.replace('_', '-')}" if flags.get(name) is not None else \
            f"--recipe {args.recipe}: train.{name}"
        raise ValueError(where + str(error)[field.end(1):]) from None  # "--lr must be ..."
    data, pipeline, description = _training_data(args)
    if "test" not in data and args.cv is None:
        fix = ("pass --cv K to cross-validate (its protocol: " + _protocol(args.corpus) + ")" if args.corpus else
               "preprocess a test file too (test=PATH), or pass --cv K" if args.preprocessed else
               "pass --test FILE, or --cv K to cross-validate")
        raise ValueError(f"no test data in {description}: {fix}")
    known = set(data["train"][1]) | (set(data["valid"][1]) if args.cv and "valid" in data else set())
    for split in ("valid", "test"):  # now, not after training: a class without examples cannot be learnt
        if split in data and not (args.cv and split == "valid"):
            where = getattr(args, split, None) or f"{description} [{split}]"
            train = args.train or f"{description} [train]"
            _check_known_labels(data[split][1], known, where, f"the training data ({train})",
                                "fix the label, or add examples of that class to the training data")
    _say(f"data: {description} ({_sizes(data)}; {len(set(data['train'][1]))} classes)")
    started = time.perf_counter()
    resumable = args.cv is None  # folds are not checkpointed: an interrupted --cv run starts over
    with atomic_directory(args.out, overwrite=args.overwrite, kind="train", resumable=resumable,
                          resume=args.resume) as tmp:
        if resumable:
            again = [*args.argv, *([] if any(a.startswith("--out") for a in args.argv) else ["--out", args.out])]
            args.interrupted_note = (f"the finished epochs are kept beside {args.out}: continue with "
                                     f"{_command_line(again)}{'' if args.resume else ' --resume'}")
        cv = _cross_validate(args, data, pipeline, train_options) if args.cv else None
        # the final run checkpoints into the output (checkpoint.pt, history.jsonl): --resume continues it
        clf = _new_classifier(args, pipeline, {**train_options, "out_dir": tmp})
        if args.cv:  # the final model learns from all the non-test data the folds saw
            texts, labels = _non_test(data)
            clf.fit(texts, labels, resume=args.resume)
        else:
            valid = data.get("valid")
            clf.fit(*data["train"], valid=valid, resume=args.resume)
            if valid is None and clf.sizes_["valid"]:
                _say(f"held out {clf.sizes_['valid']:,} of the {len(data['train'][0]):,} training records for "
                     f"validation (early stopping); trained on {clf.sizes_['train']:,} (--valid FILE to choose them)")
        if clf.vectors_coverage_ is not None:
            _say(f"vectors: {clf.vectors_coverage_}")
        metrics: dict[str, Any] = {}
        if "test" in data:
            metrics.update(clf.evaluate(*data["test"]))
            metrics["evaluated_on"] = f"test ({len(data['test'][0])} {_unit(args.model in PAGE_MODELS)})"
        else:
            metrics.update({"accuracy": cv["accuracy"]["mean"], "macro_f1": cv["macro_f1"]["mean"],
                            "evaluated_on": f"{args.cv}-fold cross-validation (mean over folds)"})
        if cv:
            metrics["cv"] = cv
        sizes = {s: len(t) for s, (t, _) in data.items()}
        if "valid" not in data and not args.cv:
            sizes.update(clf.sizes_)  # the part of train held out for validation
        metrics.update({"data": description, "sizes": sizes,
                        "model": args.model, "model_config": _recipe(args)["model_config"],
                        "train_options": train_options, "seed": args.seed, "history": clf.history_,
                        **({"vectors": {"file": args.vectors, "coverage": str(clf.vectors_coverage_)}}
                           if args.vectors else {}),
                        "command": _command_line(args.argv),
                        "textkit_version": __version__, "seconds": round(time.perf_counter() - started, 1)})
        clf.save(tmp / "model")
        _write_json(tmp / "metrics.json", metrics)
        from .plots import plot_confusion, plot_curves

        if plot_curves(clf.history_, tmp / "training_curves.png", f"{args.model} on {description}") \
                and "top_confusions" in metrics:  # only with test data; no second warning without matplotlib
            plot_confusion(metrics, tmp / "confusion_matrix.png", f"test: accuracy {metrics['accuracy']:.3f}, "
                                                                  f"macro-F1 {metrics['macro_f1']:.3f}")
    if "test" in data:
        _say(f"test: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
             f"({len(data['test'][0]):,} {_unit(args.model in PAGE_MODELS)})")
    if cv:
        _say(f"cv ({cv['folds']} folds): accuracy {cv['accuracy']['mean']:.4f} ± {cv['accuracy']['sd']:.4f}, "
             f"macro-F1 {cv['macro_f1']['mean']:.4f} ± {cv['macro_f1']['sd']:.4f} (mean ± sd)")
    written = ", ".join(sorted(p.name + ("/" if p.is_dir() else "") for p in Path(args.out).iterdir()
                               if not p.name.startswith(".")))
    _say(f"wrote {args.out}/: {written} ({time.perf_counter() - started:.0f} s training, "
         f"{time.perf_counter() - args.started:.0f} s in all)")
    return 0


def _next_run_folder(root: Path) -> Path:
    """``runs/1``, ``runs/2``, ...: one past the highest number there (the default --out)."""
    numbers = [int(p.name) for p in root.iterdir() if p.name.isdigit()] if root.is_dir() else []
    return root / str(max(numbers, default=0) + 1)


def _sizes(data: dict) -> str:
    """"train 5,452 (3 empty), test 500": each split's records, and how many have an empty text
    (loaded like any other: an empty csv field, a label-text line "0 ")."""
    parts = []
    for split, (texts, _) in data.items():
        empty = sum(1 for t in texts if isinstance(t, str) and not t.strip())
        parts.append(f"{split} {len(texts):,}" + (f" ({empty:,} empty)" if empty else ""))
    return ", ".join(parts)


def _check_known_labels(labels: Sequence[str], known: set, where: str, trained_on: str, fix: str) -> None:
    """The first label outside ``known``, by record number (1-based, in file order), and the
    next few other such labels, each at its first record."""
    unseen: dict[str, int] = {}  # label -> its first record, in file order
    for i, label in enumerate(labels, 1):
        if label not in known and label not in unseen:
            unseen[label] = i
    if not unseen:
        return
    (label, i), *others = unseen.items()
    shown = [f"{y!r} (record {n})" for y, n in others[:5]]
    nor = (f" (nor do {', '.join(shown)} and {len(others) - 5:,} more)" if len(others) > 5 else
           f" (nor do {', '.join(shown[:-1])} and {shown[-1]})" if len(shown) > 1 else
           f" (nor does {shown[0]})" if shown else "")
    raise ValueError(f"{where}, record {i}: label {label!r} never occurs in {trained_on}{nor}; {fix}")


def _protocol(corpus: str) -> str:
    from .corpora import get_card

    return get_card(corpus).protocol


def _training_data(args: argparse.Namespace):
    """-> ({split: (texts, labels)}, pipeline (TextPipeline or options dict), description)."""
    from .corpora import load_corpus

    if args.preprocessed:
        from .preprocess import load_preprocessed

        given = [flag for flag, value in (("--valid", args.valid), ("--test", args.test), ("--format", args.format),
                                          ("--text-column", args.text_column), ("--label-column", args.label_column),
                                          ("--encoding", args.encoding), ("--header", args.header),
                                          ("--errors", args.errors)) if value is not None]
        given += [f"--{k.replace('_', '-')}" for k in _pipeline_options(args) if k not in _recipe(args)["pipeline"]]
        given += ["--recipe's pipeline options"] if _recipe(args)["pipeline"] else []
        if given:
            raise ValueError(f"{', '.join(given)} cannot be used with --preprocessed: its splits and "
                             f"pipeline.json hold the data and the pipeline options")
        if args.model in PAGE_MODELS:
            raise ValueError("--preprocessed holds token ids of texts; model 'grid' trains on pages: pass the "
                             "folder of page files with --train (and --format)")
        report, pipeline, splits = load_preprocessed(args.preprocessed)
        if "train" not in splits:
            raise ValueError(f"{args.preprocessed} has no train split (it has {', '.join(splits)})")
        return splits, pipeline, f"preprocessed {args.preprocessed}"
    if args.corpus:
        _check_corpus_flags(args, args.corpus)
        if args.valid or args.test:
            raise ValueError("--valid and --test go with --train files, not with --corpus")
        # under --cv the folds take the place of a held-out valid split
        corpus = load_corpus(args.corpus, encoding=args.encoding, errors=args.errors, seed=args.seed,
                             min_confidence=args.min_confidence, valid_fraction=0 if args.cv else None,
                             **_limit_options(args))
        description = f"corpus {args.corpus!r}"
    else:
        files = {"train": args.train, "valid": args.valid, "test": args.test}
        corpus = load_corpus({k: v for k, v in files.items() if v}, valid_fraction=0, seed=args.seed,
                             **_read_options(args))
        description = f"files {', '.join(f'{k}={v}' for k, v in files.items() if v)}"
    data = {split: _split_lists(corpus[split], args.model in PAGE_MODELS) for split in SPLITS if split in corpus}
    return data, _pipeline_options(args), description


def _non_test(data: dict) -> tuple[list[str], list[str]]:
    texts = [t for split in ("train", "valid") if split in data for t in data[split][0]]
    labels = [y for split in ("train", "valid") if split in data for y in data[split][1]]
    return texts, labels


def _new_classifier(args: argparse.Namespace, pipeline, train_options: dict):
    from . import TextClassifier

    return TextClassifier(args.model, pipeline=pipeline or None, model_config=_recipe(args)["model_config"] or None,
                          vectors=args.vectors, **train_options)


def _cross_validate(args: argparse.Namespace, data: dict, pipeline, train_options: dict) -> dict:
    """Stratified K folds (textkit.corpora.kfold, seeded) over train + valid; mean and sd."""
    from datasets import ClassLabel, Dataset, Features, Value

    from .corpora import kfold

    texts, labels = _non_test(data)
    names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    # the folds are drawn over row numbers: the rows themselves may be texts or pages
    rows = Dataset.from_dict({"row": list(range(len(labels))), "label": [index[y] for y in labels]},
                             features=Features({"row": Value("int64"), "label": ClassLabel(names=names)}))
    folds = kfold(rows, args.cv, seed=args.seed)
    scores: dict[str, list[float]] = {"accuracy": [], "macro_f1": [], "micro_f1": [], "weighted_f1": []}

    def part(fold) -> tuple[list, list[str]]:
        return [texts[i] for i in fold["row"]], [labels[i] for i in fold["row"]]

    for i, (train_part, test_part) in enumerate(folds, 1):
        clf = _new_classifier(args, pipeline, train_options).fit(*part(train_part))
        result = clf.evaluate(*part(test_part))
        for key in scores:
            scores[key].append(result[key])
        _say(f"fold {i}/{args.cv}: accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f} "
             f"(train {len(train_part):,}, test {len(test_part):,})")
    return {"folds": args.cv, "seed": args.seed,
            **{key: {"mean": statistics.fmean(values), "sd": statistics.stdev(values), "per_fold": values}
               for key, values in scores.items()},
            "sd_note": "sample standard deviation over folds (n - 1)"}


# ---------------------------------------------------------------- evaluate

def cmd_evaluate(args: argparse.Namespace) -> int:
    from .outputs import check_output_directory

    if args.out:
        check_output_directory(Path(args.out), overwrite=args.overwrite, kind="evaluate")
    model_dir = _model_directory(args.model_dir)
    if args.test:
        _check_files(args, [args.test])  # before torch is imported and the model loaded
    with _free_threads(args):
        return _evaluate(args, model_dir)


def _evaluate(args: argparse.Namespace, model_dir: Path) -> int:
    from . import TextClassifier
    from .corpora import load_corpus
    from .outputs import atomic_directory

    clf = TextClassifier.load(model_dir, device=args.device)  # first: it says whether the model reads pages
    if args.corpus:
        _check_corpus_flags(args, args.corpus)
        corpus = load_corpus(args.corpus, split=args.split, encoding=args.encoding, errors=args.errors,
                             min_confidence=args.min_confidence, **_limit_options(args))
        texts, labels = _split_lists(corpus[args.split], clf.reads_pages)
        source = f"corpus {args.corpus!r} [{args.split}]"
    else:
        if args.split != "test":
            raise ValueError("--split goes with --corpus; --test FILE is scored as a whole")
        corpus = load_corpus({"test": args.test}, **_read_options(args))
        texts, labels = _split_lists(corpus["test"], clf.reads_pages)
        source = f"file {args.test}"
    shown = ", ".join(map(str, clf.classes_[:20])) + (f", ... ({len(clf.classes_):,} in all)"
                                                       if len(clf.classes_) > 20 else "")
    _check_known_labels(labels, {str(c) for c in clf.classes_}, args.test or source,
                        f"the classes the model was trained on ({shown})",
                        "fix the label, or evaluate a model trained with that class")
    metrics = clf.evaluate(texts, labels)
    _print_report(metrics, source, f"{len(texts):,} {_unit(clf.reads_pages)}")
    if not args.out:
        _say("(pass --out DIR to write metrics.json and confusion_matrix.png)")
        return 0
    metrics.update({"model_dir": str(model_dir), "data": source, "textkit_version": __version__})
    with atomic_directory(args.out, overwrite=args.overwrite, kind="evaluate") as tmp:
        _write_json(tmp / "metrics.json", metrics)
        from .plots import plot_confusion

        plotted = plot_confusion(metrics, tmp / "confusion_matrix.png", f"{source}: accuracy "
                                  f"{metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}")
    _say(f"wrote {Path(args.out) / 'metrics.json'}" + (f" and {Path(args.out) / 'confusion_matrix.png'}"
                                                        if plotted else ""))
    return 0


PRINTED_CLASSES = 50  # above this many classes, the table shows the worst 20 (every class is in metrics.json)


def _print_report(metrics: dict, source: str, count: str) -> None:
    per_class, labels = metrics["per_class"], [str(label) for label in metrics["labels"]]
    rows = list(range(len(labels)))
    if len(labels) > PRINTED_CLASSES:  # a table of 2,000 rows is read by nobody
        rows = sorted(rows, key=lambda i: (per_class["f1"][i], -per_class["support"][i], i))[:20]
        count += (f"; {len(labels):,} classes: the 20 with the lowest F1 below, every class in metrics.json "
                  f"(--out)")
    width = max(12, *(len(labels[i]) for i in rows))
    _say(f"{source}: {count}")
    _say(f"{'class':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}")
    for i, label in ((i, labels[i]) for i in rows):
        _say(f"{label:<{width}} {per_class['precision'][i]:>9.4f} {per_class['recall'][i]:>9.4f} "
             f"{per_class['f1'][i]:>9.4f} {per_class['support'][i]:>9,}")
    total = sum(per_class["support"])
    _say(f"{'macro avg':<{width}} {metrics['macro_precision']:>9.4f} {metrics['macro_recall']:>9.4f} "
         f"{metrics['macro_f1']:>9.4f} {total:>9,}")
    _say(f"{'weighted f1':<{width}} {'':>9} {'':>9} {metrics['weighted_f1']:>9.4f} {total:>9,}")
    _say(f"{'accuracy':<{width}} {'':>9} {'':>9} {metrics['accuracy']:>9.4f} {total:>9,}")
    if metrics["macro_classes"] < len(labels):  # the three macro averages leave out the same classes
        absent = [labels[i] for i in range(len(labels)) if not per_class["support"][i]]
        _say(f"(macro averages over the {metrics['macro_classes']} classes in the data or the predictions; "
             f"no examples of {', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''} here)")
    if len(labels) > PRINTED_CLASSES and metrics.get("top_confusions"):
        _say("most frequent confusions (true -> predicted: texts): " + "; ".join(
            f"{t} -> {p}: {n:,}" for t, p, n in metrics["top_confusions"][:5]))


# ---------------------------------------------------------------- predict

def cmd_predict(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, got {args.batch_size}")
    page_flags = [flag for flag, value in (("--format", args.format), ("--min-confidence", args.min_confidence),
                                           ("--page-size", args.page_size)) if value is not None]
    sources = [iter(args.texts)]
    if args.file:
        sources.append(_lines(args.file, args.encoding, args.max_record_chars))
    elif not args.texts:
        if sys.stdin is None or sys.stdin.isatty():
            raise ValueError("no texts: pass them as arguments, with --file FILE, or on stdin (echo 'a text' | "
                             "textkit predict MODEL_DIR)")
        sources.append(_lines("-", args.encoding, args.max_record_chars))
    model_dir = _model_directory(args.model_dir)
    with _free_threads(args):
        return _predict(args, model_dir, sources, page_flags)


def _predict(args: argparse.Namespace, model_dir: Path, sources: list, page_flags: list[str]) -> int:
    from itertools import chain, islice

    from . import TextClassifier

    clf = TextClassifier.load(model_dir, device=args.device)
    classes = [str(c) for c in clf.classes_]
    if clf.reads_pages:
        return _predict_pages(args, clf, chain.from_iterable(sources))
    if page_flags:
        raise ValueError(f"{', '.join(page_flags)} are for a grid model's page files; this model reads texts")
    texts = chain.from_iterable(sources)
    empty: list[int] = []  # 1-based positions of empty texts, said at the end
    done = 0
    while True:  # batch by batch: a large file never sits in memory whole
        batch = list(islice(texts, args.batch_size))
        if not batch:
            break
        probs = clf.predict_proba(batch)
        # single-label: the argmax of these probabilities is what clf.predict returns
        labels = clf.predict(batch) if clf.multi_label else [clf.classes_[i] for i in probs.argmax(axis=1)]
        for text, label, row in zip(batch, labels, probs):
            done += 1
            record = {"text": text, "label": label}
            if not text.strip():  # still one output per input, so that outputs stay aligned with lines
                record["empty"] = True
                empty.append(done)
            if args.proba:
                record["probabilities"] = {c: round(float(p), 6) for c, p in zip(classes, row)}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    if empty:
        shown = ", ".join(map(str, empty[:5])) + (f" and {len(empty) - 5:,} more" if len(empty) > 5 else "")
        print(f"textkit: warning: {len(empty):,} empty text(s) (input {shown}): a label without words comes from "
              f"the model's biases alone; their records say \"empty\": true", file=sys.stderr)
    return 0


def _predict_pages(args: argparse.Namespace, clf, paths) -> int:
    """A grid model labels page files (one JSON object per page), a batch of pages at a time."""
    from itertools import islice

    from .documents import read_document

    options = {"min_confidence": args.min_confidence, "page_size": tuple(args.page_size) if args.page_size else None}
    classes = [str(c) for c in clf.classes_]
    paths = iter(paths)
    while True:
        batch = []  # (file, page)
        for path in islice(paths, args.batch_size):
            batch += [(path, page) for page in read_document(path, args.format, **options)]
        if not batch:
            return 0
        probs = clf.predict_proba([page for _, page in batch])
        for (path, page), row in zip(batch, probs):
            record = {"file": path, "page": page.number, "label": clf.classes_[int(row.argmax())]}
            if args.proba:
                record["probabilities"] = {c: round(float(p), 6) for c, p in zip(classes, row)}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.stdout.flush()


def _lines(path: str, encoding: str, max_chars: int | None = None):
    """One text per line of ``path`` ('-': stdin), line breaks removed, read lazily.

    The file is checked now (before the model loads); its lines are read as they are needed,
    in blocks, so a line longer than ``max_chars`` (default: the corpus readers' limit) is
    refused once it is that long, never held whole.
    """
    import codecs
    from itertools import chain

    from .formats import DEFAULT_MAX_RECORD_CHARS

    codecs.lookup(encoding)  # LookupError (exit 2) for an unknown --encoding, now
    limit = DEFAULT_MAX_RECORD_CHARS if max_chars is None else max_chars
    if limit < 1:
        raise ValueError(f"--max-record-chars must be >= 1, got {limit}")
    if path != "-" and Path(path).is_dir():
        raise IsADirectoryError(f"{path}: is a folder; --file takes a file with one text per line")
    if path != "-" and not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file (working directory: {Path.cwd()})")
    name = "stdin" if path == "-" else path

    def too_long(line: int) -> ValueError:
        return ValueError(f"{name}, line {line}: longer than {limit:,} characters (a line break missing?); if texts "
                          f"this long are real, raise --max-record-chars")

    def decoded(blocks):
        # bytes, decoded block by block; an undecodable byte is reported with its line
        decoder = codecs.getincrementaldecoder(encoding)()
        pending, done, first = "", 0, True
        for raw in chain(blocks, [None]):
            try:  # None: the end, where a cut-off multi-byte character is an error too
                text = decoder.decode(b"", final=True) if raw is None else decoder.decode(raw)
            except UnicodeDecodeError as e:
                before = bytes(e.object[:e.start]).decode(encoding, "replace")
                raise ValueError(f"{name}, line {done + 1 + before.count(chr(10))}: cannot decode "
                                 f"{e.object[e.start:e.end]!r} as {encoding}; pass --encoding (e.g. latin-1 or "
                                 f"cp1252)") from None
            except UnicodeError as e:  # a whole-stream problem, e.g. utf-16 without its byte order mark
                raise ValueError(f"{name}, line {done + 1}: cannot decode it as {encoding} ({e}); "
                                 f"pass --encoding (e.g. latin-1 or cp1252)") from None
            if first and text:
                text, first = text.removeprefix("\ufeff"), False  # a BOM is not text
            *lines, pending = (pending + text).split("\n")  # \n only, as everywhere in textkit
            for line in lines:
                done += 1
                if len(line) > limit + 1:  # + 1: the "\r" of a "\r\n"
                    raise too_long(done)
                yield line.removesuffix("\r")
            if len(pending) > limit + 1:
                raise too_long(done + 1)
        if pending:
            yield pending.removesuffix("\r")

    def read():
        if path == "-":
            stdin = getattr(sys.stdin, "buffer", None)
            # read1: what has arrived, so that texts piped in one at a time are labelled as they come
            read_some = getattr(stdin, "read1", None) or getattr(stdin, "read", None)
            yield from decoded(iter(lambda: read_some(1 << 20), b"") if stdin is not None else
                               (line.encode(encoding) for line in sys.stdin))
            return
        with open(path, "rb") as stream:
            yield from decoded(iter(lambda: stream.read(1 << 20), b""))

    return read()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
