"""TextClassifier end to end: fit/predict/evaluate, save/load, bad input, TREC accuracy."""
from __future__ import annotations

import json
import warnings
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from textkit import TextPipeline
from textkit.classifier import TextClassifier
from textkit.models import MODELS

TREC = Path(__file__).resolve().parents[1] / "textkit" / "data" / "trec"  # the copy the package ships
TREC_NAMES = {"0": "DESC", "1": "ENTY", "2": "ABBR", "3": "HUM", "4": "LOC", "5": "NUM"}

# Tiny separable corpus: each class has its own words.
TEXTS = [
    "the match ended with a late goal", "a great goal in the final match", "the striker scored a goal",
    "the team won the cup match", "stocks fell as markets closed", "the bank raised interest rates",
    "markets rallied on bank earnings", "investors sold stocks today", "the new phone has a fast chip",
    "a laptop with a faster chip", "the phone software update", "chip makers ship new laptop",
]
LABELS = ["sport"] * 4 + ["money"] * 4 + ["tech"] * 4


def quick(model: str = "bow", **options) -> TextClassifier:
    defaults = dict(epochs=40, batch_size=4, lr=0.02, valid_split=0, patience=None, progress=False, device="cpu")
    return TextClassifier(model, **{**defaults, **options})


def read_trec(name: str) -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in (TREC / name).read_text(encoding="latin-1").splitlines():
        label, text = line.split(" ", 1)
        texts.append(text)
        labels.append(TREC_NAMES[label])
    return texts, labels


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, shared cores


@pytest.fixture(scope="module")
def fitted(one_thread) -> TextClassifier:
    return quick("bow", epochs=15).fit(TEXTS, LABELS)


# -- fit / predict / evaluate ----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(name for name, model in MODELS.items() if model.inputs == "text"))
def test_every_registered_text_model_overfits_a_small_batch(name):
    """(the grid model, which reads pages, has its own in test_layout.py)"""
    clf = quick(name).fit(TEXTS, LABELS)
    assert clf.predict(TEXTS) == LABELS
    assert clf.evaluate(TEXTS, LABELS)["accuracy"] == 1.0


