"""Reproduce the classic sentence/document classification table with textkit (CPU by default).

    python scripts/reproduce.py                          # default run (see "Cost" below)
    python scripts/reproduce.py --datasets trec mr --seeds 1 --folds 2
    python scripts/reproduce.py --quick                  # smoke test of the script itself (~1 min)
    python scripts/reproduce.py --datasets mr --seeds 2 --valid-only   # tuning: test never read
    python scripts/reproduce.py --datasets sst2 --models rnn --device cuda  # textkit models on a GPU
    python scripts/reproduce.py --datasets 20newsgroups --models         # the TF-IDF+LR baseline alone

Rows and protocols (corpora read from ``--data``, default ``../shared/corpora`` beside the repo):

    TREC   train 5,452 / test 500; valid = 10% of train (stratified, seeded per run)
    SST-2  train: the 77,616 distinct non-neutral phrases of the 6,920 training trees (Kim's
           protocol; ../shared/corpora/sst_trees/train.txt) / dev 872 / test 1,821 sentences
    MR     10-fold CV over 10,662 sentences (folds seeded with 0); valid = 10% of each training fold
    Subj   10-fold CV over 10,000 sentences, as MR
    IMDB   train 25,000 / test 25,000; valid = 10% of train
    20NG   bydate train 11,314 / test 7,532, headers KEPT (raw messages, as the archive has them);
           valid = 10% of train

For every (dataset, seed[, fold]) the script trains each textkit model of that dataset's recipe
(``textkit.recipes``, the library's: what ``textkit train --corpus NAME`` uses) with early stopping on the valid split, then refits it on train + valid for the
best epoch count; and a TF-IDF (word 1-2 grams, sublinear tf) + logistic regression baseline
whose C is chosen on the same valid split and then refitted on train + valid. Both use the valid
split the same way. No test set is ever used to choose anything. No pretrained vectors.
A mix of families (``--models bow+cnn``) averages its members' test probabilities, each member
trained as above on the same run (what scikit-learn's ``VotingClassifier(voting="soft")`` over
those ``TextClassifier``s predicts): it costs nothing beyond members the row trains anyway.
``--valid-only`` is the tuning mode: the same protocol replayed with each run's valid split as
its test split (see ``replayed_on_valid``).

The table reports mean ± sd of test accuracy (%) over all runs of a row (seeds x folds), the
published numbers (Kim 2014 CNN-rand / CNN-non-static, fastText bigram where the card has one)
and a "met" column: the best textkit model's mean >= Kim's CNN-rand number (where one exists)
AND >= the linear baseline's mean of the same run.

Cost: the default run is the full protocol (3 seeds; 10 CV folds x 3 seeds on MR and Subj;
2 seeds on IMDB and 20 Newsgroups, whose TF-IDF+LR alone takes ~20 min a seed) with the neural
models only where validation chose them (cnn on TREC and SST-2); ``--models bow cnn rnn``
adds the others wherever they have a recipe. On this project's 2 CPU cores, as three processes
(one torch thread each), the first full table took 70 minutes with the SST-2 rnn run for one
seed instead of three (~18 min per seed there; 2-4 min per seed with --device cuda on an H200
that ran 14 other jobs at the same time).
The committed table merges several rounds of runs: reproduce_results.md lists every command.
The protocol column always states the seeds/folds that actually ran.

One protocol can be split over processes and merged (this is how the committed
scripts/reproduce_results.md was made)::

    python scripts/reproduce.py --datasets mr subj --out a.json &
    python scripts/reproduce.py --datasets trec sst2 --out b.json &
    python scripts/reproduce.py --datasets 20newsgroups imdb --out c.json &
    python scripts/reproduce.py --render a.json b.json c.json --md table.md

Output: one markdown table on stdout (and in ``--md`` if given), every run as JSON in ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import textkit as tk  # noqa: E402
from datasets import ClassLabel, Dataset  # noqa: E402
from textkit.corpora import kfold, load_corpus, load_training_phrases, stratified_split  # noqa: E402
from textkit.recipes import CORPUS_RECIPES, PARTS, recipe_for  # noqa: E402
from textkit.registry import get_card  # noqa: E402

DATASETS = ("trec", "sst2", "mr", "subj", "imdb", "20newsgroups")
CV_DATASETS = ("mr", "subj")
DEFAULT_DATA = (ROOT.parent / "shared" / "corpora")  # ../shared/corpora relative to the repo root
VALID_FRACTION = 0.1
# C=100 (the old grid's edge) was the most chosen value; 300/1000 let the baseline go further
# when that helps (MR: mean valid accuracy over folds 0-2 0.790 at C=100, 0.792 at C=300).
LR_GRID = (1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)

# The recipes are the library's (textkit/recipes.py, with the notes on how each was chosen):
# TextClassifier(model, recipe=dataset) is exactly what `textkit train --corpus NAME` trains.
# --recipe FILE replaces one model's recipe on the datasets given (how candidates are tried).
# The default run: the full protocol, with the neural models only where validation picked
# them (cnn on TREC; cnn on SST-2 too, which replayed on seed 0 scored 82.57 to the rnn's
# 82.00; each costs minutes per fit on CPU); --models adds the rest. TREC's and SST-2's mix of
# their bow and cnn was chosen replayed too (see textkit/recipes.py) and costs nothing beyond
# them. 20 Newsgroups runs two seeds: its TF-IDF+LR baseline alone takes ~20 min per run here.
DEFAULT_MODELS = {"trec": ("cnn", "bow", "bow+cnn"), "sst2": ("cnn", "bow", "bow+cnn"), "mr": ("bow",),
                  "subj": ("bow",), "imdb": ("bow",), "20newsgroups": ("bow",)}
DEFAULT_SEEDS = {"trec": 3, "sst2": 3, "mr": 3, "subj": 3, "imdb": 2, "20newsgroups": 2}
DEFAULT_FOLDS = 10
FAMILIES = ("bow", "cnn", "rnn")


def model_name(text: str) -> str:
    """--models entries: a family, or a mix of families joined by "+" ("bow+cnn")."""
    parts = text.split("+")
    if any(p not in FAMILIES for p in parts) or len(set(parts)) != len(parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected one of {', '.join(FAMILIES)}, or a mix of "
                                         f"different ones joined by '+' (bow+cnn)")
    return text


NAMES = {"trec": "TREC", "sst2": "SST-2", "mr": "MR", "subj": "Subj", "imdb": "IMDB", "20newsgroups": "20 Newsgroups"}


# -------------------------------------------------------------------------------- data
def runs_of(name: str, data: Path, seeds: list[int], folds: int, first_fold: int = 0) -> list[dict]:
    """Every (seed, fold) run of a dataset: dicts with train/valid/test (texts, labels)."""
    def pair(ds):
        return list(ds["text"]), list(ds["label"])

    card = get_card(name)
    # load_corpus's data_dir is the corpus's own folder (e.g. <data>/trec), not the collection
    data = next((data / f for f in card.local_folders if (data / f).is_dir()), data / card.local_folders[0])
    out = []
    if name in CV_DATASETS:
        full = load_corpus(name, data_dir=data, valid_fraction=0)["train"]
        splits = kfold(full, k=10, seed=0)  # Kim protocol: 10 folds; --folds runs the first n
        for seed in seeds:
            for fold in range(first_fold, min(10, first_fold + folds)):
                train, test = splits[fold]
                train, valid = stratified_split(train, VALID_FRACTION, seed=seed)
                out.append(dict(dataset=name, seed=seed, fold=fold, train=pair(train), valid=pair(valid),
                                test=pair(test)))
        return out
    if name == "sst2":
        corpus = load_corpus(name, data_dir=data)  # official dev = valid, test: sentences
        # Kim's protocol: train on every labelled phrase of the training trees (neutral dropped);
        # the 6,920 training sentences are among them. Every model of the row, the linear
        # baseline included, trains on these same phrases.
        phrases = load_training_phrases(name, data_dir=data)  # what `textkit train --corpus sst2` trains on
        for seed in seeds:
            out.append(dict(dataset=name, seed=seed, fold=None, train=pair(phrases), valid=pair(corpus["valid"]),
                            test=pair(corpus["test"])))
        return out
    corpus = load_corpus(name, data_dir=data, valid_fraction=0)
    posted = {}
    if name == "20newsgroups" and (data / card.files).is_file():  # for --valid-only's by-date replay
        posted = dict(posted=posting_order(data / card.files, *pair(corpus["train"]),
                                           corpus["train"].features["label"].names))
    for seed in seeds:
        train, valid = stratified_split(corpus["train"], VALID_FRACTION, seed=seed)
        out.append(dict(dataset=name, seed=seed, fold=None, train=pair(train), valid=pair(valid),
                        test=pair(corpus["test"]), **posted))
    return out


def posting_order(archive: Path, texts: list[str], labels: list[int],
                  groups: list[str]) -> dict[tuple[int, str], tuple[int, int]]:
    """20 Newsgroups: each training post's (position in ``texts``, article number), keyed by
    ``(label, text)``. A post's file name in 20news-bydate.tar.gz is its article number, which
    grows with posting time within a group (the test posts are later ones)."""
    import tarfile

    number = {}
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 3 and parts[0].endswith("-train"):
                number[parts[1], tar.extractfile(member).read().decode("latin-1")] = int(parts[2])
    return {(label, text): (i, number[groups[label], text]) for i, (text, label) in enumerate(zip(texts, labels))}


def replayed_on_valid(run: dict) -> list[dict]:
    """--valid-only: the run's whole protocol replayed with its valid split as the test split,
    so tuning scores what the table scores (a refitted model on unseen texts) and never reads
    the test split. A seeded, stratified VALID_FRACTION of the run's train split takes the valid
    split's place. SST-2's valid split is the official dev set, not part of train: it is halved
    instead, one half choosing and the other scoring, then the other way round (two runs).
    20 Newsgroups' test posts are later than its training posts: its replay scores the latest
    training posts instead (``replayed_by_date``).

    Why not simply the early-stopped model's best validation accuracy: that is a maximum over
    epochs on the same texts, and on MR it ranked bow 0.45 points above TF-IDF+LR while the
    test folds put it 0.9 below; replayed (seeds 0-1), MR ranks it 0.5 below, as test does."""
    def split(texts_labels, fraction, seed):
        texts, labels = texts_labels
        ds = Dataset.from_dict({"text": texts, "label": labels})
        ds = ds.cast_column("label", ClassLabel(num_classes=max(labels) + 1))
        rest, held = stratified_split(ds, fraction, seed=seed)
        return (list(rest["text"]), list(rest["label"])), (list(held["text"]), list(held["label"]))

    seed = 100 + run["seed"]  # an inner split of its own, not the outer one again
    if run["dataset"] == "20newsgroups":
        return [replayed_by_date(run, lambda rows: split(rows, VALID_FRACTION, seed))]
    if run["dataset"] == "sst2":
        a, b = split(run["valid"], 0.5, seed)
        return [dict(run, train=run["train"], valid=a, test=b, half=0),
                dict(run, train=run["train"], valid=b, test=a, half=1)]
    train, valid = split(run["train"], VALID_FRACTION, seed)
    return [dict(run, train=train, valid=valid, test=run["valid"])]


def replayed_by_date(run: dict, split) -> dict:
    """20 Newsgroups' replay: the latest ``VALID_FRACTION`` of each group's training posts (by
    article number, ``posting_order``) is the test split, and ``split`` draws the valid split from
    the earlier rest, as the row's protocol does. Why: the official test posts are later than the
    training posts, a random valid split shares threads (quotes, subjects) with training, and
    replayed on it the bow ranked 0.44 points above TF-IDF+LR where the test split put it 0.45
    below; on the latest posts it ranks below, as test does (textkit/recipes.py)."""
    if "posted" not in run:
        raise SystemExit("20 Newsgroups' --valid-only replay orders posts by the article numbers in "
                         "20news-bydate.tar.gz's file names: no such archive in the corpus folder")
    posted = run["posted"]
    pooled = sorted(zip(run["train"][0] + run["valid"][0], run["train"][1] + run["valid"][1]),
                    key=lambda row: posted[row[1], row[0]][0])  # the corpus's own order
    by_class: dict[int, list[int]] = {}
    for i, (_, label) in enumerate(pooled):
        by_class.setdefault(label, []).append(i)
    held = set()
    for rows in by_class.values():
        rows.sort(key=lambda i: posted[pooled[i][1], pooled[i][0]][1])
        held.update(rows[len(rows) - round(VALID_FRACTION * len(rows)):])

    def pair(indices):
        return [pooled[i][0] for i in indices], [pooled[i][1] for i in indices]

    train, valid = split(pair([i for i in range(len(pooled)) if i not in held]))
    return dict(run, train=train, valid=valid, test=pair(sorted(held)))


def subsample(run: dict, n_train: int, n_eval: int) -> dict:
    """--quick: a small, seeded, label-mixed slice of each split."""
    rng = np.random.default_rng(run["seed"])

    def cut(texts_labels, n):
        texts, labels = texts_labels
        idx = np.sort(rng.permutation(len(texts))[:n])
        return [texts[i] for i in idx], [labels[i] for i in idx]

    return dict(run, train=cut(run["train"], n_train), valid=cut(run["valid"], n_eval), test=cut(run["test"], n_eval))


# -------------------------------------------------------------------------------- models
def run_textkit(model: str, recipe: dict | str, run: dict, quick: bool, device: str = "cpu",
                keep_proba: bool = False) -> dict:
    """Early-stop on valid to choose the epoch count, then refit on train + valid for that many
    epochs and score test once: the same use of the valid split as the linear baseline's.
    ``recipe``: a registered corpus name (the library's recipe for it) or a --recipe FILE's parts."""
    if isinstance(recipe, str):
        given = dict(recipe=recipe)
    else:  # a candidate from --recipe replaces the library's whole recipe
        given = dict(recipe=None, pipeline=dict(recipe["pipeline"]), model_config=dict(recipe["model_config"]),
                     **recipe["train"])
    if quick:
        given["epochs"] = 2

    def classifier(**overrides):
        return tk.TextClassifier(model, seed=run["seed"], device=device, progress=False, **{**given, **overrides})

    chooser = classifier().fit(*run["train"], valid=run["valid"])
    best_epoch = chooser.result_.best_epoch
    texts, labels = run["train"][0] + run["valid"][0], run["train"][1] + run["valid"][1]
    clf = classifier(epochs=best_epoch, patience=None, valid_split=0).fit(texts, labels)
    scores = clf.evaluate(*run["test"])
    result = dict(accuracy=scores["accuracy"], macro_f1=scores["macro_f1"], best_epoch=best_epoch,
                  valid_accuracy=chooser.result_.best_metric)
    if keep_proba:  # for a mix: the test probabilities, columns in classes_ order (in memory only)
        result["proba"] = (clf.predict_proba(run["test"][0]), list(clf.classes_))
    return result


def run_mix(members: dict[str, dict], run: dict) -> dict:
    """A mix such as "bow+cnn": the mean of its members' test probabilities, each member trained
    by the protocol above on this run (what scikit-learn's ``VotingClassifier(voting="soft")``
    over those ``TextClassifier``s predicts); why: models of different families err on different
    texts, so their average gains more than members of one family (``members=k``) do."""
    from sklearn.metrics import accuracy_score, f1_score

    probas = [result["proba"] for result in members.values()]
    classes = probas[0][1]
    if any(c != classes for _, c in probas):
        raise ValueError(f"the members of a mix know different classes: {[c for _, c in probas]}")
    predicted = [classes[i] for i in np.mean([p for p, _ in probas], axis=0).argmax(1)]
    return dict(accuracy=float(accuracy_score(run["test"][1], predicted)),
                macro_f1=float(f1_score(run["test"][1], predicted, average="macro")),
                best_epoch={m: r["best_epoch"] for m, r in members.items()},
                seconds=round(sum(r["seconds"] for r in members.values()), 2),
                valid_accuracy={m: r["valid_accuracy"] for m, r in members.items()})


def run_linear(run: dict) -> dict:
    """TF-IDF (1-2 grams) + logistic regression; C by valid accuracy, then refit on train + valid."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.multiclass import OneVsRestClassifier

    def vectorize(texts):
        # vocabulary and idf from the fitting texts only (never valid/test)
        vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        return vec, vec.fit_transform(texts)

    def classifier(C):
        # liblinear (one-vs-rest for more than 2 classes): fast on sparse tf-idf on 2 cores
        model = LogisticRegression(C=C, solver="liblinear", max_iter=1000)
        return model if len(set(run["train"][1])) == 2 else OneVsRestClassifier(model)

    vec, x = vectorize(run["train"][0])
    x_valid = vec.transform(run["valid"][0])
    best_c, best_acc = None, -1.0
    for C in LR_GRID:
        acc = accuracy_score(run["valid"][1], classifier(C).fit(x, run["train"][1]).predict(x_valid))
        if acc > best_acc:
            best_c, best_acc = C, acc
    vec, x = vectorize(run["train"][0] + run["valid"][0])
    model = classifier(best_c).fit(x, run["train"][1] + run["valid"][1])
    predicted = model.predict(vec.transform(run["test"][0]))
    return dict(accuracy=float(accuracy_score(run["test"][1], predicted)),
                macro_f1=float(f1_score(run["test"][1], predicted, average="macro")), C=best_c,
                valid_accuracy=best_acc)


# -------------------------------------------------------------------------------- table
def mean_sd(values: list[float]) -> str:
    if not values:
        return "–"
    mean = 100 * statistics.fmean(values)
    sd = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.1f} ± {sd:.1f}"


