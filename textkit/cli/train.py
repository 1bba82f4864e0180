"""``textkit train``: data from a corpus, files or a preprocess output, training (cross-validated or
not, resumable), and the run folder (metrics, model, curves)."""
from __future__ import annotations

import argparse
import contextlib
import re
import statistics
import time
from pathlib import Path
from typing import Any

from .. import __version__
from .common import (
    PAGE_MODELS,
    SPLITS,
    check_corpus_flags,
    check_files,
    check_known_labels,
    command_line,
    given_recipe,
    limit_options,
    pipeline_options,
    read_options,
    read_json_flag,
    read_recipe,
    say,
    split_lists,
    unit,
    write_json,
)

# ---------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    from ..outputs import atomic_directory, check_output_directory, interrupted_run

    from ..distributed import is_main_process, world

    if args.resume and args.out is None:
        raise ValueError("--resume continues the interrupted run of an --out folder: pass the --out it had")
    if args.resume and args.cv is not None:
        raise ValueError("--resume continues one training run; --cv trains one per fold: rerun it without --resume")
    if args.model is None:  # a registered corpus: the model its table row is best with
        from ..recipes import best_model

        args.model = best_model(args.corpus, "cnn") if args.corpus else "cnn"
    if args.out is None:
        args.out = str(_next_run_folder(Path("runs")))
    if args.resume and is_main_process() and interrupted_run(args.out) is None:  # rank 0 takes it back
        raise ValueError(f"nothing to resume: no interrupted run of --out {args.out} was found (a run that is "
                         f"interrupted or killed keeps its epochs beside it, as {args.out}.tmp-...); rerun without "
                         f"--resume to start it")
    if not args.resume:  # a resumed run's folder is checked once it is taken back
        check_output_directory(Path(args.out), overwrite=args.overwrite, kind="train")  # before any training
    if args.cv is not None and args.cv < 2:
        raise ValueError(f"--cv must be an int >= 2 (folds), got {args.cv}")
    if args.train and not args.test and args.cv is None:
        raise ValueError("no test data: pass --test FILE, or --cv K to cross-validate")
    check_files(args, [args.train, args.valid, args.test])  # seconds before loading or importing torch
    if args.vectors and not Path(args.vectors).is_file():
        raise FileNotFoundError(f"{args.vectors}: no such word-vector file (--vectors)")
    args.recipe_options = read_recipe(args.recipe)  # read once; every step below uses this copy
    args.tune_options = _tune_options(args)
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "device": args.device,
             "seed": args.seed, "threads": args.threads, "progress": args.progress, "patience": args.patience}
    train_options = {**given_recipe(args)["train"], **{k: v for k, v in flags.items() if v is not None}}
    if train_options.get("patience") == 0:  # --patience 0: every epoch trains, the best one is kept
        train_options["patience"] = None
    try:  # bad options fail now, not after loading
        _new_classifier(args, pipeline_options(args), train_options)
    except ValueError as error:  # TrainConfig names its field; here it is a flag or a --recipe entry
        field = re.match(r"TrainConfig (\w+) must", str(error))
        if field is None:
            raise
        name = field[1]
        where = f"--{name.replace('_', '-')}" if flags.get(name) is not None else \
            f"--recipe {args.recipe}: train.{name}"
        raise ValueError(where + str(error)[field.end(1):]) from None  # "--lr must be ..."
    if args.data and args.cv is not None:
        raise ValueError("--cv with --data is not supported yet: cross-validate from the files (--train, --cv K)")
    data, pipeline, description = _encoded_data(args) if args.data else _training_data(args)
    if "test" not in data and args.cv is None:
        fix = ("pass --cv K to cross-validate (its protocol: " + _protocol(args.corpus) + ")" if args.corpus else
               "preprocess a test file too (test=PATH)" if args.data else
               "pass --test FILE, or --cv K to cross-validate")
        raise ValueError(f"no test data in {description}: {fix}")
    known = _distinct(data["train"][1]) | (_distinct(data["valid"][1]) if args.cv and "valid" in data else set())
    for split in ("valid", "test"):  # now, not after training: a class without examples cannot be learnt
        if split in data and not (args.cv and split == "valid") and not _distinct(data[split][1]) <= known:
            where = getattr(args, split, None) or f"{description} [{split}]"
            train = args.train or f"{description} [train]"
            check_known_labels(data[split][1], known, where, f"the training data ({train})",
                               "fix the label, or add examples of that class to the training data")
    say(f"data: {description} ({_sizes(data)}; {len(known)} classes)")
    say(_model_line(_new_classifier(args, pipeline, train_options)))  # built now: its options are checked too
    started = time.perf_counter()
    resumable = args.cv is None  # folds are not checkpointed: an interrupted --cv run starts over
    # under torchrun every process trains, and rank 0 alone writes the run folder
    folder = atomic_directory(args.out, overwrite=args.overwrite, kind="train", resumable=resumable,
                              resume=args.resume) if is_main_process() else contextlib.nullcontext()
    with folder as tmp:
        if world()[1] > 1:  # every process reads a resumed run's checkpoint; rank 0 alone writes there
            from ..distributed import setup, share
            from ..training import resolve_device

            setup(resolve_device(args.device))
            tmp = share(tmp)
        if resumable:
            again = [*args.argv, *([] if any(a.startswith("--out") for a in args.argv) else ["--out", args.out])]
            args.interrupted_note = (f"the finished epochs are kept beside {args.out}: continue with "
                                     f"{command_line(again)}{'' if args.resume else ' --resume'}")
        cv = _cross_validate(args, data, pipeline, train_options) if args.cv else None
        # the final run checkpoints into the output (checkpoint.pt, history.jsonl): --resume continues it;
        # a search trains many models and keeps the best one, which has no checkpoint to continue
        clf = _new_classifier(args, pipeline, {**train_options, **({} if args.tune else {"out_dir": tmp})})
        if args.cv:  # the final model learns from all the non-test data the folds saw
            texts, labels = _non_test(data)
            clf.fit(texts, labels, resume=args.resume)
        elif args.data:  # the shards' ids, with preprocess's pipeline as it is
            classes = sorted(known, key=str)
            encoded = {split: (rows, labels.targets(classes)) for split, (rows, labels) in data.items()}
            clf.fit_encoded(pipeline, encoded["train"], encoded.get("valid"), classes=classes, resume=args.resume)
        else:
            valid = data.get("valid")
            clf.fit(*data["train"], valid=valid, resume=args.resume)
        if "valid" not in data and not args.cv and clf.sizes_["valid"]:
            say(f"held out {clf.sizes_['valid']:,} of the {len(data['train'][0]):,} training records for "
                f"validation (early stopping); trained on {clf.sizes_['train']:,} "
                f"({'preprocess a valid=FILE split' if args.data else '--valid FILE'} to choose them)")
        if clf.vectors_coverage_ is not None:
            say(f"vectors: {clf.vectors_coverage_}")
        if clf.tuning_ is not None:
            _report_tuning(clf, tmp if is_main_process() else None)
        metrics: dict[str, Any] = {}
        if "test" in data:
            metrics.update(clf.evaluate_encoded(*encoded["test"]) if args.data else clf.evaluate(*data["test"]))
            metrics["evaluated_on"] = f"test ({len(data['test'][0])} {unit(args.model in PAGE_MODELS)})"
        else:
            metrics.update({"accuracy": cv["accuracy"]["mean"], "macro_f1": cv["macro_f1"]["mean"],
                            "evaluated_on": f"{args.cv}-fold cross-validation (mean over folds)"})
        if cv:
            metrics["cv"] = cv
        sizes = {s: len(t) for s, (t, _) in data.items()}
        if "valid" not in data and not args.cv:
            sizes.update(clf.sizes_)  # the part of train held out for validation
        metrics.update({"data": description, "sizes": sizes,
                        "model": args.model, "recipe": clf.recipe, "model_config": clf.model_config,
                        "train_config": clf.train_config.to_dict(), "train_options": train_options,
                        "seed": args.seed, "history": clf.history_,
                        **({"vectors": {"file": args.vectors, "coverage": str(clf.vectors_coverage_)}}
                           if args.vectors else {}),
                        "command": command_line(args.argv),
                        "textkit_version": __version__, "seconds": round(time.perf_counter() - started, 1)})
        if not is_main_process():
            return 0
        metrics["processes"] = world()[1]
        clf.save(tmp / "model")
        write_json(tmp / "metrics.json", metrics)
        from ..plots import plot_confusion, plot_curves

        if plot_curves(clf.history_, tmp / "training_curves.png", f"{args.model} on {description}") \
                and "top_confusions" in metrics:  # only with test data; no second warning without matplotlib
            plot_confusion(metrics, tmp / "confusion_matrix.png", f"test: accuracy {metrics['accuracy']:.3f}, "
                                                                  f"macro-F1 {metrics['macro_f1']:.3f}")
    if "test" in data:
        say(f"test: accuracy {metrics['accuracy']:.4f}, macro-F1 {metrics['macro_f1']:.4f} "
            f"({len(data['test'][0]):,} {unit(args.model in PAGE_MODELS)})")
    if cv:
        say(f"cv ({cv['folds']} folds): accuracy {cv['accuracy']['mean']:.4f} ± {cv['accuracy']['sd']:.4f}, "
            f"macro-F1 {cv['macro_f1']['mean']:.4f} ± {cv['macro_f1']['sd']:.4f} (mean ± sd)")
    written = ", ".join(sorted(p.name + ("/" if p.is_dir() else "") for p in Path(args.out).iterdir()
                               if not p.name.startswith(".")))
    say(f"wrote {args.out}/: {written} ({time.perf_counter() - started:.0f} s training, "
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
        # encoded rows (--data) were preprocessed: its report counted empty rows as rejected
        empty = sum(1 for t in texts if isinstance(t, str) and not t.strip()) if isinstance(texts, list) else 0
        parts.append(f"{split} {len(texts):,}" + (f" ({empty:,} empty)" if empty else ""))
    return ", ".join(parts)


def _protocol(corpus: str) -> str:
    from ..corpora import get_card

    return get_card(corpus).protocol


def _encoded_data(args: argparse.Namespace):
    """--data: ({split: (EncodedDataset, label names)}, the fitted pipeline, description)."""
    from ..shards import read_encoded

    given = [flag for flag, value in (("--valid", args.valid), ("--test", args.test), ("--format", args.format),
                                      ("--text-column", args.text_column), ("--label-column", args.label_column),
                                      ("--encoding", args.encoding), ("--header", args.header),
                                      ("--errors", args.errors), ("--vectors", args.vectors)) if value is not None]
    given += [f"--{k.replace('_', '-')}" for k in pipeline_options(args) if k not in given_recipe(args)["pipeline"]]
    given += ["--recipe's pipeline options"] if given_recipe(args)["pipeline"] else []
    if given:
        raise ValueError(f"{', '.join(given)} cannot be used with --data: its splits and pipeline.json hold the data "
                         f"and the pipeline options")
    if args.model in PAGE_MODELS:
        raise ValueError("--data holds token ids of texts; model 'grid' trains on pages: pass the folder of page "
                         "files with --train (and --format)")
    report, pipeline, splits = read_encoded(args.data)
    if "train" not in splits:
        raise ValueError(f"{args.data} has no train split (it has {', '.join(splits)})")
    data = {split: (rows, _EncodedLabels(labels, report["labels"])) for split, (rows, labels) in splits.items()}
    return data, pipeline, f"preprocessed {args.data}"


class _EncodedLabels:
    """A split's labels from shards: ids into the report's class names. Iterates as names (for
    messages), while the counting and the targets need no Python object per row."""

    def __init__(self, ids, names: list) -> None:
        self.ids, self.names = ids, names

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self):
        return (self.names[i] for i in self.ids)

    def distinct(self) -> set:
        import numpy as np

        return {self.names[i] for i in np.unique(self.ids).tolist()}

    def targets(self, classes: list):
        """The ids as indices into ``classes`` (sorted names), one vectorized lookup."""
        import numpy as np

        lookup = np.array([classes.index(name) if name in classes else -1 for name in self.names], dtype=np.int64)
        return lookup[self.ids]


