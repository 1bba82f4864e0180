"""The torch thread count textkit picks by default, against fixed choices, idle and under load.

    python scripts/bench_threads.py                  # ~8 minutes on 2 cores
    python scripts/bench_threads.py --texts 1000     # quicker

For each model (bow: tiny; cnn: Kim's; rnn: a BiLSTM) one epoch of ``TextClassifier.fit`` on
TREC questions runs in a fresh process with 1 thread, one per usable core, and the default
(``textkit.threads.default_threads``: the cores no other process is busy on). "loaded" starts
one busy process per core first, as a shared machine has them. Each setting runs --repeats
times, interleaved; the table shows the median and the slowest. The ratio is the default's
median speed over the best fixed choice's median in the same condition: target >= 0.8x in
every row (a 1-3 s fit varies by 10-20% from run to run here); the slowest runs show what a
fixed choice risks (several threads on busy cores: up to 20x slower in some runs).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"bow": {}, "cnn": {}, "rnn": {"bidirectional": True}}


def run_case(model: str, threads: str, texts: int) -> dict:
    """One fit, in this process: seconds of fit and the thread count it ran with."""
    import torch

    import textkit as tk
    from textkit.threads import default_threads

    data = tk.load_corpus("trec")["train"]
    names = data.features["label"].names
    x, y = data["text"][:texts], [names[i] for i in data["label"][:texts]]
    chosen = default_threads() if threads == "default" else int(threads)
    torch.set_num_threads(chosen)
    clf = tk.TextClassifier(model, recipe=None, model_config=MODELS[model], epochs=1, valid_split=0, progress=False,
                            device="cpu")  # recipe=None: the models the recorded table timed
    started = time.perf_counter()
    clf.fit(x, y)
    return {"seconds": time.perf_counter() - started, "threads": chosen}


def measure(model: str, threads: str, texts: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, __file__, "--case", model, threads, str(texts)], capture_output=True,
                          text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"{model} threads={threads} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=2000, help="TREC questions per fit (default 2,000)")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--repeats", type=int, default=3, help="runs of each setting (default 3)")
    parser.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case[0], args.case[1], int(args.case[2]))))
        return

    from textkit.threads import usable_cores

    cores = usable_cores()
    print(f"{cores} usable cores; load {os.getloadavg()[0]:.2f} (1-minute average) at the start")
    worst = float("inf")
    for condition in ("idle", "loaded"):
        hogs = []
        if condition == "loaded":  # one busy process per core, as other users' jobs would be
            hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
            time.sleep(1.0)
        try:
            for model in args.models:
                settings = [*map(str, sorted({1, cores})), "default"]
                runs = {name: [] for name in settings}
                for _ in range(args.repeats):  # interleaved, so that a burst of load hits every setting
                    for name in settings:
                        runs[name].append(measure(model, name, args.texts))
                median = {name: statistics.median(r["seconds"] for r in rs) for name, rs in runs.items()}
                slowest = {name: max(r["seconds"] for r in rs) for name, rs in runs.items()}
                best = min((name for name in settings if name != "default"), key=median.get)
                ratio = median[best] / median["default"]
                worst = min(worst, ratio)
                chosen = sorted({r["threads"] for r in runs["default"]})
                cells = [f"{name if name == 'default' else name + ' thr'}"
                         f"{'(' + ','.join(map(str, chosen)) + ')' if name == 'default' else ''} "
                         f"{median[name]:5.1f} s (max {slowest[name]:5.1f})" for name in settings]
                print(f"  {condition:<7} {model:<4} " + "  ".join(cells) + f"  -> {ratio:.2f}x of the best",
                      flush=True)
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
    print(f"\ntarget: the default's median at >= 0.8x of the best fixed thread count's in every row -> "
          f"{'met' if worst >= 0.8 else 'NOT met'} (worst {worst:.2f}x)")
    print(f"load at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
