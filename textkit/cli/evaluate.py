"""``textkit evaluate``: a saved model on a corpus split or a test file; the table, metrics.json
and the confusion-matrix PNG."""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import __version__
from .common import (
    check_corpus_flags,
    check_files,
    check_known_labels,
    free_threads,
    limit_options,
    model_directory,
    read_options,
    say,
    split_lists,
    unit,
    write_json,
)

# ---------------------------------------------------------------- evaluate


def cmd_evaluate(args: argparse.Namespace) -> int:
    from ..outputs import check_output_directory

    if args.out:
        check_output_directory(Path(args.out), overwrite=args.overwrite, kind="evaluate")
    model_dir = model_directory(args.model_dir)
    if args.test:
        check_files(args, [args.test])  # before torch is imported and the model loaded
    with free_threads(args):
        return _evaluate(args, model_dir)


def _evaluate(args: argparse.Namespace, model_dir: Path) -> int:
    from .. import TextClassifier
    from ..corpora import load_corpus
    from ..outputs import atomic_directory

    clf = TextClassifier.load(model_dir, device=args.device)  # first: it says whether the model reads pages
    if args.corpus:
        check_corpus_flags(args, args.corpus)
        corpus = load_corpus(args.corpus, split=args.split, encoding=args.encoding, errors=args.errors,
                             min_confidence=args.min_confidence, **limit_options(args))
        texts, labels = split_lists(corpus[args.split], clf.reads_pages)
        source = f"corpus {args.corpus!r} [{args.split}]"
    else:
        if args.split != "test":
            raise ValueError("--split goes with --corpus; --test FILE is scored as a whole")
        corpus = load_corpus({"test": args.test}, **read_options(args))
        texts, labels = split_lists(corpus["test"], clf.reads_pages)
        source = f"file {args.test}"
    shown = ", ".join(map(str, clf.classes_[:20])) + (f", ... ({len(clf.classes_):,} in all)"
                                                      if len(clf.classes_) > 20 else "")
    check_known_labels(labels, {str(c) for c in clf.classes_}, args.test or source,
                       f"the classes the model was trained on ({shown})",
                       "fix the label, or evaluate a model trained with that class")
    metrics = clf.evaluate(texts, labels)
    _print_report(metrics, source, f"{len(texts):,} {unit(clf.reads_pages)}")
    if not args.out:
        say("(pass --out DIR to write metrics.json and confusion_matrix.png)")
        return 0
    metrics.update({"model_dir": str(model_dir), "data": source, "textkit_version": __version__})
    with atomic_directory(args.out, overwrite=args.overwrite, kind="evaluate") as tmp:
        write_json(tmp / "metrics.json", metrics)
        from ..plots import plot_confusion

        plotted = plot_confusion(metrics, tmp / "confusion_matrix.png", f"{source}: accuracy "
                                 f"{metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}")
    say(f"wrote {Path(args.out) / 'metrics.json'}" + (f" and {Path(args.out) / 'confusion_matrix.png'}"
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
    say(f"{source}: {count}")
    say(f"{'class':<{width}} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>9}")
    for i, label in ((i, labels[i]) for i in rows):
        say(f"{label:<{width}} {per_class['precision'][i]:>9.4f} {per_class['recall'][i]:>9.4f} "
            f"{per_class['f1'][i]:>9.4f} {per_class['support'][i]:>9,}")
    total = sum(per_class["support"])
    say(f"{'macro avg':<{width}} {metrics['macro_precision']:>9.4f} {metrics['macro_recall']:>9.4f} "
        f"{metrics['macro_f1']:>9.4f} {total:>9,}")
    say(f"{'weighted f1':<{width}} {'':>9} {'':>9} {metrics['weighted_f1']:>9.4f} {total:>9,}")
    say(f"{'accuracy':<{width}} {'':>9} {'':>9} {metrics['accuracy']:>9.4f} {total:>9,}")
    if metrics["macro_classes"] < len(labels):  # the three macro averages leave out the same classes
        absent = [labels[i] for i in range(len(labels)) if not per_class["support"][i]]
        say(f"(macro averages over the {metrics['macro_classes']} classes in the data or the predictions; "
            f"no examples of {', '.join(absent[:5])}{' ...' if len(absent) > 5 else ''} here)")
    if len(labels) > PRINTED_CLASSES and metrics.get("top_confusions"):
        say("most frequent confusions (true -> predicted: texts): " + "; ".join(
            f"{t} -> {p}: {n:,}" for t, p, n in metrics["top_confusions"][:5]))