def _distinct(labels) -> set:
    return labels.distinct() if isinstance(labels, _EncodedLabels) else set(labels)


def _training_data(args: argparse.Namespace):
    """-> ({split: (texts, labels)}, pipeline (TextPipeline or options dict), description)."""
    from ..corpora import load_corpus, load_training_phrases
    from ..registry import get_card

    if args.corpus:
        check_corpus_flags(args, args.corpus)
        if args.valid or args.test:
            raise ValueError("--valid and --test go with --train files, not with --corpus")
        # under --cv the folds take the place of a held-out valid split
        phrases = bool(get_card(args.corpus).train_phrases) and not args.cv  # Kim's protocol, as the table trains
        corpus = load_corpus(args.corpus, split=("valid", "test") if phrases else None, encoding=args.encoding,
                             errors=args.errors, seed=args.seed, min_confidence=args.min_confidence,
                             valid_fraction=0 if args.cv else None, **limit_options(args))
        description = f"corpus {args.corpus!r}"
        if phrases:  # the training sentences are among them: the sentence file is not read
            corpus["train"] = load_training_phrases(args.corpus)
            description += ", trained on the labelled phrases of its training trees"
    else:
        files = {"train": args.train, "valid": args.valid, "test": args.test}
        corpus = load_corpus({k: v for k, v in files.items() if v}, valid_fraction=0, seed=args.seed,
                             **read_options(args))
        description = f"files {', '.join(f'{k}={v}' for k, v in files.items() if v)}"
    data = {split: split_lists(corpus[split], args.model in PAGE_MODELS) for split in SPLITS if split in corpus}
    return data, pipeline_options(args), description