def protocol_of(name: str, rows: list[dict]) -> str:
    """Counted from the runs that finished, so a partial run's table cannot overstate itself."""
    n = len({r["seed"] for r in rows})
    folds = len({r["fold"] for r in rows})
    seeds_txt = f"{n} seed{'s' if n > 1 else ''}"
    if name in CV_DATASETS:
        cv = "CV 10 folds" if folds == 10 else f"CV {folds}/10 folds"
        return f"{cv} × {seeds_txt}"
    if name == "sst2":
        return f"phrases/dev/test × {seeds_txt}"
    if name == "20newsgroups":
        return f"bydate, headers kept × {seeds_txt}"
    return f"train/test × {seeds_txt}"


def paired_margin(rows: list[dict], model: str) -> str:
    """``model`` minus TF-IDF+LR in points, over the runs both have (same seed and fold), ± the
    standard error of that mean difference: how safe a "yes" is."""
    linear = {(r["seed"], r["fold"]): r["accuracy"] for r in rows if r["model"] == "tfidf-lr"}
    diffs = [100 * (r["accuracy"] - linear[r["seed"], r["fold"]]) for r in rows
             if r["model"] == model and (r["seed"], r["fold"]) in linear]
    se = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) > 1 else 0.0
    return f"{statistics.fmean(diffs):+.2f} ± {se:.2f} vs LR, paired over {len(diffs)} run{'s' * (len(diffs) > 1)}"