def test_predict_proba_and_evaluate_report(fitted):
    probs = fitted.predict_proba(["a goal in the match", "stocks and banks", ""])
    assert probs.shape == (3, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert fitted.classes_ == ["money", "sport", "tech"]  # sorted; the column order of predict_proba
    assert fitted.predict(["a goal in the match", "stocks and banks"]) == ["sport", "money"]
    assert fitted.predict_proba([]).shape == (0, 3)
    report = fitted.evaluate(TEXTS[:6], LABELS[:6])
    assert {"accuracy", "macro_f1", "micro_f1", "weighted_f1", "per_class", "confusion_matrix"} <= set(report)
    assert report["labels"] == ["money", "sport", "tech"]
    assert report["per_class"]["support"] == [2, 4, 0]
    assert np.array(report["confusion_matrix"]).sum() == 6


def test_int_labels_are_kept_as_ints(tmp_path):
    labels = [{"sport": 3, "money": 10, "tech": 7}[label] for label in LABELS]
    clf = quick("bow", epochs=15).fit(TEXTS, labels)
    assert clf.classes_ == [3, 7, 10]
    clf.save(tmp_path)
    assert TextClassifier.load(tmp_path).predict(TEXTS[:2]) == [3, 3]


def test_vocabulary_is_fitted_on_training_texts_only():
    clf = quick("bow", epochs=2).fit(TEXTS, LABELS, valid=(["zebra goal"], ["sport"]))
    assert "goal" in clf.pipeline_.vocab and "zebra" not in clf.pipeline_.vocab
    assert clf.history_[-1]["valid_accuracy"] in (0.0, 1.0)  # the valid set was used for validation


def test_a_given_pipeline_is_copied_not_fitted_in_place_and_out_dir_gets_the_history(tmp_path):
    template = TextPipeline(max_length=30)
    clf = quick("cnn", recipe=None, epochs=2, pipeline=template, out_dir=tmp_path).fit(TEXTS, LABELS)  # narrow
    assert template.vocab is None and clf.pipeline_.vocab is not None
    assert clf.pipeline_.min_length == clf.model_.min_length == 5  # batches as wide as the widest kernel
    assert len((tmp_path / "history.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "checkpoint.pt").exists()


def test_validation_split_is_seeded_and_stratified():
    texts = [f"text {i}" for i in range(100)]
    labels = ["a"] * 70 + ["b"] * 30
    clf = quick("bow", valid_split=0.1, seed=3)
    first = clf._split(texts, labels, ["a", "b"], 3)
    assert first == clf._split(texts, labels, ["a", "b"], 3)
    assert first != clf._split(texts, labels, ["a", "b"], 4)
    train_texts, train_labels, valid_texts, valid_labels = first
    assert len(valid_texts) == 10 and valid_labels.count("b") == 3  # 30% of b, like the whole set
    assert not set(train_texts) & set(valid_texts)


def test_split_with_a_singleton_class_warns_and_trains_without_validation():
    with pytest.warns(UserWarning, match=r"valid_split=0.1 skipped: class\(es\) \['tech'\] have a single example"):
        clf = quick("bow", epochs=2, valid_split=0.1).fit(TEXTS[:9], LABELS[:9])
    assert "valid_loss" not in clf.history_[-1]


def test_multi_label_predicts_label_lists_with_a_tuned_threshold(tmp_path):
    rng = np.random.default_rng(0)
    words = {"red": "colour", "blue": "colour", "cat": "animal", "dog": "animal", "six": "number", "ten": "number"}
    texts, labels = [], []
    for _ in range(300):
        chosen = rng.choice(list(words), size=int(rng.integers(0, 4)), replace=False).tolist()
        texts.append(" ".join(chosen + ["the", "a", "of"][: int(rng.integers(1, 4))]))
        labels.append(sorted({words[w] for w in chosen}))
    clf = TextClassifier("bow", multi_label=True, threshold="tune", epochs=20, lr=0.02, batch_size=16,
                         progress=False, device="cpu", monitor="loss")
    clf.fit(texts[:250], labels[:250])
    assert 0 < clf.threshold_ < 1
    predicted = clf.predict(texts[250:])
    assert all(isinstance(row, list) for row in predicted)
    report = clf.evaluate(texts[250:], labels[250:])
    assert report["micro_f1"] >= 0.95 and report["labels"] == ["animal", "colour", "number"]
    assert clf.predict(["red cat the a", "ten of"]) == [["animal", "colour"], ["number"]]
    clf.save(tmp_path)
    loaded = TextClassifier.load(tmp_path)
    assert loaded.threshold_ == clf.threshold_ and loaded.predict(texts[250:]) == predicted


# -- save / load -----------------------------------------------------------------------------------
def test_save_load_gives_identical_predictions(fitted, tmp_path):
    fitted.save(tmp_path / "clf")
    assert sorted(p.name for p in (tmp_path / "clf").iterdir()) == ["config.json", "model.safetensors",
                                                                     "pipeline.json"]
    loaded = TextClassifier.load(tmp_path / "clf", device="cpu")  # the device it was fitted on
    probe = TEXTS + ["an unseen sentence about nothing", ""]
    np.testing.assert_array_equal(loaded.predict_proba(probe), fitted.predict_proba(probe))
    assert loaded.predict(probe) == fitted.predict(probe)
    assert loaded.classes_ == fitted.classes_
    config = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert config["version"] == 1 and config["model"]["name"] == "bow" and config["labels"] == fitted.classes_


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_a_cpu_fitted_classifier_loads_onto_the_gpu(fitted, tmp_path):
    fitted.save(tmp_path / "clf")
    loaded = TextClassifier.load(tmp_path / "clf")  # device="auto": the GPU here
    assert next(loaded.model_.parameters()).is_cuda
    probe = TEXTS + ["an unseen sentence about nothing", ""]
    # AMP (bf16 logits) on the GPU vs fp32 on the CPU: the same labels, probabilities within 1e-2
    np.testing.assert_allclose(loaded.predict_proba(probe), fitted.predict_proba(probe), atol=1e-2)
    assert loaded.predict(probe) == fitted.predict(probe)


def test_load_errors_name_the_file(fitted, tmp_path, redigest):
    fitted.save(tmp_path)
    weights = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(ValueError, match=r"model.safetensors' is damaged or truncated"):
        TextClassifier.load(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=r"model.safetensors' does not exist"):
        TextClassifier.load(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(weights)

    TextPipeline().fit(["some other vocabulary entirely"]).save(tmp_path / "pipeline.json")
    redigest(tmp_path)  # the check behind the digests
    with pytest.raises(ValueError, match=r"pipeline.json' does not match the weights: its vocabulary \(\d+ embedding"):
        TextClassifier.load(tmp_path)
    fitted.save(tmp_path)

    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "version": 99}))
    with pytest.raises(ValueError, match=r"config.json' has TextClassifier config format version 99; .* reads versions up to 1"):
        TextClassifier.load(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"config.json' does not exist"):
        TextClassifier.load(tmp_path / "nowhere")
    with pytest.raises(NotADirectoryError, match=r"config.json' is a file; load\(\) takes the folder"):
        TextClassifier.load(tmp_path / "config.json")


def test_loading_a_frozen_embedding_model_does_not_warn_that_it_stays_random(tmp_path):
    # the warning is right at fit (no vectors given) and wrong at load, where the weights follow
    texts, labels = ["a good film", "a bad film", "good fun", "bad dull"] * 3, ["p", "n", "p", "n"] * 3
    with pytest.warns(UserWarning, match="stays random"):
        clf = quick("cnn", model_config={"embedding_mode": "static", "embed_dim": 8}, valid_split=0).fit(texts, labels)
    clf.save(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TextClassifier.load(tmp_path)


@pytest.mark.parametrize("edit, message", [
    # labels name the outputs: another count, a repeat or a multi_label flip gave wrong names or a
    # crash in predict; options textkit refuses were not blamed on config.json
    (lambda c: {**c, "labels": c["labels"] + ["extra"]}, r"'labels' must list the model's \d+ classes once each"),
    (lambda c: {**c, "labels": c["labels"][:1] * len(c["labels"])}, r"'labels' must list the model's"),
    (lambda c: {**c, "multi_label": True}, r"multi_label=True does not match its tuned_threshold=None"),
    (lambda c: {**c, "model": {**c["model"], "embed_dim": -3}}, r"config.json' holds options textkit refuses "
                                                                 r"\(ValueError: .*embed_dim"),
    (lambda c: {**c, "train_config": {**c["train_config"], "epochs": -1}}, r"config.json' holds options textkit "
                                                                            r"refuses .*epochs"),
    (lambda c: {**c, "model": {k: v for k, v in c["model"].items() if k != "name"}},
     r"config.json': 'model' is missing the key\(s\) \['name'\]; the file is damaged"),
])
def test_a_damaged_config_json_is_refused_at_load(fitted, tmp_path, edit, message, redigest):
    fitted.save(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps(edit(config)))
    redigest(tmp_path)  # the checks behind the digests
    with pytest.raises(ValueError, match=message):
        TextClassifier.load(tmp_path)


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("texts, labels, error, message", [
    (["a b", "c d"], ["x", 1], TypeError, r"labels must be all of one type.*got a mix: str \('x' at index 0\), "
                                          r"int \(1 at index 1\)"),
    (["a b", "c d"], ["x", "x"], ValueError, r"labels must contain at least 2 distinct classes.*got only \['x'\]"),
    ([], [], ValueError, r"texts is empty: expected texts with labels"),
    (["a b", "c d", "e"], ["x", "y"], ValueError, r"labels has 2 items but texts has 3: expected one label per text"),
    (["<br /><br />", "  ", ""], ["x", "y", "x"], ValueError, r"texts: every one of the 3 training texts cleans to nothing"),
    (["a b", "c d"], ["x", None], ValueError, r"labels\[1\] is missing \(None\)"),
])
def test_bad_training_input_is_a_clear_error(texts, labels, error, message):
    with pytest.raises(error, match=message):
        quick("bow").fit(texts, labels)


def test_model_options_are_checked_at_construction():
    # they were checked only in fit, after the vocabulary had been built
    with pytest.raises(ValueError, match=r"RNNConfig\.hidden_dim must be an int >= 1, got -3"):
        TextClassifier("rnn", model_config={"hidden_dim": -3})


def test_multi_label_refuses_an_indicator_matrix():
    # each 0/1 row used to be read as the label set {0, 1}: classes_ == [0, 1], silently
    with pytest.raises(TypeError, match=r"labels is a 2-D array \(4, 3\): for multi_label=True give each "
                                        r"text's label set .*np\.flatnonzero"):
        TextClassifier("bow", multi_label=True).fit(["a b", "c d", "e f", "g h"], np.eye(3, dtype=int)[[0, 1, 2, 0]])


def test_labels_unseen_in_training_are_listed(fitted):
    with pytest.raises(ValueError, match=r"labels contain 2 class\(es\) that training never saw: \['art', 'food'\]"):
        fitted.evaluate(["a", "b", "c"], ["art", "sport", "food"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_fails_at_construction():
    with pytest.raises(ValueError, match=r"device='cuda' was requested but no CUDA GPU is available"):
        TextClassifier("cnn", device="cuda")


def test_constructor_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"model must be one of \[.*'cnn'.*\], got 'transformer'"):
        TextClassifier("transformer")
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['epoch'\]"):
        TextClassifier("cnn", epoch=3)
    with pytest.raises(ValueError, match=r"valid_split must be a fraction in \[0, 1\), got 1.5"):
        TextClassifier("cnn", valid_split=1.5)
    with pytest.raises(RuntimeError, match=r"not fitted yet: call .fit\(texts, labels\)"):
        TextClassifier("cnn").predict(["x"])


# -- a published number, reproduced ------------------------------------------------------------------
def test_cnn_reaches_88_percent_on_trec():
    """Kim's CNN-rand on TREC (Kim 2014 reports 91.2%): train on TREC train with early stopping
    on a seeded 10% split of train (never on test), then score the 500 test questions once."""
    train_texts, train_labels = read_trec("TREC.train.all")
    test_texts, test_labels = read_trec("TREC.test.all")
    started = time.perf_counter()
    clf = TextClassifier("cnn", epochs=10, seed=0, progress=False, device="cpu").fit(train_texts, train_labels)
    report = clf.evaluate(test_texts, test_labels)
    seconds = time.perf_counter() - started
    print(f"TREC cnn: test accuracy {report['accuracy']:.4f} in {seconds:.0f}s, "
          f"best epoch {clf.result_.best_epoch}")
    assert report["accuracy"] >= 0.88
