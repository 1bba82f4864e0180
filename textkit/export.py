"""A trained classifier -> an ONNX model beside its pipeline, for a service without PyTorch.

::

    export("runs/sst2", "sst2-onnx", quantize="int8")     # textkit export runs/sst2 --out sst2-onnx --quantize int8
    predictor = OnnxPredictor("sst2-onnx")                 # textkit.onnx_predictor: no torch import
    predictor.predict(["a fine film"])                     # ['positive']

Output folder::

    model.onnx        the model: inputs ids (B, T) int64 and lengths (B,) int64 (a grid model:
                      ids (B, H, W, S)), output logits (B, C); batch and length are dynamic
    model.int8.onnx   with quantize="int8": the same model, weights stored as int8
                      (ONNX Runtime's dynamic quantization: embedding tables, linear and conv layers)
    pipeline.json     the classifier's pipeline, as saved
    export.json       classes, the input layout, the vocabulary size, sha256 of each file, and the
                      largest logit difference from PyTorch measured at export

The export is checked before it is written: ONNX Runtime's logits on two random batches of
other shapes than the one traced must match PyTorch's within 1e-4, or the export is refused.
torch's ``torch.export``-based exporter is tried first and the TorchScript one second (the bag
of embeddings exports only with the first, the packed LSTM only with the second); a model
neither can trace is refused naming it and both reasons.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .fileio import file_sha256, json_sha256, read_json
from .onnx_predictor import EXPORT_FILE, FORMAT, FORMAT_VERSION, PIPELINE_FILE

if TYPE_CHECKING:
    from .classifier import TextClassifier

MODEL_FILE, INT8_FILE = "model.onnx", "model.int8.onnx"
TOLERANCE = 1e-4  # the largest |logit difference| from PyTorch an export may show
QUANTIZATIONS = ("int8",)


def export(source: str | os.PathLike | TextClassifier, out: str | os.PathLike, *, quantize: str | None = None,
           overwrite: bool = False) -> dict[str, Any]:
    """Write ``out`` (see the module doc) for a saved classifier directory or a fitted
    ``TextClassifier``; returns what ``export.json`` holds."""
    from .classifier import TextClassifier
    from .outputs import atomic_directory, check_output_directory

    import importlib.util

    missing = [name for name in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"export needs {', '.join(missing)}: pip install 'textkit[export]'")
    if quantize not in (None, *QUANTIZATIONS):
        raise ValueError(f"quantize must be None or one of {QUANTIZATIONS}, got {quantize!r}")
    out = Path(out)
    check_output_directory(out, overwrite=overwrite, kind="export")
    clf = source if isinstance(source, TextClassifier) else TextClassifier.load(source, device="cpu")
    if clf.model_ is None:
        raise RuntimeError("export: this TextClassifier is not fitted: fit or load one first")
    model = clf.model_.cpu().eval()
    with atomic_directory(out, overwrite=overwrite, kind="export") as tmp:
        error = _trace(model, clf, tmp / MODEL_FILE)
        clf.pipeline_.save(tmp / PIPELINE_FILE)
        files = {"model": MODEL_FILE}
        if quantize == "int8":
            _quantize(tmp / MODEL_FILE, tmp / INT8_FILE)
            files["int8"] = INT8_FILE
        info = {
            "format": FORMAT, "version": FORMAT_VERSION, "textkit_version": __version__,
            "model": model.name, "classes": list(clf.classes_), "multi_label": clf.multi_label,
            "threshold": None if clf.threshold_ is None else np.asarray(clf.threshold_).tolist(),
            "inputs": "pages" if clf.reads_pages else "texts", "vocab_size": clf.pipeline_.num_embeddings,
            "files": files, "max_abs_logit_difference": error,
            "sizes": {name: (tmp / file).stat().st_size for name, file in files.items()},
            "sha256": {**{file: file_sha256(tmp / file) for file in files.values()},
                       PIPELINE_FILE: json_sha256(read_json(tmp / PIPELINE_FILE, name="pipeline")[0])},
        }
        (tmp / EXPORT_FILE).write_text(json.dumps(info, indent=1, ensure_ascii=False), encoding="utf-8")
    return info


def _example(clf: TextClassifier, batch: int, length: int, seed: int):
    """Random ids of the model's input layout: (B, T), or (B, H, W, S) for pages."""
    import torch

    rng = np.random.default_rng(seed)
    vocab = clf.pipeline_.num_embeddings
    if clf.reads_pages:
        shape = (batch, *clf.pipeline_.shape)
        ids = rng.integers(2, vocab, size=shape) * (rng.random(shape) < 0.2)  # a sparse page
        lengths = (ids != 0).reshape(batch, -1).sum(axis=1)
    else:
        length = max(length, getattr(clf.model_, "min_length", 1))
        lengths = rng.integers(1, length + 1, size=batch)
        lengths[0] = length
        ids = rng.integers(2, vocab, size=(batch, length)) * (np.arange(length) < lengths[:, None])
    return torch.from_numpy(ids.astype(np.int64)), torch.from_numpy(lengths.astype(np.int64))


