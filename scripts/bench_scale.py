"""Corpora larger than memory: preprocessing, training from shards and load_corpus, each against the
same step on a small slice, in the same run (issue #16's evidence).

    python scripts/bench_scale.py                        # the issue's size: a 5 GB corpus (hours on 2 cores)
    python scripts/bench_scale.py --mb 300 --slice-mb 30 # what fits in minutes here

The corpus is IMDB's training reviews repeated with seeded perturbations (words dropped and
repeated at random) until it reaches ``--mb``, as a csv in a temporary folder removed at the end.
Each step runs in a fresh process that reports its wall time and peak resident memory:

1. ``textkit preprocess`` of the corpus and of the slice: peak < 1 GB; corpus throughput (MB/s)
   at >= 0.8x the slice's.
2. ``textkit train --data`` (bow, one epoch) on the slice's shards, against ``textkit train`` on
   the slice's csv from memory: tokens/s at >= 0.9x (the same rows and about the same
   vocabulary: a bag of embeddings steps slower with a larger vocabulary, so the corpus's own
   speed is not comparable); and on the corpus's shards: peak < 2 GB.
3. ``load_corpus`` of the corpus (written to Arrow, memory-mapped, in a cache_dir inside the
   temporary folder): peak < 1 GB; and its time against the slice's, for information.
   ``--only load`` runs this step alone.

Not here: DistributedDataParallel's speed and IMDB accuracy over seeds (see the README's
"Several processes" paragraph).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "corpora"


def build(path: Path, reviews: list[tuple[str, str]], megabytes: float, seed: int) -> int:
    """Write ``megabytes`` of label,text rows (seeded perturbations of ``reviews``); returns the rows."""
    rng, size, rows = random.Random(seed), 0, 0
    with open(path, "w", encoding="utf-8") as f:
        f.write("label,text\n")
        while size < megabytes * 1e6:
            label, text = reviews[rng.randrange(len(reviews))]
            words = [w for w in text.split() if rng.random() > 0.1]  # drop ~10%
            words = [w for w in words for _ in range(2 if rng.random() < 0.05 else 1)]  # repeat ~5%
            line = f'{label},"{" ".join(words).replace(chr(34), chr(39))}"\n'
            f.write(line)
            size += len(line.encode("utf-8"))
            rows += 1
    return rows


def imdb_reviews() -> list[tuple[str, str]]:
    reviews = []
    with tarfile.open(DATA / "imdb" / "aclImdb_v1.tar.gz", "r:gz") as tar:
        for member in tar:
            match = re.match(r"aclImdb/train/(pos|neg)/\d+_\d+\.txt$", member.name)
            if match and member.isfile():
                reviews.append((match[1], tar.extractfile(member).read().decode("utf-8")))
    return reviews


def measure(command: list[str], cwd: Path) -> dict:
    """Run ``command``; its wall time and its peak resident memory (of it and its children)."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far, MB
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return {"seconds": seconds, "peak_mb": peak, "stdout": done.stdout}


