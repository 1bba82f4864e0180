"""The argument parser: every subcommand, its flags and their help (no torch, no data)."""
from __future__ import annotations

import argparse

from .. import __version__
from .common import (
    DOCUMENT_FORMATS,
    EXIT_USAGE,
    FORMATS,
    MODELS,
    PAGE_MODELS,
    QUICKSTART_EPOCHS,
    SPLITS,
    TOKENIZERS,
)
from .data import cmd_corpora, cmd_ocr, cmd_preprocess
from .evaluate import cmd_evaluate
from .explain import cmd_explain
from .export import cmd_export
from .predict import cmd_predict
from .quickstart import cmd_quickstart
from .train import cmd_train


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
    p.add_argument("--members", type=int, default=1, metavar="K",
                   help="models to train and average (default: 1, for a quick tour; TREC's cnn recipe averages 5)")
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
                    "on a preprocess output (--data), score it on the test data, and write DIR/metrics.json "
                    "(accuracy, macro_f1, per-class scores, confusion matrix) and DIR/model/. --cv K runs K "
                    "stratified folds over the non-test data (train plus valid) and reports mean and sd; the saved "
                    "model is then trained on all of it.")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--corpus", metavar="NAME", help="a registered corpus (see 'textkit corpora')")
    source.add_argument("--train", metavar="FILE", help="training file (with --format and column options)")
    source.add_argument("--data", metavar="DIR",
                        help="a 'textkit preprocess' output: trains on its token ids with its pipeline.json as it is "
                             "(no second cleaning or tokenizing; the texts are never read)")
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
                        "TextPipeline, model and TrainConfig options, as textkit.recipes holds them; it overrides the "
                        "library's recipe, and flags given here override it")
    p.add_argument("--cv", type=int, metavar="K", help="K-fold stratified cross-validation (K >= 2)")
    p.add_argument("--tune", metavar="BUDGET",
                   help="search the model family and its options on the validation split for this long ('10m', "
                        "'90s', '1h'), starting from the recipe; the best trial is the model saved, and every trial "
                        "is in tuning.json (textkit.tuning). With --cv each fold tunes on its own training part, "
                        "with an equal share of the budget")
    p.add_argument("--tune-space", metavar="JSON",
                   help='the search space for --tune: a file {"model": ["bow", "cnn"], "lr": {"low": 1e-4, '
                        '"high": 1e-2, "log": true}, "cnn.dropout": [0.3, 0.5], ...} (default: '
                        "textkit.tuning.DEFAULT_SPACE)")
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
    _text_inputs(p, "texts to label (page files for a grid model)")
    p.add_argument("--proba", action="store_true", help="print every class's probability")
    p.add_argument("--batch-size", type=int, default=256, metavar="N", help="texts per batch (default: 256)")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    _threads_flag(p)
    g = p.add_argument_group("page files, for a grid model (see textkit.documents.read_document)")
    g.add_argument("--format", choices=DOCUMENT_FORMATS, help="page file format (default: from the name and content)")
    _page_flags(g)
    p.set_defaults(func=cmd_predict)

    p = commands.add_parser(
        "explain", help="why a saved model labels texts as it does: a score per token (JSON lines, HTML)",
        description="For each text, the predicted label, its probabilities, and each token's score for the "
                    "predicted class (or --target CLASS): how much that class's probability falls without the "
                    "token (textkit.explain; Captum's feature ablation, pip install 'textkit[explain]'). One JSON "
                    "object per text on stdout; --html FILE writes a self-contained page with the words "
                    "highlighted. A grid model takes page files instead and scores each grid cell; its page is "
                    "drawn with the heat over the words' boxes.")
    _text_inputs(p, "texts to explain (page files for a grid model)")
    p.add_argument("--target", metavar="CLASS", help="explain this class instead of each text's predicted one")
    p.add_argument("--html", metavar="FILE", help="also write the report as a self-contained HTML page")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    _threads_flag(p)
    p.set_defaults(func=cmd_explain)

    p = commands.add_parser(
        "export", help="a saved model -> ONNX + its pipeline, for predictions without PyTorch",
        description="Write DIR with model.onnx (inputs ids and lengths, dynamic batch and length; output logits), "
                    "pipeline.json and export.json (classes, digests, the largest logit difference from PyTorch, "
                    "checked at export to be under 1e-4). --quantize int8 adds model.int8.onnx (ONNX Runtime's "
                    "dynamic quantization). textkit.onnx_predictor.OnnxPredictor(DIR) predicts with ONNX Runtime "
                    "and no torch import (pip install 'textkit[export]').")
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument("--out", metavar="DIR", required=True, help="the folder to write (must not exist; see --overwrite)")
    p.add_argument("--format", choices=["onnx"], default="onnx", help="onnx (the only one)")
    p.add_argument("--quantize", choices=["int8"], help="also write an int8 model")
    p.add_argument("--overwrite", action="store_true", help="replace DIR if it is an earlier textkit export")
    p.set_defaults(func=cmd_export)

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


