"""Training benchmarks: textkit vs references, every figure measured side by side in one run.

    python scripts/bench_train.py                    # TREC + all of IMDB, CPU rows (+ GPU rows if present)
    python scripts/bench_train.py --limit 5000       # IMDB cut to 5,000 train and 5,000 test reviews
    python scripts/bench_train.py --device cuda      # GPU rows only ("unmeasured (no GPU)" without one)
    python scripts/bench_train.py --device cpu --imdb-texts 500 --skip-fasttext   # IMDB throughput on a CPU

Rows (a ratio is textkit / reference):
  1. Training throughput in real tokens per second of training-loop time (best epoch of
     ``--repeats`` rounds in which the contenders take turns): ``textkit.training.train`` vs a
     minimal hand-written PyTorch loop with the same model, seed, batch size, data and math (Adam
     1e-3, shuffled batches padded per batch, no clipping, fp32). textkit runs the same math
     (target >= 0.9x), its defaults (length-bucketed batches, clipping, AMP on CUDA), and the
     defaults without clipping and (CUDA) without AMP, which say what each costs or pays.
     Kim's CNN on TREC at batch 50 always; the CNN and the BiLSTM on IMDB reviews cut to 400
     tokens, at batch 64 and 256, on CUDA (all 25,000 reviews) or with ``--imdb-texts N``.
  2. IMDB, both from raw text: ``TextClassifier("bow")`` (sparse embedding gradients, SGD with a
     linear decay, as fastText trains) vs the ``fasttext`` package (fasttext-wheel 0.9.2,
     defaults: dim 100, lr 0.1, 5 epochs, unigrams) on a seeded shuffle of the training file
     (fastText reads in file order; IMDB comes class-sorted). Accuracy on the test reviews
     (fastText's own ``model.test``): target >= fastText's; wall time from raw texts to a
     trained model (textkit: cleaning, vocabulary, encoding, training; fastText: the same
     lowercase/tokenize preprocessing, writing its file, training): target <= 3x.
Both sides get ``--threads`` threads (torch, fastText, the text pipeline's processes). Default 1:
on a shared 2-core machine, extra torch threads spin against other processes and timings
turn to noise (measured here: 18x slower under load at 2 threads than at 1).
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import re
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textkit import TextPipeline  # noqa: E402
from textkit.classifier import TextClassifier  # noqa: E402
from textkit.models import build_model  # noqa: E402
from textkit.training import TrainConfig, seed_everything, train  # noqa: E402

TREC_BATCH = 50
LR = 1e-3  # Adam's, every throughput row
IMDB_MAX_LENGTH = 400
UNMEASURED = "unmeasured (no GPU)"
_IMDB_MEMBER = re.compile(r"aclImdb/(train|test)/(pos|neg)/\d+_\d+\.txt$")
_FASTTEXT_TOKEN = re.compile(r"\w+|[^\w\s]")


# -- data ----------------------------------------------------------------------------------------
def read_trec(path: Path) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in path.read_text(encoding="latin-1").splitlines():
        label, text = line.split(" ", 1)
        texts.append(text)
        labels.append(label)
    return texts, labels


def read_imdb(archive: Path, limit: int | None, seed: int) -> dict[str, tuple[list[str], list[str]]]:
    """{"train"|"test": (texts, labels)}; with ``limit``, a seeded random sample of each split."""
    data: dict[str, tuple[list[str], list[str]]] = {"train": ([], []), "test": ([], [])}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            match = _IMDB_MEMBER.match(member.name)
            if match:
                data[match[1]][0].append(tar.extractfile(member).read().decode("utf-8"))
                data[match[1]][1].append(match[2])
    if limit:
        rng = np.random.default_rng(seed)
        for split, (texts, labels) in data.items():
            keep = rng.permutation(len(texts))[:limit]
            data[split] = ([texts[i] for i in keep], [labels[i] for i in keep])
    return data


# -- 1. training throughput: textkit's loop vs a hand-written one ------------------------------------
def hand_written_loop(model, sequences, labels, *, batch_size: int, epochs: int, device: torch.device,
                      seed: int) -> float:
    """What one writes by hand: shuffle, pad each batch, forward, loss, backward, step.
    Returns the best epoch's real tokens per second."""
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    targets = torch.tensor(labels)
    generator = torch.Generator().manual_seed(seed)
    best = 0.0
    for _ in range(epochs):
        order = torch.randperm(len(sequences), generator=generator).tolist()
        started, tokens = time.perf_counter(), 0
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            rows = [torch.tensor(sequences[i]) for i in index]
            lengths = torch.tensor([len(r) for r in rows])
            ids = pad_sequence(rows, batch_first=True)  # PAD_ID is 0
            if ids.shape[1] < model.min_length:
                ids = F.pad(ids, (0, model.min_length - ids.shape[1]))
            tokens += int(lengths.sum())
            ids, lengths, y = ids.to(device), lengths.to(device), targets[index].to(device)
            loss = F.cross_entropy(model(ids, lengths), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            model.apply_constraints()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, tokens / (time.perf_counter() - started))
    return best


