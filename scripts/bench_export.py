"""Serving a trained classifier: PyTorch eager against its ONNX export (fp32 and int8) and
fastText's ``predict``, side by side in one run on the CPU, on the same IMDB test reviews.

    python scripts/bench_export.py                  # bow with IMDB's recipe, 3 epochs; 2,000 test reviews
    python scripts/bench_export.py --model cnn --epochs 2 --test 1000

For each: the model's file size, single-text latency (p50 and p99 over --single reviews, one
predict call per review, the text pipeline included), batch throughput (reviews/s, batches of
256) and accuracy on the --test reviews. One thread everywhere (torch, ONNX Runtime, fastText's
predict is single-threaded). The textkit model trains on IMDB's 25,000 training reviews with the
corpus's recipe (textkit.recipes), fewer epochs; fastText trains on the same reviews (word
bigrams, dim 100, 5 epochs). Targets (issue #17): ONNX Runtime's single-text latency at or below
PyTorch eager's; the int8 file at most a quarter of the fp32 one.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_train import fasttext_line, read_imdb  # noqa: E402

from textkit import TextClassifier  # noqa: E402
from textkit.export import export  # noqa: E402
from textkit.onnx_predictor import OnnxPredictor  # noqa: E402


def latency(predict_one, texts: list[str]) -> tuple[float, float]:
    """p50 and p99 in milliseconds of one call per text."""
    times = []
    for text in texts:
        start = time.perf_counter()
        predict_one(text)
        times.append((time.perf_counter() - start) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def throughput(predict_many, texts: list[str], batch: int = 256) -> float:
    start = time.perf_counter()
    for i in range(0, len(texts), batch):
        predict_many(texts[i:i + batch])
    return len(texts) / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "corpora")
    parser.add_argument("--model", default="bow", choices=["bow", "cnn", "rnn"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--test", type=int, default=2000, help="test reviews for accuracy and throughput")
    parser.add_argument("--single", type=int, default=300, help="reviews timed one call each")
    args = parser.parse_args()
    import fasttext
    import torch

    torch.set_num_threads(1)
    print(f"load {os.getloadavg()[0]:.2f} at the start", flush=True)
    data = read_imdb(args.data / "imdb" / "aclImdb_v1.tar.gz", None, seed=0)
    rng = random.Random(0)
    test_index = rng.sample(range(len(data["test"][0])), args.test)
    test_texts = [data["test"][0][i] for i in test_index]
    test_labels = [data["test"][1][i] for i in test_index]
    singles = test_texts[:args.single]
    started = time.perf_counter()
    clf = TextClassifier(args.model, recipe="imdb", epochs=args.epochs, device="cpu", threads=1,
                         progress=False).fit(*data["train"])
    print(f"trained {args.model} in {time.perf_counter() - started:.0f} s", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="textkit-bench-export-") as tmp:
        tmp = Path(tmp)
        clf.save(tmp / "model")
        export(clf, tmp / "onnx", quantize="int8")
        torch_size = sum(f.stat().st_size for f in (tmp / "model").iterdir() if f.suffix == ".safetensors")

        def accuracy(predicted) -> float:
            return float(np.mean(np.asarray(predicted) == np.asarray(test_labels)))

        rows.append(("PyTorch eager", torch_size, *latency(lambda t: clf.predict_proba([t]), singles),
                     throughput(clf.predict_proba, test_texts), accuracy(clf.predict(test_texts))))
        for name, int8 in (("ONNX Runtime fp32", False), ("ONNX Runtime int8", True)):
            predictor = OnnxPredictor(tmp / "onnx", int8=int8, threads=1)
            size = (tmp / "onnx" / ("model.int8.onnx" if int8 else "model.onnx")).stat().st_size
            rows.append((name, size, *latency(lambda t: predictor.predict_proba([t]), singles),
                         throughput(predictor.predict_proba, test_texts), accuracy(predictor.predict(test_texts))))
        lines = [fasttext_line(label, text) for text, label in zip(*data["train"])]
        random.Random(0).shuffle(lines)  # fastText learns in file order; IMDB is class-sorted
        (tmp / "train.txt").write_text("".join(lines), encoding="utf-8")
        ft = fasttext.train_supervised(str(tmp / "train.txt"), epoch=5, lr=0.1, dim=100, wordNgrams=2, thread=2,
                                       seed=0, verbose=0)
        ft.save_model(str(tmp / "ft.bin"))

        def ft_predict(text: str) -> str:
            """fastText's predict on the text as it trained on (lower-cased, its tokens); through
            the C++ binding, as fasttext-wheel 0.9.2's Python wrapper fails under NumPy 2."""
            line = fasttext_line("x", text).split(" ", 1)[1].strip()
            return ft.f.predict(line, 1, 0.0, "strict")[0][1].removeprefix("__label__")

        rows.append(("fastText predict", (tmp / "ft.bin").stat().st_size, *latency(ft_predict, singles),
                     throughput(lambda batch: [ft_predict(t) for t in batch], test_texts),
                     accuracy([ft_predict(t) for t in test_texts])))
    print(f"\n{args.model}, IMDB: {len(test_texts):,} test reviews, {len(singles)} timed one by one; one thread\n")
    print("| runtime | file MB | p50 ms | p99 ms | reviews/s (batch 256) | accuracy |")
    print("|---|---|---|---|---|---|")
    for name, size, p50, p99, rate, acc in rows:
        print(f"| {name} | {size / 1e6:.2f} | {p50:.2f} | {p99:.2f} | {rate:,.0f} | {acc:.4f} |")
    eager, fp32, int8 = rows[0], rows[1], rows[2]
    print(f"\nONNX fp32 single-text p50 vs PyTorch: {eager[2] / fp32[2]:.2f}x faster "
          f"(target >= 1): {'met' if fp32[2] <= eager[2] else 'NOT met'}")
    print(f"int8 file / fp32 file: {int8[1] / fp32[1]:.4f} (target <= 0.25): "
          f"{'met' if int8[1] <= fp32[1] / 4 else 'NOT met'}")
    print(f"int8 accuracy - PyTorch accuracy: {(int8[5] - eager[5]) * 100:+.2f} points (target within 0.5)")
    print(f"\nload {os.getloadavg()[0]:.2f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
