"""Is naive-Bayes-weighted logistic regression (NBSVM's features: Wang & Manning 2012) worth
building into textkit? It is checked here with scikit-learn against the TF-IDF + logistic
regression baseline of scripts/reproduce.py, on the same replayed splits the recipes were
chosen on (``reproduce.py --valid-only``: test is never read).

    python scripts/nblr_check.py --datasets sst2 20newsgroups

Features: textkit's default tokens (20 Newsgroups keeps e-mail addresses, as its recipe does),
binary word 1..n grams, each scaled by its log-count ratio r = log((p / |p|) / (q / |q|)),
p and q the smoothed (alpha = 1) document counts in and out of the class; one-vs-rest for more
than two classes, each class with its own r. C is chosen on the replay's valid split, then
the model is refitted on train + valid and scored on the replay's test split, as the baseline is.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from reproduce import DEFAULT_DATA, replayed_on_valid, run_linear, runs_of  # noqa: E402

import textkit as tk  # noqa: E402

C_GRID = (0.1, 0.3, 1.0, 3.0)


def ngrams(tokens: list[str], n: int) -> list[str]:
    return [" ".join(tokens[i:i + k]) for k in range(1, n + 1) for i in range(len(tokens) - k + 1)]


def nb_ratio(x, y: np.ndarray, positive) -> np.ndarray:
    """``x (N, V)`` binary, ``y (N,)`` -> the log-count ratio ``(V,)`` of class ``positive``."""
    p = 1.0 + np.asarray(x[y == positive].sum(0)).ravel()
    q = 1.0 + np.asarray(x[y != positive].sum(0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def nblr_predict(x_fit, y_fit: np.ndarray, x_eval, C: float) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    classes = np.unique(y_fit)
    if len(classes) == 2:
        r = nb_ratio(x_fit, y_fit, classes[1])
        model = LogisticRegression(C=C, solver="liblinear", max_iter=1000).fit(x_fit.multiply(r).tocsr(), y_fit)
        return model.predict(x_eval.multiply(r).tocsr())
    scores = []
    for c in classes:
        r = nb_ratio(x_fit, y_fit, c)
        model = LogisticRegression(C=C, solver="liblinear", max_iter=1000).fit(x_fit.multiply(r).tocsr(), y_fit == c)
        scores.append(model.decision_function(x_eval.multiply(r).tocsr()))
    return classes[np.argmax(np.stack(scores, 1), 1)]


def nblr(run: dict, n: int, tokens) -> dict:
    """C by valid accuracy, then refit on train + valid and score test (the baseline's protocol)."""
    from sklearn.feature_extraction.text import CountVectorizer

    def fitted(texts):
        vec = CountVectorizer(analyzer=lambda toks: ngrams(toks, n), binary=True)
        return vec, vec.fit_transform(tokens(texts))

    y = np.asarray(run["train"][1])
    vec, x = fitted(run["train"][0])
    x_valid = vec.transform(tokens(run["valid"][0]))
    valid = {C: float(np.mean(nblr_predict(x, y, x_valid, C) == np.asarray(run["valid"][1]))) for C in C_GRID}
    best = max(valid, key=valid.get)
    vec, x = fitted(run["train"][0] + run["valid"][0])
    predicted = nblr_predict(x, np.asarray(run["train"][1] + run["valid"][1]), vec.transform(tokens(run["test"][0])),
                             best)
    return dict(accuracy=float(np.mean(predicted == np.asarray(run["test"][1]))), C=best, valid=valid)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["sst2", "20newsgroups"])
    parser.add_argument("--ngrams", type=int, nargs="+", default=[2, 3], help="largest n of the word n-grams")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    print(f"load {os.getloadavg()[0]:.2f} at the start", flush=True)
    for name in args.datasets:
        options = {"cleaner": {"emails": "keep"}} if name == "20newsgroups" else {}
        analyzer = tk.TextPipeline(**options).analyzer
        for replay in replayed_on_valid(runs_of(name, args.data, [0], 1)[0]):
            where = f"{name} seed 0" + (f" half {replay['half']}" if "half" in replay else "")
            baseline = run_linear(replay)
            print(f"{where}: TF-IDF+LR {baseline['accuracy']:.4f} (C={baseline['C']:g})", flush=True)
            for n in args.ngrams:
                got = nblr(replay, n, analyzer.many)
                print(f"{where}: NB-LR 1-{n} grams {got['accuracy']:.4f} (C={got['C']:g}; valid "
                      + ", ".join(f"{c:g}: {v:.4f}" for c, v in got["valid"].items()) + ")", flush=True)
    print(f"load {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