def models_in(records: list[dict]) -> list[str]:
    """The textkit models the records hold: the single ones in FAMILIES order, then the mixes."""
    present = {r["model"] for r in records} - {"tfidf-lr"}
    return [m for m in FAMILIES if m in present] + sorted(present - set(FAMILIES))


def make_table(records: list[dict]) -> str:
    models = models_in(records)
    cols = ["dataset", "protocol"] + [f"textkit {m}" for m in models] + [
        "TF-IDF+LR", "Kim CNN-rand", "Kim CNN-non-static", "fastText", "met"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for name in DATASETS:
        rows = [r for r in records if r["dataset"] == name]
        if not rows:
            continue
        acc = {m: [r["accuracy"] for r in rows if r["model"] == m] for m in models + ["tfidf-lr"]}
        refs = get_card(name).references
        rand, nonstatic = refs.get("CNN-rand"), refs.get("CNN-non-static")
        fasttext = refs.get("fastText bigram")
        means = {m: 100 * statistics.fmean(v) for m, v in acc.items() if v}
        tk_means = {m: v for m, v in means.items() if m != "tfidf-lr"}
        best_model = max(tk_means, key=tk_means.get) if tk_means else None
        if best_model is None or "tfidf-lr" not in means:
            met = "n/a"
        else:
            best = tk_means[best_model]
            short = []
            if rand is not None and best < rand:
                short.append(f"{best - rand:+.2f} vs Kim")
            if best < means["tfidf-lr"]:
                short.append(f"{best - means['tfidf-lr']:+.2f} vs LR")
            met = (f"yes ({best_model}: {paired_margin(rows, best_model)})" if not short
                   else f"NO ({best_model}: {', '.join(short)})")
        fmt = lambda x: "–" if x is None else f"{x:.1f}"  # noqa: E731
        cells = [NAMES[name], protocol_of(name, rows)] + [
            f"{mean_sd(acc[m])} (n={len(acc[m])})" if acc[m] else "–" for m in models] + [
            mean_sd(acc["tfidf-lr"]), fmt(rand), fmt(nonstatic), fmt(fasttext), met]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def valid_table(records: list[dict]) -> str:
    """--valid-only: mean accuracy of the replayed protocol on the valid split, per dataset and
    model (what the recipes are chosen on)."""
    lines = ["| dataset | model | accuracy % on valid, protocol replayed (mean over runs) | runs |",
             "|---|---|---|---|"]
    for name in DATASETS:
        for model in models_in(records) + ["tfidf-lr"]:
            values = [r["accuracy"] for r in records if r["dataset"] == name and r["model"] == model]
            if values:
                lines.append(f"| {NAMES[name]} | {model} | {100 * statistics.fmean(values):.2f} | {len(values)} |")
    return "\n".join(lines)


# -------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--models", nargs="*", default=None, type=model_name,
                        help="textkit models to run (default: each dataset's recipe): bow, cnn, rnn, or a mix "
                             "such as bow+cnn (the mean of its members' probabilities, each trained as it "
                             "would be alone); a model without a recipe for a dataset is skipped there; "
                             "--models with no name runs the TF-IDF+LR baseline alone")
    parser.add_argument("--seeds", type=int, default=None,
                        help="seeds per dataset, counted from --first-seed (default: DEFAULT_SEEDS)")
    parser.add_argument("--first-seed", type=int, default=0,
                        help="start at this seed (--seeds counts from it), to split seeds over processes or "
                             "devices whose --out files --render merges")
    parser.add_argument("--folds", type=int, default=DEFAULT_FOLDS,
                        help=f"CV folds to run for MR/Subj, the first n of 10 (default {DEFAULT_FOLDS})")
    parser.add_argument("--first-fold", type=int, default=0,
                        help="start at this CV fold (0-9), to split one protocol over several processes "
                             "whose --out files --render merges")
    parser.add_argument("--render", type=Path, nargs="+", default=None, metavar="JSON",
                        help="print the table of earlier --out files (merged) instead of training")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder holding the corpora")
    parser.add_argument("--out", type=Path, default=None, help="JSON file for every run")
    parser.add_argument("--md", type=Path, default=None, help="also write the table to this markdown file")
    parser.add_argument("--no-linear", action="store_true", help="skip the TF-IDF + LR baseline")
    parser.add_argument("--valid-only", action="store_true",
                        help="tuning: replay the whole protocol with the valid split as the test split (an "
                             "inner split of train chooses the epoch or C; SST-2 halves its dev set) and print "
                             "each model's accuracy there; the test split is never read")
    parser.add_argument("--recipe", type=Path, default=None, metavar="JSON",
                        help='with one --models M: try {"pipeline": .., "model_config": .., "train": ..} as M\'s '
                             "recipe on every dataset given")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (default 1: as fast as 2 for these models on a 2-core machine, and "
                             "two processes of this script can then share it)")
    parser.add_argument("--device", default="cpu",
                        help="torch device for the textkit models: cpu (default, the table's runs), cuda, auto")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run: 1 seed, 2 folds, 2 epochs, "
                                                             "small slices of every split")
    args = parser.parse_args(argv)
    if args.render:
        merged, sources = {}, []  # a run repeated across files counts once (the last file wins)
        for path in args.render:
            payload = json.loads(path.read_text(encoding="utf-8"))
            # an earlier --render --out file brings the sources it merged
            sources += payload.get("sources") or [{k: payload.get(k) for k in ("command", "wall_seconds", "plan",
                                                                                  "recipes")}]
            for r in payload["runs"]:
                merged[(r["dataset"], r["model"], r["seed"], r["fold"])] = r
        records = list(merged.values())
        table = make_table(records)
        print(table)
        if args.md:
            args.md.write_text(table + "\n", encoding="utf-8")
        if args.out:  # one file holding every run and the commands that made them
            tmp = args.out.with_suffix(args.out.suffix + ".tmp")
            tmp.write_text(json.dumps({"sources": sources, "runs": records}, indent=1, default=list), encoding="utf-8")
            os.replace(tmp, args.out)
        return 0
    if args.models == [] and args.no_linear:
        parser.error("--models with no name runs the baseline alone, and --no-linear skips it: nothing to run")
    if not 1 <= args.folds <= 10:
        parser.error(f"--folds must be between 1 and 10, got {args.folds}")
    if not 0 <= args.first_fold <= 10 - args.folds:
        parser.error(f"--first-fold must be between 0 and 10 - --folds ({10 - args.folds}), got {args.first_fold}")
    recipes: dict[str, dict] = {name: {model: name for model in models} for name, models in CORPUS_RECIPES.items()}
    if args.recipe is not None:
        if not args.models or len(args.models) != 1 or "+" in args.models[0]:
            parser.error("--recipe needs exactly one --models name, the model it is a recipe for")
        tried = json.loads(args.recipe.read_text(encoding="utf-8"))
        for name in args.datasets:
            recipes[name][args.models[0]] = {part: tried.get(part, {}) for part in PARTS}
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.first_seed < 0:
        parser.error(f"--first-seed must be >= 0, got {args.first_seed}")
    if not args.data.is_dir():
        parser.error(f"--data {args.data} is not a folder (expected the shared corpora)")
    folds = 2 if args.quick else args.folds
    import torch

    torch.set_num_threads(args.threads)

    plan = {}
    for name in args.datasets:
        n = 1 if args.quick else (args.seeds or DEFAULT_SEEDS[name])
        plan[name] = (list(range(args.first_seed, args.first_seed + n)), folds if name in CV_DATASETS else None)

    records: list[dict] = []
    started = time.perf_counter()
    for name, (seeds, nfolds) in plan.items():
        t0 = time.perf_counter()
        runs = runs_of(name, args.data, seeds, nfolds or 1, args.first_fold)
        print(f"[{name}] loaded {len(runs)} run(s) in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        models = [m for m in (DEFAULT_MODELS[name] if args.models is None else args.models)
                  if all(part in recipes[name] for part in m.split("+"))]
        models.sort(key=lambda m: "+" in m)  # a mix after the single models, whose results it reuses
        if args.quick:
            runs = [subsample(run, 600, 200) for run in runs]
        if args.valid_only:  # from here on the test split is out of reach
            runs = [inner for run in runs for inner in replayed_on_valid(run)]
        for run in runs:
            trained: dict[str, dict] = {}  # this run's single models, for the mixes

            def single(m, run=run):
                if m not in trained:
                    t0 = time.perf_counter()
                    trained[m] = run_textkit(m, recipes[name][m], run, args.quick, args.device,
                                             keep_proba=any(m in mix.split("+") for mix in models if "+" in mix))
                    trained[m]["seconds"] = round(time.perf_counter() - t0, 2)
                return trained[m]

            jobs = [(m, lambda m=m, run=run: run_mix({p: single(p) for p in m.split("+")}, run) if "+" in m
                     else single(m)) for m in models]
            if not args.no_linear:
                jobs.append(("tfidf-lr", lambda run=run: run_linear(run)))
            for model, job in jobs:
                t0 = time.perf_counter()
                result = {k: v for k, v in job().items() if k != "proba"}
                seconds = result.pop("seconds", None) or time.perf_counter() - t0  # a mix: its members' sum
                record = dict(dataset=name, model=model, seed=run["seed"], fold=run["fold"],
                              seconds=round(seconds, 2), **result)
                if "half" in run:
                    record["half"] = run["half"]
                records.append(record)
                print(f"[{name}] seed={run['seed']} fold={run['fold']} {model}: "
                      f"{'replayed on valid: ' if args.valid_only else ''}acc={result['accuracy']:.4f} "
                      f"f1={result['macro_f1']:.4f} valid={valid_text(result.get('valid_accuracy'))} "
                      f"({seconds:.0f}s)",
                      file=sys.stderr, flush=True)
                if args.out:  # rewritten after every run: a killed job keeps what it finished
                    write_json(args.out, records, recipes, plan, time.perf_counter() - started)
    table = valid_table(records) if args.valid_only else make_table(records)
    wall = time.perf_counter() - started
    print(table)
    print(f"\nwall time {wall / 60:.1f} min; command: python scripts/reproduce.py {' '.join(sys.argv[1:])}")
    if args.out:
        write_json(args.out, records, recipes, plan, wall)
    if args.md:
        args.md.write_text(table + "\n", encoding="utf-8")
    return 0


def valid_text(valid: float | dict | None) -> str:
    """The early-stopped valid accuracy of a model, or of each member of a mix."""
    if isinstance(valid, dict):
        return "/".join(f"{m} {v:.4f}" for m, v in valid.items())
    return "nan" if valid is None else f"{valid:.4f}"


def write_json(path: Path, records: list[dict], recipes: dict, plan: dict, wall: float) -> None:
    payload = {
        "command": "python scripts/reproduce.py " + " ".join(sys.argv[1:]),
        "wall_seconds": round(wall, 1),
        "textkit_version": tk.__version__,
        "python": platform.python_version(),
        "plan": {name: {"seeds": seeds, "folds": folds} for name, (seeds, folds) in plan.items()},
        # as trained: the library's recipe resolved, or the --recipe override
        "recipes": {name: {model: recipe_for(model, r) if isinstance(r, str) else r
                           for model, r in recipes[name].items()} for name in plan},
        "runs": records,
    }
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=list), encoding="utf-8")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
