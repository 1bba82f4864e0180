"""Predictions from a ``textkit export`` folder with ONNX Runtime and textkit's text side only:
this module never imports torch (a service needs ``onnxruntime``, numpy and textkit's pure-Python
cleaning, tokenization and vocabulary; ``pip install onnxruntime textkit`` without a torch build
would do, were torch not a dependency of the package as a whole).

::

    predictor = OnnxPredictor("sst2-onnx")                 # int8=True: model.int8.onnx
    predictor.predict(["a fine film", "a dull one"])       # ['positive', 'negative']
    predictor.predict_proba(texts)                         # (N, C) float32, columns in predictor.classes

Loading refuses a folder whose files are not the ones exported together (sha256 of each, in
``export.json``): a ``pipeline.json`` with another vocabulary would index every word wrongly
without a single error.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Hashable, Iterable

import numpy as np

from .fileio import file_sha256, json_sha256, read_json, read_versioned_json
from .pipeline import TextPipeline

FORMAT, FORMAT_VERSION = "textkit.onnx", 1  # what export.py writes (defined here: this module is torch-free)
EXPORT_FILE, PIPELINE_FILE = "export.json", "pipeline.json"


class OnnxPredictor:
    """An exported text classifier (``textkit.export``) run by ONNX Runtime on the CPU."""

    def __init__(self, directory: str | os.PathLike, *, int8: bool = False, threads: int | None = None) -> None:
        import onnxruntime as ort

        directory = Path(directory)
        info, source = read_versioned_json(directory / EXPORT_FILE, name="export", format=FORMAT,
                                           version=FORMAT_VERSION,
                                           missing_hint=f": {str(directory)!r} is not a textkit export folder")
        if info.get("inputs") != "texts":
            raise ValueError(f"{source}: the model reads {info.get('inputs')!r}; OnnxPredictor runs text models")
        file = info["files"].get("int8" if int8 else "model")
        if file is None:
            raise ValueError(f"{source}: no int8 model was exported; export again with quantize='int8'")
        pipeline_data = read_json(directory / PIPELINE_FILE, name="pipeline")[0]
        pipeline = TextPipeline.from_dict(pipeline_data, source=f"pipeline file {str(directory / PIPELINE_FILE)!r}")
        if json_sha256(pipeline_data) != info["sha256"][PIPELINE_FILE]:
            raise ValueError(f"{str(directory / PIPELINE_FILE)!r} is not the pipeline exported with {file} (its "
                             f"vocabulary has {pipeline.num_embeddings:,} rows, the model's {info['vocab_size']:,}, "
                             f"and its content differs): export the classifier again")
        if file_sha256(directory / file) != info["sha256"][file]:
            raise ValueError(f"{str(directory / file)!r} was changed after it was exported: export the classifier "
                             f"again")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(directory / file), options, providers=["CPUExecutionProvider"])
        self.pipeline, self.classes, self.info = pipeline, list(info["classes"]), info

    def logits(self, texts: Iterable[str], batch_size: int = 256) -> np.ndarray:
        """``(N, C)`` float32 logits, texts encoded and padded as in training, ``batch_size`` at a time."""
        texts = list(texts)
        out = []
        for start in range(0, len(texts), batch_size):
            ids, lengths = self.pipeline.padded(texts[start:start + batch_size])
            out.append(self.session.run(["logits"], {"ids": ids, "lengths": lengths})[0])
        return np.concatenate(out) if out else np.zeros((0, len(self.classes)), np.float32)

    def predict_proba(self, texts: Iterable[str], batch_size: int = 256) -> np.ndarray:
        logits = self.logits(texts, batch_size)
        if self.info.get("multi_label"):
            return 1 / (1 + np.exp(-logits))
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, texts: Iterable[str], batch_size: int = 256) -> list[Hashable]:
        probs = self.predict_proba(texts, batch_size)
        if self.info.get("multi_label"):
            cut = np.asarray(self.info.get("threshold") or 0.5)
            return [[c for c, hit in zip(self.classes, row) if hit] for row in probs >= cut]
        return [self.classes[i] for i in probs.argmax(axis=1)]
