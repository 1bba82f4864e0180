"""``textkit export``: a saved model -> ONNX beside its pipeline (textkit.export)."""
from __future__ import annotations

import argparse
from pathlib import Path

from .common import model_directory, say


def cmd_export(args: argparse.Namespace) -> int:
    from ..outputs import check_output_directory

    model_dir = model_directory(args.model_dir)
    check_output_directory(Path(args.out), overwrite=args.overwrite, kind="export")  # before loading anything
    from ..export import export

    info = export(model_dir, args.out, quantize=args.quantize, overwrite=args.overwrite)
    sizes = ", ".join(f"{file} {info['sizes'][name] / 1e6:.2f} MB" for name, file in info["files"].items())
    say(f"exported {info['model']} ({len(info['classes'])} classes): {sizes}; largest logit difference from "
        f"PyTorch {info['max_abs_logit_difference']:.1e}")
    say(f"wrote {args.out}/ (predict without torch: textkit.onnx_predictor.OnnxPredictor({str(args.out)!r}))")
    return 0