def _trace(model, clf: TextClassifier, path: Path) -> float:
    """Export ``model`` to ``path`` with the first exporter whose result checks out; its error."""
    import torch

    ids, lengths = _example(clf, 2, 6, seed=0)
    batch, time = torch.export.Dim("batch", min=1), torch.export.Dim("time", min=1)
    text = not clf.reads_pages
    attempts = [
        ("torch.export", dict(dynamo=True, external_data=False, verbose=False,  # one file, no progress lines
                              dynamic_shapes=({0: batch, **({1: time} if text else {})}, {0: batch}))),
        ("TorchScript", dict(dynamo=False, dynamic_axes={"ids": {0: "batch", **({1: "time"} if text else {})},
                                                         "lengths": {0: "batch"}, "logits": {0: "batch"}})),
    ]
    reasons = []
    for name, options in attempts:
        try:
            with warnings.catch_warnings(), _quiet_exporter():
                warnings.simplefilter("ignore")
                torch.onnx.export(model, (ids, lengths), str(path), input_names=["ids", "lengths"],
                                  output_names=["logits"], **options)
            error = _check_logits(model, clf, path)
            if error is not None:
                return error
            reasons.append(f"{name}: its logits differ from PyTorch's by more than {TOLERANCE}")
        except Exception as e:  # each exporter raises its own kinds; the message names both
            reasons.append(f"{name}: {type(e).__name__}: {str(e).strip().splitlines()[0][:200]}")
        path.unlink(missing_ok=True)
    raise ValueError(f"cannot export model {model.name!r} to ONNX: {'; '.join(reasons)}")


def _check_logits(model, clf: TextClassifier, path: Path) -> float | None:
    """ONNX Runtime against PyTorch on two batches of shapes other than the traced one: the
    largest |logit difference|, or None when it is over ``TOLERANCE``."""
    import onnxruntime as ort
    import torch

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for batch, length, seed in ((3, 11, 1), (5, 4, 2)):
        ids, lengths = _example(clf, batch, length, seed)
        with torch.no_grad():
            expected = model(ids, lengths).float().numpy()
        got = session.run(["logits"], {"ids": ids.numpy(), "lengths": lengths.numpy()})[0]
        worst = max(worst, float(np.abs(got - expected).max()))
    return worst if worst <= TOLERANCE else None


def _quantize(fp32: Path, int8: Path) -> None:
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process is for image models' static quantization
    try:
        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["Gather", "MatMul", "Gemm", "Conv", "LSTM"])
    finally:
        root.setLevel(level)


class _quiet_exporter:
    """torch.onnx's exporters talk: progress lines, a warning per torchvision op they skip, the C++
    shape-inference warnings of a packed LSTM, a whole graph when they fail. The file descriptors
    1 and 2 go to a temporary file meanwhile (the C++ side writes there directly); what matters
    reaches the user as the export's result or its one-line error."""

    def __enter__(self):
        import logging
        import sys
        import tempfile

        self.logger = logging.getLogger("torch.onnx")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)
        sys.stdout.flush()
        sys.stderr.flush()
        self.sink = tempfile.TemporaryFile()
        self.saved = [os.dup(1), os.dup(2)]
        os.dup2(self.sink.fileno(), 1)
        os.dup2(self.sink.fileno(), 2)

    def __exit__(self, *exc):
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self.saved):
            os.dup2(saved, fd)
            os.close(saved)
        self.sink.close()
        self.logger.setLevel(self.level)