def _text_inputs(p: argparse.ArgumentParser, what: str) -> None:
    """A saved model and the texts to run it on: arguments, --file or stdin (predict, explain)."""
    p.add_argument("model_dir", metavar="MODEL_DIR")
    p.add_argument("texts", nargs="*", metavar="TEXT", help=what)
    p.add_argument("--file", metavar="FILE", help="one text per line ('-': stdin)")
    p.add_argument("--encoding", default="utf-8", help="encoding of --file/stdin (default: utf-8)")
    p.add_argument("--max-record-chars", type=int, metavar="N",
                   help="refuse a line of --file/stdin longer than N characters (default: 16777216)")


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
    g.add_argument("--ngram-range", type=int, nargs=2, metavar=("MIN", "MAX"),
                   help="word n-grams (default: 1 1, or the recipe's: 1 2 for bow)")
    g.add_argument("--ngram-buckets", type=int, metavar="N", help="hash n-grams (n >= 2) into N extra ids")


def _model_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and training (see textkit.TextClassifier, textkit.training.TrainConfig)")
    g.add_argument("--model", choices=MODELS,
                   help="model (default: with --corpus, the single model its reproduction-table row is best "
                        "with; else cnn). Options not given come from the model's validated recipe, or the "
                        "corpus's own (textkit.recipes)")
    g.add_argument("--members", type=int, metavar="K",
                   help="train K of the model side by side (each its own initialisation) and average them: "
                        "steadier and usually more accurate, for K times the work (default: the recipe's, else 1)")
    g.add_argument("--epochs", type=int, help="epochs at most (default: the recipe's; early stopping on valid)")
    g.add_argument("--patience", type=_patience, metavar="N",
                   help="stop after N epochs without a better validation score; 0: train every epoch "
                        "(default: the recipe's)")
    g.add_argument("--batch-size", type=int, help="texts per step (default: the recipe's)")
    g.add_argument("--lr", type=float, help="learning rate (default: the recipe's)")
    g.add_argument("--vectors", metavar="FILE",
                   help="pretrained word vectors (word2vec, fastText .vec, GloVe; .gz too) for the embedding rows "
                        "of the vocabulary; their dimension becomes the model's (see textkit.vectors)")
    g.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:1, mps")
    _threads_flag(g)
    g.add_argument("--seed", type=int, default=0, help="seed of splits, folds, initialisation and batch order")


def _patience(value: str) -> int:
    """``--patience N``: N >= 1 epochs, or 0 for none (early stopping off; TrainConfig's None)."""
    try:
        patience = int(value)
    except ValueError:
        patience = -1
    if patience < 0:
        raise argparse.ArgumentTypeError(f"expected 0 (no early stopping) or a number of epochs >= 1, got {value!r}")
    return patience


def _threads_flag(p) -> None:
    p.add_argument("--threads", type=int, metavar="N",
                   help="torch CPU threads (default: the cores no other process is busy on when the command "
                        "starts; see textkit.threads)")


def _progress_flag(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: only on a terminal)")