def fresh(command: list[str], cwd: Path) -> dict:
    """``measure`` in a process of its own, so the peak is this command's alone."""
    code = ("import json, sys; sys.path.insert(0, %r); from bench_scale import measure; "
            "print(json.dumps(measure(%r, __import__('pathlib').Path(%r))))") % (str(Path(__file__).parent),
                                                                                 command, str(cwd))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=5000, help="corpus size in MB (default 5000, the issue's)")
    parser.add_argument("--slice-mb", type=float, default=50, help="the slice's size in MB (default 50)")
    parser.add_argument("--only", choices=["load"], help="run only load_corpus's step")
    args = parser.parse_args()
    textkit = [sys.executable, "-m", "textkit"]
    print(f"load {os.getloadavg()[0]:.2f} at the start; corpus {args.mb:,.0f} MB, slice {args.slice_mb:,.0f} MB")
    with tempfile.TemporaryDirectory(prefix="textkit-bench-scale-") as tmp:
        root = Path(tmp)
        reviews = imdb_reviews()
        corpus_rows = build(root / "corpus.csv", reviews, args.mb, seed=1)
        slice_rows = build(root / "slice.csv", reviews, args.slice_mb, seed=2)
        build(root / "test.csv", reviews, 2, seed=3)
        results = {}
        for name in ("slice", "corpus"):
            code = (f"import textkit as tk; tk.load_corpus({{'train': '{name}.csv'}}, valid_fraction=0, "
                    f"cache_dir='cache-{name}')")
            results[f"load_corpus {name}"] = fresh([sys.executable, "-c", code], root)
        if args.only == "load":
            report_load(results, args)
            return
        for name in ("slice", "corpus"):
            results[f"preprocess {name}"] = fresh([*textkit, "preprocess", f"train={name}.csv", "test=test.csv",
                                                   "--out", f"prep-{name}", "--shard-size", "20000",
                                                   "--no-progress"], root)
        results["train --data slice"] = fresh([*textkit, "train", "--data", "prep-slice", "--model", "bow",
                                               "--epochs", "1", "--device", "cpu", "--out", "run-data-slice",
                                               "--no-progress"], root)
        results["train --data corpus"] = fresh([*textkit, "train", "--data", "prep-corpus", "--model", "bow",
                                                "--epochs", "1", "--device", "cpu", "--out", "run-corpus",
                                                "--no-progress"], root)
        # --ngram-range 1 1: preprocess's pipeline (words), not the bow recipe's 1-2 grams, so that
        # both runs train the same model on the same ids
        results["train slice from memory"] = fresh([*textkit, "train", "--train", "slice.csv", "--test", "test.csv",
                                                    "--model", "bow", "--epochs", "1", "--ngram-range", "1", "1",
                                                    "--device", "cpu", "--out", "run-slice", "--no-progress"], root)
        speed = {name: json.loads((root / f"run-{name}" / "metrics.json").read_text())["history"][0]["tokens_per_s"]
                 for name in ("corpus", "data-slice", "slice")}
        took = {name: json.loads((root / f"prep-{name}" / "report.json").read_text())["seconds"]
                for name in ("slice", "corpus")}  # preprocess's own time, without the start-up


    mb_s = {name: size / took[name] for name, size in (("slice", args.slice_mb), ("corpus", args.mb))}
    rows = [
        ("preprocess: corpus MB/s vs the slice's", f"{mb_s['corpus']:.1f} vs {mb_s['slice']:.1f}",
         mb_s["corpus"] / mb_s["slice"], 0.8),
        ("preprocess: peak MB (corpus)", f"{results['preprocess corpus']['peak_mb']:,.0f}", None, 1024),
        ("train --data slice: tokens/s vs from memory", f"{speed['data-slice']:,.0f} vs {speed['slice']:,.0f}",
         speed["data-slice"] / speed["slice"], 0.9),
        ("train --data corpus: tokens/s (info)", f"{speed['corpus']:,.0f}", None, None),
        ("train --data: peak MB (corpus)", f"{results['train --data corpus']['peak_mb']:,.0f}", None, 2048),
        *load_rows(results, args),
    ]
    print(f"\n{corpus_rows:,} corpus rows, {slice_rows:,} slice rows\n")
    print_rows(rows)


def load_rows(results: dict, args) -> list[tuple]:
    mb_s = {name: size / results[f"load_corpus {name}"]["seconds"]
            for name, size in (("slice", args.slice_mb), ("corpus", args.mb))}
    return [("load_corpus: MB/s, corpus vs slice (info)", f"{mb_s['corpus']:.1f} vs {mb_s['slice']:.1f}", None, None),
            ("load_corpus: peak MB (slice, info)", f"{results['load_corpus slice']['peak_mb']:,.0f}", None, None),
            ("load_corpus: peak MB (corpus)", f"{results['load_corpus corpus']['peak_mb']:,.0f}", None, 1024)]


def report_load(results: dict, args) -> None:
    print_rows(load_rows(results, args))


def print_rows(rows: list[tuple]) -> None:
    print(f"{'measure':<50} {'value':>24} {'ratio':>6}  target  met")
    for name, value, ratio, target in rows:
        if target is None:
            print(f"{name:<50} {value:>24}")
        elif ratio is None:
            met = float(value.replace(",", "")) < target
            print(f"{name:<50} {value:>24} {'':>6}  < {target:,}  {'yes' if met else 'NO'}")
        else:
            print(f"{name:<50} {value:>24} {ratio:>5.2f}x  >= {target}x  {'yes' if ratio >= target else 'NO'}")
    print(f"\nload {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