def throughput_rows(label: str, model_name: str, sequences: list[list[int]], labels: np.ndarray, num_classes: int,
                    vocab_size: int, *, batch_size: int, device_name: str, epochs: int, repeats: int,
                    seed: int) -> list[list[str]]:
    """``train`` in four settings against the hand-written loop, real tokens per second of the best
    epoch: the same math (target >= 0.9x), the defaults (length buckets, clipping at 5, AMP on
    CUDA), and the defaults without clipping and without AMP, which say what each costs or pays."""
    settings = {
        "same math (no buckets, no clipping, fp32)": dict(schedule="constant", clip_norm=None, bucket=False,
                                                          amp=False),
        "textkit defaults (length buckets, clip 5, AMP on CUDA)": {},
        "defaults without clipping": dict(clip_norm=None),
    }
    if device_name.startswith("cuda"):  # on a CPU AMP is off already
        settings["defaults without AMP"] = dict(amp=False)
    targets = {name: ">= 0.9x" if name.startswith("same") else "info" for name in settings}
    if device_name.startswith("cuda") and not torch.cuda.is_available():
        return [[f"{label}: {name}", UNMEASURED, UNMEASURED, "", targets[name]] for name in settings]
    device = torch.device(device_name)

    def fresh_model():
        seed_everything(seed)
        return build_model(model_name, vocab_size=vocab_size, num_classes=num_classes)

    # Contenders take turns, `repeats` rounds, best epoch of all: load from other processes
    # then hits each of them alike instead of whichever happened to run during a busy minute.
    reference, ours = 0.0, dict.fromkeys(settings, 0.0)
    for _ in range(repeats):
        reference = max(reference, hand_written_loop(fresh_model(), sequences, labels, batch_size=batch_size,
                                                     epochs=epochs, device=device, seed=seed))
        for name, options in settings.items():
            config = TrainConfig(epochs=epochs, batch_size=batch_size, optimizer="adam", lr=LR, patience=None,
                                 device=device_name, seed=seed, progress=False, **options)
            history = train(fresh_model(), (sequences, labels), config=config).history
            ours[name] = max(ours[name], *(record["tokens_per_s"] for record in history))
    return [[f"{label}: {name}", f"{ours[name]:,.0f}", f"{reference:,.0f} (hand-written loop)",
             f"{ours[name] / reference:.2f}x", targets[name]] for name in settings]


def trec_rows(data_dir: Path, device_name: str, epochs: int, repeats: int, seed: int) -> list[list[str]]:
    texts, names = read_trec(data_dir / "trec" / "TREC.train.all")
    pipeline = TextPipeline().fit(texts)
    classes = sorted(set(names))
    return throughput_rows(f"Kim CNN, TREC train (5,452 q.), batch {TREC_BATCH}, tokens/s, {device_name}", "cnn",
                           pipeline.encode(texts), np.array([classes.index(n) for n in names]), len(classes),
                           pipeline.num_embeddings, batch_size=TREC_BATCH, device_name=device_name, epochs=epochs,
                           repeats=repeats, seed=seed)


def imdb_throughput_rows(data_dir: Path, device_name: str, texts_limit: int | None, epochs: int, repeats: int,
                         seed: int) -> list[list[str]]:
    """The CNN and the BiLSTM on IMDB reviews cut to 400 tokens, at batch 64 and 256."""
    sequences, labels, vocab_size = [], np.zeros(0, dtype=np.int64), 2  # no GPU: the rows say unmeasured
    if not (device_name.startswith("cuda") and not torch.cuda.is_available()):
        texts, names = read_imdb(data_dir / "imdb" / "aclImdb_v1.tar.gz", texts_limit, seed)["train"]
        pipeline = TextPipeline().fit(texts)
        sequences = [row[:IMDB_MAX_LENGTH] for row in pipeline.encode(texts)]
        labels, vocab_size = np.array([name == "pos" for name in names], dtype=np.int64), pipeline.num_embeddings
    size = f"{texts_limit:,}" if texts_limit else "25,000"
    rows = []
    for model_name, what in (("cnn", "Kim CNN"), ("rnn", "BiLSTM")):
        for batch_size in (64, 256):
            label = (f"{what}, IMDB train ({size} reviews, <= {IMDB_MAX_LENGTH} tokens), batch {batch_size}, "
                     f"tokens/s, {device_name}")
            rows += throughput_rows(label, model_name, sequences, labels, 2, vocab_size, batch_size=batch_size,
                                    device_name=device_name, epochs=epochs, repeats=repeats, seed=seed)
    return rows


# -- 2. IMDB: bow vs fastText ----------------------------------------------------------------------------
def fasttext_line(label: str, text: str) -> str:
    return f"__label__{label} {' '.join(_FASTTEXT_TOKEN.findall(text.replace('<br />', ' ').lower()))}\n"