def _non_test(data: dict) -> tuple[list[str], list[str]]:
    texts = [t for split in ("train", "valid") if split in data for t in data[split][0]]
    labels = [y for split in ("train", "valid") if split in data for y in data[split][1]]
    return texts, labels


def _new_classifier(args: argparse.Namespace, pipeline, train_options: dict):
    from .. import TextClassifier

    # the library's recipe (the corpus's, or the model's default) under the flags and --recipe FILE
    return TextClassifier(args.model, pipeline=pipeline or None, recipe=args.corpus or "default",
                          tune=args.tune_options,
                          model_config=_model_options(args) or None, vectors=args.vectors,
                          **train_options)


def _model_line(clf) -> str:
    """What trains, before it does: the model, how many are averaged (the cost), and the recipe."""
    members = clf.model_config.get("members", 1)
    averaged = f" (an average of {members}: --members)" if members > 1 else ""
    recipe = "none" if clf.recipe is None else repr(clf.recipe)
    tuned = "; tuned" if clf.tune_settings else ""
    return f"model: {clf.model_name}{averaged}, recipe {recipe} (textkit.recipes){tuned}"


def _model_options(args: argparse.Namespace) -> dict:
    """--recipe FILE's model options, under --members."""
    given = dict(given_recipe(args)["model_config"])
    if args.members is not None:
        given["members"] = args.members
    return given


