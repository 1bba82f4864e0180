"""textkit.export and textkit.onnx_predictor: every model exports to ONNX with dynamic batch and
length, its logits match PyTorch's within 1e-4 on real texts, the predictor runs without torch,
and a pipeline that is not the exported one is refused."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from textkit import TextClassifier
from textkit.export import export
from textkit.onnx_predictor import OnnxPredictor

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, shared cores
TEXTS = ["a great fun film", "an awful boring film", "great acting and a fine plot", "boring plot, awful end",
         "fun fun fun", "dull"] * 8
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"] * 8
PROBE = ["a great film with a boring end and more words than any training text had, fun", "dull", "",
         "unseen words only", "great"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory, one_thread) -> dict:
    out = {}
    for model in ("bow", "cnn", "rnn"):
        clf = TextClassifier(model, epochs=2, valid_split=0, progress=False, device="cpu").fit(TEXTS, LABELS)
        folder = tmp_path_factory.mktemp("export") / model
        out[model] = (clf, folder, export(clf, folder, quantize="int8"))
    return out


@pytest.mark.parametrize("model", ["bow", "cnn", "rnn"])
def test_onnx_logits_match_pytorch_on_any_batch_and_length(exported, model):
    clf, folder, info = exported[model]
    predictor = OnnxPredictor(folder)
    expected = clf._logits_of(clf.pipeline_.encode(PROBE))  # PyTorch, as predict_proba runs it
    for batch_size in (1, 2, 5):  # batches of other sizes and widths than the traced (2, 6)
        assert np.abs(predictor.logits(PROBE, batch_size=batch_size) - expected).max() <= 1e-4
    assert predictor.predict(PROBE) == clf.predict(PROBE)
    assert info["max_abs_logit_difference"] <= 1e-4 and info["classes"] == ["neg", "pos"]
    assert set(info["files"].values()) | {"pipeline.json", "export.json"} <= {p.name for p in folder.iterdir()}


def test_the_predictor_imports_no_torch(exported):
    folder = exported["cnn"][1]
    code = (f"import sys; from textkit.onnx_predictor import OnnxPredictor; "
            f"p = OnnxPredictor({str(folder)!r}); print(p.predict(['a great film'])[0]); "
            f"assert 'torch' not in sys.modules, 'torch was imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() in ("pos", "neg")


def test_int8_stores_a_byte_a_weight_and_predicts_as_fp32_does(tmp_path):
    """A quarter of the fp32 file is the floor (one byte for four), plus the graph and the scales."""
    texts = [" ".join(f"w{(i * 7 + j * 13) % 3000}" for j in range(12)) for i in range(600)]
    labels = [i % 3 for i in range(600)]
    clf = TextClassifier("bow", epochs=1, valid_split=0, progress=False, device="cpu").fit(texts, labels)
    info = export(clf, tmp_path / "bow", quantize="int8")
    assert info["sizes"]["int8"] <= info["sizes"]["model"] / 4 + 20_000, info["sizes"]
    predictor = OnnxPredictor(tmp_path / "bow", int8=True)
    agree = np.mean(np.asarray(predictor.predict(texts[:200])) == np.asarray(clf.predict(texts[:200])))
    assert agree >= 0.95


def test_a_pipeline_from_another_export_is_refused(exported, tmp_path):
    folder = tmp_path / "mixed"
    shutil.copytree(exported["bow"][1], folder)
    shutil.copy(exported["rnn"][1] / "pipeline.json", folder / "pipeline.json")
    with pytest.raises(ValueError, match=r"pipeline\.json' is not the pipeline exported with model\.onnx \(its "
                                         r"vocabulary has [\d,]+ rows, the model's [\d,]+"):
        OnnxPredictor(folder)
    shutil.copytree(exported["bow"][1], tmp_path / "edited")
    with open(tmp_path / "edited" / "model.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match=r"model\.onnx' was changed after it was exported"):
        OnnxPredictor(tmp_path / "edited")
    with pytest.raises(FileNotFoundError, match=r"export\.json' does not exist: .* is not a textkit export folder"):
        OnnxPredictor(tmp_path)


def test_the_grid_model_exports_too(tmp_path):
    from test_layout import make_position_pages, quick_grid

    pages, labels = make_position_pages(40, seed=0)
    clf = quick_grid(epochs=1).fit(pages, labels)
    info = export(clf, tmp_path / "grid")
    assert info["inputs"] == "pages" and info["max_abs_logit_difference"] <= 1e-4


def test_an_averaged_model_exports_as_one_graph(tmp_path):
    clf = TextClassifier("cnn", model_config={"members": 3}, epochs=1, valid_split=0, progress=False,
                         device="cpu").fit(TEXTS, LABELS)
    info = export(clf, tmp_path / "three")
    expected = clf._logits_of(clf.pipeline_.encode(PROBE))
    assert np.abs(OnnxPredictor(tmp_path / "three").logits(PROBE) - expected).max() <= 1e-4
    assert info["max_abs_logit_difference"] <= 1e-4


def test_cli_export_writes_the_folder_and_refuses_an_existing_one(exported, tmp_path, capsys):
    from textkit.cli import main

    clf = exported["bow"][0]
    clf.save(tmp_path / "model")
    assert main(["export", str(tmp_path / "model"), "--out", str(tmp_path / "onnx"), "--quantize", "int8"]) == 0
    assert "largest logit difference from PyTorch" in capsys.readouterr().out
    info = json.loads((tmp_path / "onnx" / "export.json").read_text(encoding="utf-8"))
    assert info["files"] == {"model": "model.onnx", "int8": "model.int8.onnx"}
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["export", str(tmp_path / "model"), "--out", str(tmp_path / "taken")]) == 2
    assert (tmp_path / "taken" / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_a_model_no_exporter_can_trace_is_refused_naming_it_and_both_reasons(exported, tmp_path, monkeypatch):
    import torch

    def cannot(*args, dynamo=True, **kwargs):
        raise RuntimeError("aten::made_up_op is not supported" if dynamo else "embedding_bag with padding_idx")

    monkeypatch.setattr(torch.onnx, "export", cannot)
    with pytest.raises(ValueError, match=r"cannot export model 'rnn' to ONNX: torch\.export: RuntimeError: "
                                         r"aten::made_up_op is not supported; TorchScript: RuntimeError: "
                                         r"embedding_bag with padding_idx$"):
        export(exported["rnn"][0], tmp_path / "out")
    assert not (tmp_path / "out").exists() and list(tmp_path.iterdir()) == []  # nothing half-written
