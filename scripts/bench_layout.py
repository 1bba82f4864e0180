"""Layout-grid benchmarks: TSV pages -> grids, and training the grid CNN, vs same-run references.

    python scripts/bench_layout.py                       # CPU rows (+ CUDA rows when a GPU is here)
    python scripts/bench_layout.py --device cuda --skip-grids   # GPU training rows only
    python scripts/bench_layout.py --threads 1 --repeats 5 --json layout.json

Data: the 600 FARA pages (fara_forms/fara_forms_ocr.tar.gz, Tesseract TSV, one page per file,
200 per class). Every member's bytes are read from the archive into memory first, once, so
gzip and disk time are outside every timed row.

Rows (a ratio is textkit's speed / the reference's speed, > 1 means textkit is faster):

  1. Grids from TSV (one process, the issue's target): ``parse_ocr_tsv`` of all 600 files PLUS
     ``LayoutPipeline.transform`` of the pages, i.e. TSV bytes -> the dense ``(B, H, W, S)``
     grid tensor, vs ``parse_ocr_tsv`` alone (bytes -> ``Page`` objects). Target >= 0.5x:
     building grids at no less than half the speed of just parsing. The pipeline is fitted
     once beforehand, outside the clock (its fit time is its own "info" row).

     Which output is fair: the target row ends at ``transform``'s output, the dense
     ``GridBatch`` of all 600 pages (600 x 64 x 48 x 8 int64 = 118 MB), because that is what
     "grids" means in the public API and what a user of ``transform`` gets; it is also the
     stricter of the two (it pays for filling 118 MB). Training does not go through it:
     ``TextClassifier.fit`` calls ``encode``, whose sparse ``EncodedGrids`` (each page's
     (id, position) pairs) is scattered into a dense grid one batch at a time inside the
     training loop, where row 2's epoch times pay for it. The ``encode`` path is shown as an
     "info" row beside the target.

  2. Training throughput in training pages per second of training-loop time (best epoch of
     ``--repeats`` rounds in which the contenders take turns; validation excluded: textkit's
     per-epoch ``history_[i]["seconds"]``), default ``GridCNN`` and ``LayoutPipeline``,
     default batch size (50), ``--epochs`` (default 1; an untimed warm-up runs the model's
     batch shapes first, so a first epoch is a steady one) per ``--threads`` setting on CPU:
       a. same math: ``TextClassifier("grid", bucket=False, clip_norm=None, amp=False,
          valid_split=0, patience=None)`` on all 600 pages vs a hand-written PyTorch loop with
          the same model seeded alike, on the same pages' dense grids prebuilt by ``transform``
          (outside its clock): shuffled batches of 50 sliced from that tensor, AdamW
          (lr 1e-3, weight_decay 0, as textkit's default), cross-entropy, no clipping, fp32,
          12 steps an epoch on both sides. This is textkit's loader + loop overhead: target >= 0.9x.
       b. textkit defaults (``TextClassifier("grid")``: 10% stratified validation split, so
          540 training pages; length-bucketed batches, clip_norm 5, AMP on CUDA) vs the same
          reference: info.
       c. the wall time of that defaults ``fit`` (vocabulary, encoding, model, every epoch
          with its validation) vs the reference's wall time from the same pages: fitting a
          LayoutPipeline, transforming all 600 pages, and its epochs: info. Both as training
          pages x epochs run per second of wall time (540 vs 600 training pages; early stopping,
          patience 3, may end a defaults fit before ``--epochs``, which its pages count).
     With ``--device cuda`` (default: also when a GPU is present), the same rows on the GPU:
     row a with amp=False against an fp32 reference; rows b and c with textkit's default AMP
     (bf16 autocast on GPUs that support it, as ``autocast_dtype`` picks) against a reference
     under the same autocast. On CUDA the reference moves the whole dense tensor to the GPU
     once, before its epoch clock (inside its wall time), and indexes its batches there;
     textkit builds each dense batch on the host from the sparse grids and copies it from
     pinned memory. A GPU epoch is 12 steps: ``--cuda-epochs`` (default 10) epochs a round.
  Not measured: the 1-D CNN on the pages' text (a different model, no ratio worth printing).

``--threads``: comma-separated torch thread counts for the CPU training rows; ``default`` is
torch's own default (every core). The grid-building rows run in one process and one thread
whatever it says. This machine may be shared: the load average is printed before and after.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from textkit.classifier import TextClassifier  # noqa: E402
from textkit.documents import PARSERS  # noqa: E402
from textkit.formats import ReadOptions  # noqa: E402
from textkit.layout import LayoutPipeline  # noqa: E402
from textkit.models import build_model  # noqa: E402
from textkit.training import autocast_dtype, seed_everything  # noqa: E402

ARCHIVE = Path("fara_forms") / "fara_forms_ocr.tar.gz"
BATCH = 50  # TrainConfig's default batch size
LR = 1e-3  # AdamW's default learning rate in textkit
UNMEASURED = "unmeasured (no GPU)"
parse_ocr_tsv = PARSERS["ocr-tsv"]


# -- machine ---------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    """``uptime``'s load average (1, 5, 15 minutes)."""
    try:
        out = subprocess.run(["uptime"], check=False, capture_output=True, text=True, timeout=5).stdout.strip()
        if "load average" in out:
            return out.split("load average:", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


# -- data ------------------------------------------------------------------------------------------
def read_members(archive: Path) -> list[tuple[str, str, bytes]]:
    """``(member name, class folder, TSV bytes)`` of every page file, all in memory."""
    files = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith(".tsv"):
                files.append((member.name, member.name.split("/")[-2], tar.extractfile(member).read()))
    return files


def parse_all(files, options: ReadOptions) -> list:
    return [page for name, _, data in files for page in parse_ocr_tsv(data, name, options)]


def timed(fn) -> tuple[float, object]:
    gc.collect()  # garbage of the previous contender is not this one's cost
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


# -- 1. grids from TSV ------------------------------------------------------------------------------
def grid_rows(files, repeats: int) -> tuple[list[dict], dict]:
    options = ReadOptions()
    pages = parse_all(files, options)  # warm-up, and the pages to fit on
    fit_times = []
    for _ in range(repeats):
        seconds, pipe = timed(lambda: LayoutPipeline().fit(pages))
        fit_times.append(seconds)
    pipe.transform(pages[:20])  # warm-up: lazy imports (ftfy for the odd mojibake word), regex compilation
    contenders = {
        "parse": lambda: parse_all(files, options),
        "parse+transform": lambda: pipe.transform(parse_all(files, options)),
        "parse+encode": lambda: pipe.encode(parse_all(files, options)),
        "transform": lambda: pipe.transform(pages),
        "encode": lambda: pipe.encode(pages),
    }
    samples: dict[str, list[float]] = {key: [] for key in contenders}
    for _ in range(repeats):  # contenders take turns: a busy minute hits them alike
        for key, fn in contenders.items():
            seconds, result = timed(fn)
            samples[key].append(seconds)
            del result
    best = {key: min(values) for key, values in samples.items()}
    grids = pipe.transform(pages)
    encoded = pipe.encode(pages)
    n = len(pages)
    info = {"pages": n, "words": sum(len(p.words) for p in pages), "vocab": len(pipe.vocab),
            "grid_shape": list(grids.ids.shape), "grid_mb": grids.ids.numel() * grids.ids.element_size() / 1e6,
            "tokens_placed": int(encoded.lengths.sum()), "tokens_lost": int(encoded.lost.sum()),
            "sparse_mb": (encoded.flat.nbytes + encoded.positions.nbytes) / 1e6,
            "fit_s": min(fit_times), "transform_alone_s": best["transform"], "encode_alone_s": best["encode"],
            "parse_s": best["parse"]}
    del grids, encoded
    parse = (f"parse_ocr_tsv, {len(files)} TSV files from memory -> Page", best["parse"], n)
    shape = "x".join(map(str, info["grid_shape"]))
    rows = [
        row(f"parse_ocr_tsv + LayoutPipeline.transform -> dense GridBatch ({shape} int64, "
            f"{info['grid_mb']:.0f} MB), 1 process", best["parse+transform"], n, *parse, 0.5),
        row(f"parse_ocr_tsv + LayoutPipeline.encode -> sparse EncodedGrids ({info['sparse_mb']:.1f} MB; "
            "what fit() trains from)", best["parse+encode"], n, *parse, None),
        row(f"LayoutPipeline().fit({n} pages) (vocabulary; once, before and outside the rows above)",
            info["fit_s"], n, *parse, None),
    ]
    for r, key in zip(rows, ("parse+transform", "parse+encode")):
        r["samples_s"] = {"textkit": [round(x, 4) for x in samples[key]],
                          "reference": [round(x, 4) for x in samples["parse"]]}
    info["samples_s"] = {key: [round(x, 4) for x in values] for key, values in samples.items()}
    return rows, {"pages": pages, "labels": [cls for _, cls, _ in files], "info": info}


# -- 2. training ------------------------------------------------------------------------------------
def bare_loop(model, grids, lengths, labels, *, epochs: int, device: torch.device, amp_dtype, seed: int
              ) -> list[float]:
    """What one writes by hand over prebuilt dense grids: shuffle, slice, forward, loss, backward,
    step. Returns each epoch's seconds."""
    model.to(device).train()
    # on a GPU the whole tensor goes there once (118 MB for the 600 pages), before the clock:
    # batches are then indexed on the device, the fastest a hand-written loop feeds a GPU
    grids, lengths, labels = grids.to(device), lengths.to(device), labels.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    n, times = len(labels), []
    for _ in range(epochs):
        started = time.perf_counter()
        order = torch.randperm(n, generator=generator).to(device)
        total = torch.zeros((), device=device)
        for start in range(0, n, BATCH):
            index = order[start:start + BATCH]
            ids, lens, y = grids[index], lengths[index], labels[index]
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                logits = model(ids, lens)
            loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach()
        float(total)  # one read per epoch (a GPU sync: the epoch's work is done when the clock stops)
        times.append(time.perf_counter() - started)
    return times


def reference_run(pages, targets, num_classes, *, epochs, device, amp_dtype, seed) -> tuple[list[float], float]:
    """The hand-written reference from pages: fit + transform (wall only), then its epochs."""
    started = time.perf_counter()
    pipe = LayoutPipeline().fit(pages)
    grids = pipe.transform(pages)
    seed_everything(seed)  # the same initial weights as TextClassifier's model
    model = build_model("grid", vocab_size=pipe.num_embeddings, num_classes=num_classes)
    epoch_s = bare_loop(model, grids.ids, grids.lengths, targets, epochs=epochs, device=device,
                        amp_dtype=amp_dtype, seed=seed)
    return epoch_s, time.perf_counter() - started


def textkit_run(pages, labels, *, device: str, seed: int, **options) -> tuple[list[float], float, int]:
    """``TextClassifier("grid", **options).fit``: (epoch seconds, wall seconds of fit, training pages)."""
    clf = TextClassifier("grid", device=device, seed=seed, progress=False, **options)
    started = time.perf_counter()
    clf.fit(pages, labels)
    wall = time.perf_counter() - started
    n_train = len(pages) - math.ceil(clf.valid_split * len(pages))  # as TextClassifier._split holds out
    return [record["seconds"] for record in clf.history_], wall, n_train


def train_rows(pages, labels, *, device_name: str, threads: int, epochs: int, repeats: int,
               seed: int) -> list[dict]:
    where = f"{device_name}, {threads} thread{'s' * (threads > 1)}"
    label = (f"grid CNN, {len(pages)} FARA pages, batch {BATCH}, {epochs} epoch{'s' * (epochs > 1)} x {repeats} "
             f"rounds, {where}")
    names = [f"{label}: same math (TextClassifier, no buckets, no clipping, fp32, valid_split=0)",
             f"{label}: textkit defaults (valid_split 0.1, buckets, clip 5, AMP on CUDA), train epochs",
             f"{label}: textkit defaults, fit() wall time (vocabulary, encode, epochs, validation)"]
    if device_name.startswith("cuda") and not torch.cuda.is_available():
        return [row(name, None, 0, UNMEASURED, None, 0, target) for name, target in zip(names, (0.9, None, None))]
    torch.set_num_threads(threads)
    device = torch.device(device_name)
    classes = sorted(set(labels))
    targets = torch.tensor([classes.index(label) for label in labels])
    n = len(pages)
    amp = autocast_dtype(device, True)  # what textkit's amp=True uses on this device (None on CPU)
    same = {"epochs": epochs, "bucket": False, "clip_norm": None, "amp": False, "valid_split": 0, "patience": None}
    defaults = {"epochs": epochs}
    # every epoch's seconds (training loops) and every fit's wall seconds, per contender
    samples: dict[str, list[float]] = {"ref": [], "ref_amp": [], "same": [], "defaults": [],
                                       "ref_wall": [], "defaults_wall": []}
    wall_pages = {"ref_wall": [], "defaults_wall": []}  # training pages x epochs run, per fit
    # warm-up, untimed: the first convolutions of a batch shape set up their kernels (oneDNN, cuDNN);
    # 90 pages make a batch of 50 and one of 40, the last batch of the defaults' 540 training pages
    warm_pipe = LayoutPipeline().fit(pages)
    warm = warm_pipe.transform(pages[:2 * BATCH - 10])
    for dtype in {None, amp}:
        model = build_model("grid", vocab_size=warm_pipe.num_embeddings, num_classes=len(classes))
        bare_loop(model, warm.ids, warm.lengths, targets[:2 * BATCH - 10], epochs=1, device=device,
                  amp_dtype=dtype, seed=seed)
    del warm_pipe, warm, model
    for _ in range(repeats):  # contenders take turns, best epoch of all rounds
        gc.collect()
        epoch_s, seconds = reference_run(pages, targets, len(classes), epochs=epochs, device=device,
                                         amp_dtype=None, seed=seed)
        samples["ref"] += epoch_s
        if amp is not None:  # on CUDA the defaults rows get a reference under the same autocast
            gc.collect()
            epoch_s, seconds = reference_run(pages, targets, len(classes), epochs=epochs, device=device,
                                             amp_dtype=amp, seed=seed)
            samples["ref_amp"] += epoch_s
        samples["ref_wall"].append(seconds)  # CPU: the fp32 reference's wall time
        wall_pages["ref_wall"].append(n * epochs)
        gc.collect()
        epoch_s, _, _ = textkit_run(pages, labels, device=device_name, seed=seed, **same)
        samples["same"] += epoch_s
        gc.collect()
        epoch_s, seconds, n_train = textkit_run(pages, labels, device=device_name, seed=seed, **defaults)
        samples["defaults"] += epoch_s
        samples["defaults_wall"].append(seconds)
        wall_pages["defaults_wall"].append(n_train * len(epoch_s))  # early stopping may end a fit sooner
    if amp is None:  # CPU: AMP is off, the fp32 reference is the reference of every row
        samples["ref_amp"] = samples["ref"]
    # best pages/s of each: the fastest epoch, or the fit with the most pages per second of wall time
    best = {key: min(values) for key, values in samples.items() if not key.endswith("_wall")}
    walls = {key: max(zip(samples[key], wall_pages[key]), key=lambda sw: sw[1] / sw[0]) for key in wall_pages}
    held = " held on the GPU" if device.type == "cuda" else ""
    ref_name = f"hand-written loop over prebuilt dense grids{held}, fp32"
    amp_name = ref_name if amp is None else f"hand-written loop{held}, autocast {str(amp).replace('torch.', '')}"
    rows = [
        row(names[0], best["same"], n, ref_name, best["ref"], n, 0.9),
        row(names[1], best["defaults"], n_train, amp_name, best["ref_amp"], n, None),
        row(names[2], walls["defaults_wall"][0], walls["defaults_wall"][1],
            f"{amp_name}: LayoutPipeline fit + transform + {epochs} epoch{'s' * (epochs > 1)}, wall",
            walls["ref_wall"][0], walls["ref_wall"][1], None),
    ]
    for r, keys, what in zip(rows, (("same", "ref"), ("defaults", "ref_amp"), ("defaults_wall", "ref_wall")),
                             ("same math, epoch", "defaults, epoch", "defaults, fit wall")):
        r["short"] = f"{where}, {what}"
        r["samples_s"] = {"textkit": [round(x, 4) for x in samples[keys[0]]],
                          "reference": [round(x, 4) for x in samples[keys[1]]]}
    return rows


# -- output ----------------------------------------------------------------------------------------
def row(name, seconds, pages, ref_name, ref_seconds, ref_pages, target) -> dict:
    measured = seconds is not None and ref_seconds is not None
    speed = pages / seconds if measured else None
    ref_speed = ref_pages / ref_seconds if measured else None
    ratio = speed / ref_speed if measured else None
    return {"benchmark": name, "seconds": seconds, "pages": pages, "pages_per_s": speed,
            "reference": ref_name, "ref_seconds": ref_seconds, "ref_pages": ref_pages, "ref_pages_per_s": ref_speed,
            "ratio": ratio, "target": target,
            "met": None if target is None or ratio is None else ratio >= target}


def print_table(rows: list[dict]) -> None:
    def num(value, fmt):
        return "-" if value is None else format(value, fmt)

    print("| benchmark | s | pages/s | reference | s | pages/s | ratio | target | met |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        target = "-" if r["target"] is None else f">= {r['target']}x"
        met = "info" if r["target"] is None else ("-" if r["met"] is None else ("yes" if r["met"] else "NO"))
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        print(f"| {r['benchmark']} | {num(r['seconds'], '.3f')} | {num(r['pages_per_s'], ',.0f')} | "
              f"{r['reference']} | {num(r['ref_seconds'], '.3f')} | {num(r['ref_pages_per_s'], ',.0f')} | "
              f"{ratio} | {target} | {met} |")


def thread_settings(spec: str, default: int) -> list[int]:
    settings = []
    for part in spec.split(","):
        part = part.strip()
        count = default if part == "default" else int(part)
        if count < 1:
            raise SystemExit(f"--threads: thread counts must be >= 1 or 'default', got {part!r}")
        if count not in settings:
            settings.append(count)
    return settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "corpora",
                        help=f"folder holding {ARCHIVE} (default: ../shared/corpora beside the repo)")
    parser.add_argument("--device", action="append", choices=["cpu", "cuda"],
                        help="device(s) for the training rows, repeatable (default: cpu, and cuda when present)")
    parser.add_argument("--epochs", type=int, default=1,
                        help="CPU training epochs per contender and round (default 1: the run stays near "
                             "4 minutes on a busy 2-core machine; the untimed warm-up makes a first epoch a "
                             "steady one)")
    parser.add_argument("--cuda-epochs", type=int, default=10,
                        help="GPU training epochs per contender and round (default 10: an epoch is 12 steps)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="rounds, contenders in turn; best of them counts (default 3)")
    parser.add_argument("--threads", default="1,default",
                        help="comma-separated torch thread counts for the CPU training rows "
                             f"('default': torch's own, here {torch.get_num_threads()})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-grids", action="store_true", help="only the training rows")
    parser.add_argument("--skip-train", action="store_true", help="only the grid-building rows")
    parser.add_argument("--json", type=Path, default=None, help="also write every number to this JSON file")
    args = parser.parse_args()
    if min(args.epochs, args.cuda_epochs, args.repeats) < 1:
        raise SystemExit("--epochs, --cuda-epochs and --repeats must be >= 1")
    default_threads = torch.get_num_threads()
    threads = thread_settings(args.threads, default_threads)
    devices = args.device or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    archive = args.data / ARCHIVE
    if not archive.is_file():
        raise SystemExit(f"{archive}: not found; pass --data, the folder holding {ARCHIVE}")

    load_before = load_average()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    print(f"command: python {' '.join(sys.argv)}")
    print(f"CPU: {cpu_model()} ({os.cpu_count()} cores), GPU: {gpu}; torch {torch.__version__}, "
          f"default threads {default_threads}; numpy {np.__version__}; Python {platform.python_version()}")
    print(f"load average (uptime) at start: {load_before}")
    # torch imports torch._dynamo lazily on the first optimizer (seconds): pay it before any clock starts
    torch.optim.AdamW([torch.zeros(1, requires_grad=True)], lr=LR)

    started = time.perf_counter()
    files = read_members(archive)
    mb = sum(len(data) for _, _, data in files) / 1e6
    print(f"data: {archive}: {len(files)} TSV files, {mb:.1f} MB, read into memory in "
          f"{time.perf_counter() - started:.2f} s before any clock (gzip + tar time excluded from every row); "
          f"best of {args.repeats}, seed {args.seed}\n")

    rows: list[dict] = []
    torch.set_num_threads(1)  # grid building is NumPy and Python in one process
    if args.skip_grids:
        pages = parse_all(files, ReadOptions())
        data = {"pages": pages, "labels": [cls for _, cls, _ in files], "info": {}}
    else:
        grid, data = grid_rows(files, args.repeats)
        rows += grid
    if not args.skip_train:
        for device in devices:
            for count in (threads if device == "cpu" else [default_threads]):
                rows += train_rows(data["pages"], data["labels"], device_name=device, threads=count,
                                   epochs=args.epochs if device == "cpu" else args.cuda_epochs,
                                   repeats=args.repeats, seed=args.seed)
                print(f"(done: training rows on {device}, {count} thread(s); load {load_average()})",
                      file=sys.stderr)

    load_after = load_average()
    print_table(rows)
    info = data["info"]
    if info:
        print(f"\npages {info['pages']}, words {info['words']:,}, vocabulary {info['vocab']:,}, tokens placed "
              f"{info['tokens_placed']:,} (lost to full cells: {info['tokens_lost']}); alone, on pages already "
              f"parsed: transform {info['transform_alone_s']:.3f} s, encode {info['encode_alone_s']:.3f} s, "
              f"parse {info['parse_s']:.3f} s")
    for r in rows:
        if "short" in r:  # every epoch (or fit) measured: how much the load moved them
            spread = "; ".join(f"{who} {min(v):.3f}-{max(v):.3f} s over {len(v)}" for who, v in r["samples_s"].items())
            print(f"seconds measured, {r['short']}: {spread}")
    print(f"load average (uptime) at start: {load_before}; at end: {load_after}; "
          f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        payload = {"command": " ".join(sys.argv), "cpu": cpu_model(), "cores": os.cpu_count(), "gpu": gpu,
                   "torch": torch.__version__, "default_threads": default_threads, "load_before": load_before,
                   "load_after": load_after, "epochs": args.epochs, "cuda_epochs": args.cuda_epochs,
                   "repeats": args.repeats, "seed": args.seed,
                   "data": {"archive": str(archive), "files": len(files), "mb": mb, **info}, "rows": rows}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
        print(f"numbers written to {args.json}")


if __name__ == "__main__":
    main()
