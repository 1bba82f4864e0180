"""The bag of embeddings' default on small training files, where a user's own data often is:
how many epochs, how much patience. Test splits are never read: each run draws from a
corpus's train split n texts to fit, max(n / 8, 50) to validate (early stopping) and 1,000
held-out texts to score, per seed; TF-IDF (1-2 grams) + logistic regression, C in {1, 10, 100}
by the same valid texts, is the yardstick. It is fitted on the n texts alone, as the bow is
(``reproduce.run_linear`` refits on train + valid, as the table's models are refitted).

    python scripts/small_data_check.py                          # the library default alone
    python scripts/small_data_check.py --configs '{"p10": {"epochs": 100, "patience": 10}}'

``--configs`` maps a name to TextClassifier options over the library default ("library": {} is
always run first unless --no-library).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from reproduce import DEFAULT_DATA  # noqa: E402

import textkit as tk  # noqa: E402
from textkit import load_corpus  # noqa: E402


def tfidf_lr(train, valid, held) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(train[0])

    def fitted(C):
        return LogisticRegression(C=C, max_iter=3000).fit(vec.transform(train[0]), train[1])

    best = max((1, 10, 100), key=lambda C: fitted(C).score(vec.transform(valid[0]), valid[1]))
    return float(fitted(best).score(vec.transform(held[0]), held[1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["trec", "subj", "mr", "sst2"])
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--configs", type=json.loads, default={},
                        help='candidates: {"name": {TextClassifier options over the library default}, ...}')
    parser.add_argument("--no-library", action="store_true", help="skip the library default's run")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    configs = args.configs if args.no_library else {"library": {}, **args.configs}
    if not configs:
        parser.error("--no-library without --configs leaves nothing to run")
    print(f"load {os.getloadavg()[0]:.2f} at the start", flush=True)
    means = {}
    for name in args.datasets:
        split = load_corpus(name, data_dir=args.data / name)["train"]
        label_names = split.features["label"].int2str
        for n in args.sizes:
            for seed in range(args.seeds):
                order = np.random.default_rng(seed).permutation(len(split))
                n_valid = max(n // 8, 50)

                def take(rows):
                    part = split.select(rows)
                    return list(part["text"]), label_names(part["label"])

                train, valid = take(order[:n]), take(order[n:n + n_valid])
                held = take(order[n + n_valid:n + n_valid + 1000])
                row = {"tfidf+lr": tfidf_lr(train, valid, held)}
                for config, options in configs.items():
                    clf = tk.TextClassifier("bow", progress=False, threads=1, seed=seed, **options)
                    clf.fit(*train, valid=valid)
                    row[config] = clf.score(*held)
                    row[f"{config} epoch"] = clf.result_.best_epoch
                means.setdefault(f"{name} n={n}", []).append(row)
                print(f"{name} n={n} seed {seed}: " + ", ".join(
                    f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()), flush=True)
    print("\nmean held-out accuracy over the seeds:")
    print("| corpus, train size | " + " | ".join(["tfidf+lr", *configs]) + " |")
    print("|---" * (len(configs) + 2) + "|")
    for key, rows in means.items():
        print(f"| {key} | " + " | ".join(f"{np.mean([r[c] for r in rows]):.4f}" for c in ["tfidf+lr", *configs])
              + " |")
    print(f"load {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
