"""Peak memory on hostile inputs: archive bombs, one enormous line, thousands of classes.

    python scripts/bench_limits.py            # ~1 minute, ~1 GB of temporary files (removed after)
    python scripts/bench_limits.py --mb 100   # smaller inputs

Each case runs in a fresh process (``--case``, internal) that reports its own peak resident
memory (``ru_maxrss``); the reference is the same entry point, in the same run, on a small
well-formed corpus: what importing textkit and reading anything costs. A case passes when its
peak stays under 1 GB (issue #13's target) and it ends the documented way: refused with one
line naming the file and the flag that raises the limit, or, for the many-classes report,
written small.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 1024
CHUNK = b"the film was fine and the plot was fine " * 25_000  # ~1 MB: text, so gzip inflates it ~300x


# -- the inputs ------------------------------------------------------------------------------------------
class Repeat:
    """A file-like of ``size`` bytes of CHUNK, so a bomb is built without holding it."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        out = (CHUNK * (n // len(CHUNK) + 1))[:n]
        self.left -= n
        return out


def build(root: Path, mb: int) -> dict[str, Path]:
    size = mb << 20
    files = {}
    # the reference: 2,000 well-formed records
    small = root / "small.csv"
    rows = (f"{'pos' if i % 2 else 'neg'},a fine film number {i}\n" for i in range(2000))
    small.write_text("label,text\n" + "".join(rows), encoding="utf-8")
    files["reference"] = small
    # a member larger than max_member_bytes (64 MiB), and one under it that inflates > 100-fold
    for name, member_size in ((f"{mb} MB member", size), ("60 MB member", 60 << 20)):
        tar_path = root / f"bomb-{member_size}.tar.gz"
        with tarfile.open(tar_path, "w:gz") as tar:
            for label in ("pos", "neg"):
                info = tarfile.TarInfo(f"train/{label}/1.txt")
                info.size = 100
                tar.addfile(info, Repeat(100))
            info = tarfile.TarInfo("train/pos/2.txt")
            info.size = member_size
            tar.addfile(info, Repeat(member_size))
        files[f"tar.gz, {name}"] = tar_path
        zip_path = root / f"bomb-{member_size}.zip"
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as z:
            for label in ("pos", "neg"):
                z.writestr(f"train/{label}/1.txt", Repeat(100).read())
            with z.open("train/pos/2.txt", "w", force_zip64=True) as member:
                source = Repeat(member_size)
                while block := source.read(1 << 20):
                    member.write(block)
        files[f"zip, {name}"] = zip_path
    for suffix, prefix in ((".csv", b"label,text\npos,"), (".txt", b"pos ")):
        path = root / f"long_line{suffix}"
        with open(path, "wb") as f:
            f.write(prefix)
            source = Repeat(size)
            while block := source.read(1 << 20):
                f.write(block.replace(b"\n", b" "))
            f.write(b"\n")
        files[f"{mb} MB line ({suffix})"] = path
    return files


# -- one case, in its own process ------------------------------------------------------------------------
def run_case(kind: str, path: str, out: str) -> dict:
    """Run one entry point on ``path``; report the outcome and this process's peak memory."""
    started = time.perf_counter()
    outcome = "ok"
    if kind == "load_corpus":
        import textkit as tk

        try:
            tk.load_corpus(path)
        except Exception as exc:  # noqa: BLE001 - the outcome is what is measured
            outcome = f"{type(exc).__name__}: {exc}"
    elif kind == "preprocess":
        import contextlib
        import io

        from textkit.cli import main

        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            status = main(["preprocess", path, "--out", out, "--num-proc", "1"])
        outcome = "ok" if status == 0 else err.getvalue().strip()
    elif kind == "report":  # 10,000 classes, 200,000 predictions: what evaluate computes and writes
        import numpy as np

        from textkit import metrics

        rng = np.random.default_rng(0)
        classes = int(path)
        y_true = rng.integers(0, classes, 200_000)
        y_pred = np.where(rng.random(200_000) < 0.7, y_true, rng.integers(0, classes, 200_000))
        report = metrics.classification_report(y_true, y_pred, classes, [f"class_{i}" for i in range(classes)])
        Path(out).write_text(json.dumps(report), encoding="utf-8")
        outcome = f"ok: metrics JSON {Path(out).stat().st_size / 1e6:.1f} MB"
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return {"peak_mb": peak_kb / 1024, "seconds": time.perf_counter() - started, "outcome": outcome}


def measure(kind: str, path: Path | str, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, __file__, "--case", kind, str(path), str(out)], capture_output=True,
                          text=True, env=env, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"case {kind} {path} crashed:\n{done.stderr}")
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=int, default=400,
                        help="size of each bomb's member and of the long line (default 400; the limits refuse over "
                             "64 MiB / 16 Mi chars)")
    parser.add_argument("--classes", type=int, default=10_000)
    parser.add_argument("--case", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(*args.case)))
        return

    print(f"load: {os.getloadavg()[0]:.2f} (1-minute average), {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="textkit-bench-limits-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        files = build(root, args.mb)
        sizes = {name: path.stat().st_size for name, path in files.items()}
        print(f"built the inputs in {time.perf_counter() - started:.0f} s: "
              + ", ".join(f"{name} {size / 1e6:,.1f} MB" for name, size in sizes.items()))
        rows, failed = [], False
        for kind in ("load_corpus", "preprocess"):
            reference = measure(kind, files["reference"], root / "out")
            rows.append((kind, "reference (2,000 records)", reference, None))
            for name, path in files.items():
                if name != "reference":
                    result = measure(kind, path, root / "out")
                    rows.append((kind, name, result, result["peak_mb"] / reference["peak_mb"]))
        report_reference = measure("report", 10, root / "metrics.json")
        rows.append(("report", "reference (10 classes)", report_reference, None))
        result = measure("report", args.classes, root / "metrics.json")
        rows.append(("report", f"{args.classes:,} classes", result, result["peak_mb"] / report_reference["peak_mb"]))

    print(f"\n{'entry point':<12} {'case':<28} {'peak MB':>8} {'x ref':>6} {'s':>6}  outcome")
    for kind, name, result, ratio in rows:
        verdict = ""
        if ratio is not None:
            refused = "raise --max-" in result["outcome"] or "raise max_" in result["outcome"]  # CLI or API
            ok = result["peak_mb"] < TARGET_MB and (name.endswith("classes") or refused)
            failed |= not ok
            verdict = "PASS " if ok else "FAIL "
        outcome = result["outcome"]
        outcome = outcome if len(outcome) < 150 else outcome[:70] + " ... " + outcome[-75:]
        print(f"{kind:<12} {name:<28} {result['peak_mb']:>8.0f} {'' if ratio is None else f'{ratio:.2f}':>6} "
              f"{result['seconds']:>6.1f}  {verdict}{outcome}")
    print(f"\ntarget: every hostile case under {TARGET_MB} MB peak and refused with the flag that raises its limit "
          f"(the report: written) -> {'met' if not failed else 'NOT met'}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