def _tune_options(args: argparse.Namespace) -> dict | None:
    """--tune and --tune-space -> TextClassifier's tune= (checked now, before any data is read)."""
    if args.tune is None:
        if args.tune_space is not None:
            raise ValueError("--tune-space is the search space of --tune: give --tune BUDGET too")
        return None
    if args.data:
        raise ValueError("--tune with --data is not supported yet: tune from the files (--train/--corpus)")
    if args.resume:
        raise ValueError("--resume continues one training run; a --tune search keeps no checkpoint: rerun it")
    from ..tuning import check_tune, parse_budget

    try:
        budget = parse_budget(args.tune)
    except ValueError as e:
        raise ValueError(f"--tune {args.tune}: {e}") from None
    if args.cv:  # each fold's search, and the final model's, get an equal share
        budget /= args.cv + 1
    options = {"budget": budget}
    if args.tune_space is not None:
        options["space"] = read_json_flag(args.tune_space, "--tune-space")
    try:
        check_tune(options)
    except ValueError as e:
        raise ValueError(f"{'--tune-space ' + args.tune_space + ': ' if args.tune_space else ''}{e}") from None
    return options


def _report_tuning(clf, folder: Path | None) -> None:
    import dataclasses

    result = clf.tuning_
    done = [t for t in result.trials if t.get("value") is not None]
    say(f"tune: {len(result.trials)} trials in {result.seconds:.0f} s ({len(done)} with a result, "
        f"{len(result.trials) - len(done)} pruned); chose trial {result.best['trial']}: "
        f"{result.best['model']}, {result.metric.replace('_', ' ')} {result.best_value:.4f}"
        + (f" (trial {result.check['trial']} scored {result.check['gain']:+.4f} more, within chance)"
           if result.check and not result.check["adopted"] else "")
        + (" (interrupted: the best trial so far)" if result.interrupted else ""))
    if folder is not None:
        write_json(folder / "tuning.json", dataclasses.asdict(result))
        from ..plots import plot_search

        plot_search(result.trials, folder / "tuning.png", f"search: best {result.best['model']} "
                                                          f"{result.best_value:.4f} (trial {result.best['trial']})")


def _cross_validate(args: argparse.Namespace, data: dict, pipeline, train_options: dict) -> dict:
    """Stratified K folds (textkit.corpora.kfold, seeded) over train + valid; mean and sd."""
    from datasets import ClassLabel, Dataset, Features, Value

    from ..corpora import kfold

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
        say(f"fold {i}/{args.cv}: accuracy {result['accuracy']:.4f}, macro-F1 {result['macro_f1']:.4f} "
            f"(train {len(train_part):,}, test {len(test_part):,})")
    return {"folds": args.cv, "seed": args.seed,
            **{key: {"mean": statistics.fmean(values), "sd": statistics.stdev(values), "per_fold": values}
               for key, values in scores.items()},
            "sd_note": "sample standard deviation over folds (n - 1)"}