def run_fasttext(data, threads: int, seed: int, workdir: Path) -> tuple[float, float]:
    import fasttext

    started = time.perf_counter()
    lines = [fasttext_line(label, text) for text, label in zip(*data["train"])]
    random.Random(seed).shuffle(lines)  # fastText learns in file order; IMDB is class-sorted
    train_path = workdir / "train.txt"
    train_path.write_text("".join(lines), encoding="utf-8")
    model = fasttext.train_supervised(str(train_path), epoch=5, lr=0.1, dim=100, wordNgrams=1,
                                      thread=threads, seed=seed, verbose=0)
    seconds = time.perf_counter() - started
    test_path = workdir / "test.txt"  # written after the clock stops: evaluation is not training
    test_path.write_text("".join(fasttext_line(label, text) for text, label in zip(*data["test"])),
                         encoding="utf-8")
    _, precision_at_1, _ = model.test(str(test_path))  # P@1 with one label per review = accuracy
    return precision_at_1, seconds


def run_textkit_bow(data, device_name: str, threads: int, seed: int) -> tuple[float, float]:
    started = time.perf_counter()
    clf = TextClassifier(
        "bow", recipe=None, pipeline={"num_proc": threads},  # fastText's setting, not the recipe's: unigrams, dim 100
        model_config={"sparse": True},  # sparse rows: only the seen words' embeddings update
        optimizer="sgd", lr=3.2, momentum=0.0, schedule="linear", clip_norm=None, epochs=5, batch_size=16,
        valid_split=0, patience=None, device=device_name, seed=seed, progress=False,
    ).fit(*data["train"])
    seconds = time.perf_counter() - started
    return clf.evaluate(*data["test"])["accuracy"], seconds


def imdb_rows(data_dir: Path, devices: list[str], limit: int | None, threads: int, seed: int) -> list[list[str]]:
    size = f"{limit:,}" if limit else "25,000"
    data = read_imdb(data_dir / "imdb" / "aclImdb_v1.tar.gz", limit, seed)
    with tempfile.TemporaryDirectory() as tmp:
        ref_acc, ref_s = run_fasttext(data, threads, seed, Path(tmp))  # CPU only: measured once
    rows = []
    for device_name in devices:
        label = f"IMDB ({size} train / {size} test), textkit bow on {device_name} vs fastText on cpu"
        if device_name.startswith("cuda") and not torch.cuda.is_available():
            rows += [[f"{label}: test accuracy", UNMEASURED, f"{ref_acc:.4f} (fastText)", "", ">= fastText"],
                     [f"{label}: wall time, raw text -> trained", UNMEASURED, f"{ref_s:.1f} s (fastText)", "",
                      "<= 3x"]]
            continue
        ours_acc, ours_s = run_textkit_bow(data, device_name, threads, seed)
        rows += [
            [f"{label}: test accuracy", f"{ours_acc:.4f}", f"{ref_acc:.4f} (fastText)",
             f"{100 * (ours_acc - ref_acc):+.2f} pt", ">= fastText"],
            [f"{label}: wall time, raw text -> trained", f"{ours_s:.1f} s", f"{ref_s:.1f} s (fastText)",
             f"{ours_s / ref_s:.2f}x", "<= 3x"],
        ]
    return rows


# -- main ------------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "corpora",
                        help="folder holding trec/ and imdb/ (default: ../shared/corpora from the repo root)")
    parser.add_argument("--device", action="append", choices=["cpu", "cuda"],
                        help="device(s) to measure, repeatable (default: cpu and cuda)")
    parser.add_argument("--limit", type=int, default=None, help="IMDB reviews per split (default: all 25,000)")
    parser.add_argument("--epochs", type=int, default=3, help="CNN epochs per contender and round")
    parser.add_argument("--repeats", type=int, default=2, help="CNN rounds, contenders in turn (best epoch counts)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch and fastText")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-imdb", action="store_true", help="only the TREC throughput rows")
    parser.add_argument("--skip-fasttext", action="store_true", help="leave out the bow vs fastText rows")
    parser.add_argument("--imdb-texts", type=int, default=None, metavar="N",
                        help="IMDB throughput rows (CNN and BiLSTM, batch 64 and 256) on N training reviews; they "
                             "run on CUDA by default (all 25,000), on a CPU only when N is given")
    args = parser.parse_args()
    devices = args.device or ["cpu", "cuda"]
    torch.set_num_threads(args.threads)
    # torch imports torch._dynamo lazily on the first optimizer (seconds): pay it before any clock starts.
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)

    rows = []
    for device in devices:
        rows += trec_rows(args.data, device, args.epochs, args.repeats, args.seed)
    if not args.skip_imdb:
        for device in devices:
            if device == "cuda" or args.imdb_texts:
                rows += imdb_throughput_rows(args.data, device, args.imdb_texts, args.epochs, args.repeats, args.seed)
        if not args.skip_fasttext:
            rows += imdb_rows(args.data, devices, args.limit, args.threads, args.seed)

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"command: python {' '.join(sys.argv)}")
    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU: {platform.processor() or platform.machine()} "
          f"({os.cpu_count()} cores), GPU: {gpu}, seed {args.seed}\n")
    print("| benchmark | textkit | reference | ratio | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
