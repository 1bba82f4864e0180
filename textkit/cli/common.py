"""What the commands share: names the parser lists, one-line errors, the file-format and
pipeline flags as API options, recipes, thread counts, and small output helpers."""
from __future__ import annotations

import argparse
import contextlib
import json
import re
import sys
from pathlib import Path
from typing import Any, Sequence

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl-C
EXIT_TERMINATED = 143  # 128 + SIGTERM
MODELS = ("bow", "cnn", "rnn", "grid")  # textkit.models.MODELS, listed here so --help needs no torch
PAGE_MODELS = ("grid",)  # the models that read OCR'd pages (MODELS[name].inputs == "pages")
TOKENIZERS = ("regex", "words", "whitespace", "char", "spacy", "nltk-treebank", "nltk-tweet")
FORMATS = ("label-text", "fasttext", "csv", "tsv", "jsonl", "parquet", "ptb-trees", "ptb-phrases", "folders", "tar",
           "zip", "ocr-tsv", "hocr", "alto", "funsd", "layout-text")
DOCUMENT_FORMATS = FORMATS[-5:]  # the page formats (textkit.documents.PARSERS)
SPLITS = ("train", "valid", "test")
QUICKSTART_EPOCHS = 5
MESSY_EXAMPLE = "<p>Sooooo... WHAT's the fee to call https://example.com from Paris &amp; Rome??? \U0001F600</p>"

# load_corpus's fixes name its keyword arguments; on the command line they are flags
API_HINTS = [(re.compile(r"\bheader=True\b"), "--header"), (re.compile(r"\bheader=False\b"), "--no-header"),
             (re.compile(r"\b(format|encoding|errors|text_column|label_column)=(?:'([^']*)')?"),
              lambda m: f"--{m[1].replace('_', '-')}" + (f" {m[2]}" if m[2] is not None else "")),
             (re.compile(r"\b(max_record_chars|max_member_bytes|max_compression_ratio)=([\w.+-]*)"),
              lambda m: f"--{m[1].replace('_', '-')}" + (f" {m[2]}" if m[2] else ""))]


def one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) if str(error) else type(error).__name__
    for pattern, flag in API_HINTS:
        text = pattern.sub(flag, text)
    return text if not isinstance(error, OSError) or error.filename is None or str(error.filename) in text \
        else f"{text}: {error.filename}"


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"textkit: warning: {' '.join(str(message).split())}", file=sys.stderr)


def say(*parts: Any) -> None:
    """A line on stdout, from one process only (rank 0 under torchrun)."""
    from ..distributed import is_main_process

    if is_main_process():
        print(*parts, flush=True)


@contextlib.contextmanager
def command_threads(threads: int | None):
    """``--threads N`` for the whole command, restored after (main() may run in-process). The
    default (the free cores) is measured where the work starts (``TrainConfig.threads``,
    :func:`free_threads`), after the arguments are checked and without importing torch first."""
    if threads is None:
        yield
        return
    from ..threads import torch_threads

    with torch_threads(threads):
        yield


