"""``textkit corpora``, ``textkit preprocess`` and ``textkit ocr``: what goes in before training."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .common import (
    pipeline_options,
    read_options,
    say,
)

# ---------------------------------------------------------------- corpora


def cmd_corpora(args: argparse.Namespace) -> int:
    from ..corpora import DATA_ENV, list_corpora

    entries = list_corpora()
    if args.json:
        say(json.dumps(entries, ensure_ascii=False, indent=1))
        return 0
    rows = [("NAME", "CLASSES", "FOUND", "WHERE")]
    for e in entries:
        where = e["location"] or "-"
        if e["found"] == "hub":
            where += "  (hub: not checked, needs the network)"
        if e["missing_files"]:
            where += f"  (lacks {', '.join(e['missing_files'])}: load the other splits with split=)"
        rows.append((e["name"], str(e["classes"]), e["found"], where))
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    for row in rows:
        say("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[3])
    root = os.environ.get(DATA_ENV)
    say(f"\n${DATA_ENV} = {root}" if root else
        f"\n${DATA_ENV} is not set: set it to a folder holding <name>/ folders to use local copies")
    return 0


# ---------------------------------------------------------------- preprocess

def cmd_preprocess(args: argparse.Namespace) -> int:
    from ..outputs import check_output_directory

    check_output_directory(Path(args.out), overwrite=args.overwrite, kind="preprocess")  # before importing torch
    from ..preprocess import preprocess

    report = preprocess(
        args.inputs, args.out, **read_options(args), pipeline=pipeline_options(args), keep_empty=args.keep_empty,
        shard_size=args.shard_size, output_format=args.output_format, num_proc=args.num_proc,
        overwrite=args.overwrite, progress=args.progress)
    say(f"{'split':<6} {'read':>9} {'written':>9} {'rejected':>9} {'tokens':>11} {'unk':>6}  shards")
    for split, s in report["splits"].items():
        unk = f"{100 * s['unk_tokens'] / s['tokens']:.1f}%" if s["tokens"] else "-"
        say(f"{split:<6} {s['rows_read']:>9,} {s['rows_written']:>9,} {s['rows_rejected']:>9,} {s['tokens']:>11,} "
            f"{unk:>6}  {len(s['shards'])}")
    labels = sorted(report["labels"], key=str)  # sorted, as train and evaluate list them (report.json: id order)
    say(f"vocabulary {report['vocab_size']:,} (fit on {report['vocab_fit_on']}); {len(labels)} labels "
        f"{', '.join(labels)}")
    rejected = report["rejected"]
    if rejected["count"]:
        reasons = "; ".join(f"{n:,} {reason}" for reason, n in rejected["by_reason"].items())
        say(f"rejected {rejected['count']:,} rows ({reasons}): see {Path(args.out) / rejected['file']}")
    say(f"wrote {args.out}/ ({report['seconds']:.1f} s, {report['num_proc']} processes)")
    return 0


# ---------------------------------------------------------------- ocr

def cmd_ocr(args: argparse.Namespace) -> int:
    from ..ocr import ocr

    def failed(path, reason) -> None:
        print(f"textkit: warning: {path}: {reason}; skipped", file=sys.stderr)

    try:
        report = ocr(args.inputs, args.out, dpi=args.dpi, lang=args.lang, psm=args.psm, max_pages=args.max_pages,
                     num_proc=args.num_proc, progress=args.progress, on_failure=failed, tesseract=args.tesseract)
    except ImportError as error:  # pypdfium2, an optional extra, for PDFs: a fix to name, not a bug
        raise ValueError(str(error)) from None
    done, skipped, bad = report["done"], report["skipped"], report["failed"]
    say(f"ocr: {done:,} files OCR'd ({report['pages']:,} pages), {skipped:,} already done, {len(bad):,} failed; "
        f"wrote {Path(args.out)}/ ({report['seconds']:.0f} s, {report['num_proc']} processes)")
    if bad:
        say(f"failed (nothing written for them; fix or remove them, then rerun to finish): "
            f"{', '.join(str(f['input']) for f in bad[:5])}{' ...' if len(bad) > 5 else ''}")
        return 1
    return 0