def free_threads(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """The default thread count for evaluate and predict: the free cores (see textkit.threads),
    or nothing to do when --threads was given (main set it)."""
    if args.threads is not None:
        return contextlib.nullcontext()
    from ..threads import torch_threads

    return torch_threads(None)


# ---------------------------------------------------------------- shared pieces

def read_options(args: argparse.Namespace) -> dict[str, Any]:
    """load_corpus keyword arguments for files, from the file-format flags."""
    columns = args.text_column
    return {"format": args.format, "text_column": columns[0] if columns and len(columns) == 1 else columns,
            "label_column": args.label_column, "header": args.header, "encoding": args.encoding,
            "errors": args.errors, "min_confidence": args.min_confidence,
            "page_size": tuple(args.page_size) if args.page_size else None, **limit_options(args)}


def check_files(args: argparse.Namespace, paths: Sequence[str | None]) -> None:
    """What reading ``paths`` with the file flags would refuse at the start (a missing file, an
    unknown extension, a missing column), said at once: a command checks its arguments before
    it imports torch or loads anything."""
    from ..formats import ReadOptions, check

    given = {k: v for k, v in read_options(args).items() if v is not None and k != "format"}
    options = ReadOptions(**given)
    for path in filter(None, paths):
        check(path, args.format, options)


def limit_options(args: argparse.Namespace) -> dict[str, Any]:
    """The limit flags, for load_corpus (files and registered corpora alike)."""
    return {"max_record_chars": args.max_record_chars, "max_member_bytes": args.max_member_bytes,
            "max_compression_ratio": args.max_compression_ratio}


def pipeline_options(args: argparse.Namespace) -> dict[str, Any]:
    """The pipeline flags given, over the --recipe's pipeline options (train only). For a model
    that reads pages they are LayoutPipeline options, the text flags going to its text layer."""
    options = {"tokenizer": args.tokenizer, "max_length": args.max_length, "min_freq": args.min_freq,
               "max_vocab_size": args.max_vocab_size, "ngram_buckets": args.ngram_buckets,
               "ngram_range": tuple(args.ngram_range) if args.ngram_range else None}
    text = {k: v for k, v in options.items() if v is not None}
    layout = {"grid": tuple(args.grid) if getattr(args, "grid", None) else None, "slots": getattr(args, "slots", None)}
    layout = {k: v for k, v in layout.items() if v is not None}
    recipe = dict(given_recipe(args)["pipeline"])
    if getattr(args, "model", None) not in PAGE_MODELS:
        if layout:
            raise ValueError(f"--grid and --slots are options of the layout grid, for --model grid "
                             f"(not --model {getattr(args, 'model', None) or 'of this command'})")
        return {**recipe, **text}
    text = {**recipe.pop("text", {}), **text}
    return {**recipe, **layout, **({"text": text} if text else {})}


RECIPE_PARTS = ("pipeline", "model_config", "train")


def given_recipe(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The ``--recipe`` read by ``cmd_train`` (empty dicts for commands without one)."""
    return getattr(args, "recipe_options", None) or {part: {} for part in RECIPE_PARTS}


def read_json_flag(path: str, flag: str) -> Any:
    """The JSON file a flag names; any problem is one line naming the flag, the file and the place."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"{flag} {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    from ..fileio import loads_json

    try:
        return loads_json(text, f"{flag} {path}")  # nested past textkit.fileio.MAX_JSON_DEPTH: refused
    except json.JSONDecodeError as e:
        raise ValueError(f"{flag} {path}, line {e.lineno}, column {e.colno}: not JSON ({e.msg})") from None


def read_recipe(path: str | None) -> dict[str, dict[str, Any]]:
    """``--recipe FILE`` -> its pipeline / model_config / train option dicts (empty without one)."""
    if path is None:
        return {part: {} for part in RECIPE_PARTS}
    recipe = read_json_flag(path, "--recipe")
    expected = 'an object with "pipeline", "model_config" and/or "train" objects'
    if not isinstance(recipe, dict):
        raise ValueError(f"--recipe {path}: expected {expected}, got a JSON {type(recipe).__name__}")
    for key, value in recipe.items():
        if key not in RECIPE_PARTS or not isinstance(value, dict):
            raise ValueError(f"--recipe {path}: {key!r} is not one of {RECIPE_PARTS} holding an object; "
                             f"expected {expected}")
    return {part: dict(recipe.get(part, {})) for part in RECIPE_PARTS}


def split_lists(dataset, pages: bool = False) -> tuple[list, list[str]]:
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


def unit(pages: bool) -> str:
    return "pages" if pages else "texts"


def check_corpus_flags(args: argparse.Namespace, name: str) -> None:
    given = [flag for flag, value in (("--format", args.format), ("--text-column", args.text_column),
                                      ("--label-column", args.label_column), ("--header", args.header),
                                      ("--page-size", args.page_size)) if value is not None]
    if given:
        raise ValueError(f"{', '.join(given)} apply to files, not to the registered corpus {name!r}, "
                         f"which knows its own format")


def model_directory(path: str) -> Path:
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


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def command_line(argv: Sequence[str]) -> str:
    import shlex

    return "textkit " + " ".join(map(shlex.quote, argv))


def check_known_labels(labels: Sequence[str], known: set, where: str, trained_on: str, fix: str) -> None:
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
