"""What a saved classifier, a checkpoint or a textkit JSON file may not do to a user: load damaged
without a word, crash with a traceback, or make textkit allocate terabytes.

Each test damages a file the way the adversarial pass of issue #13 did (bit flips, edits by hand,
deep JSON, huge sizes, missing keys) and pins the one-line error that names the file.
"""
from __future__ import annotations

import json
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from textkit import TextPipeline
from textkit.classifier import TextClassifier
from textkit.checkpoints import CHECKPOINT_FILE, load_checkpoint
from textkit.training import TrainConfig, train

MAX_JSON_DEPTH = 64  # textkit.fileio.MAX_JSON_DEPTH, the documented default

TEXTS = [
    "the match ended with a late goal", "a great goal in the final match", "the striker scored a goal",
    "the team won the cup match", "stocks fell as markets closed", "the bank raised interest rates",
    "markets rallied on bank earnings", "investors sold stocks today", "the new phone has a fast chip",
    "a laptop with a faster chip", "the phone software update", "chip makers ship new laptop",
]
LABELS = ["sport"] * 4 + ["money"] * 4 + ["tech"] * 4
PROBE = TEXTS + ["an unseen sentence about nothing", ""]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, shared cores


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """One saved bow classifier (no recipe: the sizes below are the plain defaults'); tests damage
    copies of it (see ``copy``)."""
    clf = TextClassifier("bow", recipe=None, epochs=10, batch_size=4, lr=0.02, valid_split=0, patience=None, progress=False,
                         device="cpu").fit(TEXTS, LABELS)
    directory = tmp_path_factory.mktemp("saved") / "clf"
    clf.save(directory)
    return directory


@pytest.fixture
def copy(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "clf"))


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


# -- JSON depth: one limit, in fileio, for every textkit JSON file ----------------------------------------
def test_json_deeper_than_the_limit_is_refused_naming_the_source():
    from textkit import fileio
    from textkit.fileio import loads_json

    assert fileio.MAX_JSON_DEPTH == MAX_JSON_DEPTH
    assert loads_json(deep(MAX_JSON_DEPTH), "x.json") == json.loads(deep(MAX_JSON_DEPTH))
    for levels in (MAX_JSON_DEPTH + 1, 1000, 100_000):  # 1000 was a RecursionError inside json
        with pytest.raises(ValueError, match=rf"^x\.json nests JSON arrays and objects more than {MAX_JSON_DEPTH} "
                                             r"levels deep"):
            loads_json(deep(levels), "x.json")
    with pytest.raises(json.JSONDecodeError):  # bad JSON stays the caller's to place (line, column)
        loads_json("[1,", "x.json")


@pytest.mark.parametrize("name", ["config.json", "pipeline.json"])
def test_deep_json_in_a_saved_classifier_is_one_error_naming_the_file(copy, name):
    path = copy / name
    text = path.read_text(encoding="utf-8").rstrip()
    path.write_text(text[:-1] + f', "x": {deep(1000)}}}', encoding="utf-8")
    with pytest.raises(ValueError, match=rf"{name}' nests JSON arrays and objects more than {MAX_JSON_DEPTH} levels"):
        TextClassifier.load(copy)
    if name == "pipeline.json":
        with pytest.raises(ValueError, match=r"pipeline\.json' nests JSON arrays and objects more than"):
            TextPipeline.load(path)


# -- integrity: digests of the weights, the pipeline and config.json itself ------------------------------
def test_save_records_digests_and_load_verifies_them(saved):
    config = json.loads((saved / "config.json").read_text())
    assert {"weights_sha256", "pipeline_sha256", "config_sha256"} <= set(config)
    import hashlib

    assert config["weights_sha256"] == hashlib.sha256((saved / "model.safetensors").read_bytes()).hexdigest()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a verified model loads without a word
        loaded = TextClassifier.load(saved, device="cpu")
    assert loaded.predict(TEXTS) == LABELS


def test_every_bit_flip_in_the_weights_is_refused(copy):
    path = copy / "model.safetensors"
    original = path.read_bytes()
    header = 8 + int.from_bytes(original[:8], "little")
    # data bytes (the ones that loaded silently before) and header bytes alike
    positions = sorted({*np.linspace(header, len(original) - 1, 40).astype(int).tolist(), 9, 20, header - 2})
    for position in positions:
        for bit in (0, 7):
            damaged = bytearray(original)
            damaged[position] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            with pytest.raises(ValueError, match=r"model\.safetensors'"):
                TextClassifier.load(copy)
    path.write_bytes(original)
    TextClassifier.load(copy)


def test_a_flipped_weight_value_is_named_as_changed_after_saving(copy):
    path = copy / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # a low mantissa bit of the last float: loads, predicts almost the same
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.safetensors' was changed after it was saved: its sha256 is not "
                                         r"the one .*config\.json.* recorded; .*save the classifier again"):
        TextClassifier.load(copy)


@pytest.mark.parametrize("change", [
    lambda c: c["labels"].__setitem__(0, "finance"),  # relabelled every 'money' prediction
    lambda c: c["labels"].reverse(),                  # same names, other outputs
    lambda c: c.__setitem__("threshold", 0.7),
    lambda c: c["train_config"].__setitem__("lr", 0.5),
], ids=["renamed label", "reordered labels", "threshold", "train option"])
def test_an_edited_config_json_is_refused(copy, change):
    edit_json(copy / "config.json", change)
    with pytest.raises(ValueError, match=r"config\.json' was changed after it was saved: its content does not match "
                                         r"its config_sha256"):
        TextClassifier.load(copy)


@pytest.mark.parametrize("change", [
    lambda p: p["tokenizer"].__setitem__("type", "whitespace"),
    lambda p: p["cleaner"]["config"].__setitem__("lowercase", not p["cleaner"]["config"]["lowercase"]),
    lambda p: p["ngrams"].__setitem__("range", [1, 2]),
    lambda p: p["padding"].__setitem__("max_length", 3),
], ids=["tokenizer", "cleaner", "ngrams", "padding"])
def test_an_edited_pipeline_json_is_refused(copy, change):
    edit_json(copy / "pipeline.json", change)
    with pytest.raises(ValueError, match=r"pipeline\.json' was changed after it was saved: its content does not "
                                         r"match the pipeline_sha256 .*config\.json"):
        TextClassifier.load(copy)


def test_reformatted_json_files_still_load(copy, saved):
    # the digests are of the JSON content, not of its bytes: another indentation or line ending
    # (git's autocrlf, an editor) changes nothing that textkit reads
    for name in ("config.json", "pipeline.json"):
        data = json.loads((copy / name).read_text(encoding="utf-8"))
        (copy / name).write_text(json.dumps(data, indent=4, sort_keys=True).replace("\n", "\r\n"), encoding="utf-8")
    original = TextClassifier.load(saved, device="cpu")
    np.testing.assert_array_equal(TextClassifier.load(copy, device="cpu").predict_proba(PROBE),
                                  original.predict_proba(PROBE))


def rewrite_weights(directory: Path, change) -> None:
    """Rewrite model.safetensors with ``change(tensors)`` and record its new digest, as a save would:
    the damage the digests cannot see."""
    import hashlib

    from safetensors.torch import load_file, save

    tensors = load_file(directory / "model.safetensors")
    change(tensors)
    data = save(tensors, metadata={"format": "textkit.TextClassifier", "version": "1"})
    (directory / "model.safetensors").write_bytes(data)
    config = json.loads((directory / "config.json").read_text())
    config["weights_sha256"] = hashlib.sha256(data).hexdigest()
    if "config_sha256" in config:
        from textkit.fileio import json_sha256

        config["config_sha256"] = json_sha256({k: v for k, v in config.items() if k != "config_sha256"})
    (directory / "config.json").write_text(json.dumps(config), encoding="utf-8")


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_even_with_matching_digests(copy, value):
    def poison(tensors):
        tensors["fc.weight"][1, 2] = value

    rewrite_weights(copy, poison)
    with pytest.raises(ValueError, match=r"model\.safetensors' holds NaN or infinite values \(1 of 300 in "
                                         r"'fc\.weight'\); the file is damaged"):
        TextClassifier.load(copy)


def test_save_refuses_non_finite_weights(saved, tmp_path):
    clf = TextClassifier.load(saved, device="cpu")
    with torch.no_grad():
        clf.model_.fc.bias[0] = float("nan")
    with pytest.raises(ValueError, match=r"cannot save: the model's weights hold NaN or infinite values \(1 of 3 in "
                                         r"'fc\.bias'\)"):
        clf.save(tmp_path / "nan")
    assert not (tmp_path / "nan" / "config.json").exists()


def test_a_model_saved_before_digests_loads_with_a_warning(copy, saved):
    edit_json(copy / "config.json", lambda c: [c.pop(k) for k in ("weights_sha256", "pipeline_sha256",
                                                                  "config_sha256")])
    with pytest.warns(UserWarning, match=r"config\.json' records no digests .*loaded unverified; save it again"):
        loaded = TextClassifier.load(copy, device="cpu")
    np.testing.assert_array_equal(loaded.predict_proba(PROBE),
                                  TextClassifier.load(saved, device="cpu").predict_proba(PROBE))


def test_some_digests_missing_is_damage(copy):
    edit_json(copy / "config.json", lambda c: c.pop("weights_sha256"))
    with pytest.raises(ValueError, match=r"config\.json' is missing the key\(s\) \['weights_sha256'\]"):
        TextClassifier.load(copy)


# -- damaged config.json: what is wrong, not a Python error ----------------------------------------------
@pytest.mark.parametrize("change, message", [
    (lambda c: c.__setitem__("model", "bow"), r"'model' must be an object .*, got a string"),
    (lambda c: c["model"].pop("vocab_size"), r"'model' is missing the key\(s\) \['vocab_size'\]"),
    (lambda c: c.__setitem__("labels", "money"), r"'labels' must be an array .*, got a string"),
    (lambda c: c.__setitem__("train_config", [1]), r"'train_config' must be an object .*, got an array"),
])
def test_a_damaged_config_json_says_what_is_wrong(copy, change, message):
    # was "dictionary update sequence element #0 has length 1; 2 is required" and "'vocab_size'"
    edit_json(copy / "config.json", change)
    with pytest.raises(ValueError, match=r"config\.json'.*" + message + r".*the file is damaged"):
        TextClassifier.load(copy)


@pytest.mark.parametrize("field, value", [("embed_dim", 1_000_000_000), ("num_classes", 10**9)])
def test_a_huge_size_in_config_json_is_refused_before_allocating(copy, field, value, redigest):
    # embed_dim=1e9 tried to allocate 172 GB; with the digests recomputed, the size limit is what stops it
    edit_json(copy / "config.json", lambda c: c["model"].__setitem__(field, value))
    redigest(copy)
    started = time.perf_counter()
    with pytest.raises(ValueError, match=rf"config\.json'.*{field}.*{value}"):
        TextClassifier.load(copy)
    assert time.perf_counter() - started < 5


def test_a_size_within_the_limit_that_the_weights_do_not_hold_is_refused_before_allocating(copy, redigest):
    edit_json(copy / "config.json", lambda c: c["model"].__setitem__("embed_dim", 2_000_000))  # 86M values
    redigest(copy)
    with pytest.raises(ValueError, match=r"model\.safetensors' does not match config\.json: it holds 4,603 values, "
                                         r"the model config\.json describes 92,000,003"):
        TextClassifier.load(copy)


def test_max_parameters_can_be_raised_or_lowered_at_load(copy):
    with pytest.raises(ValueError, match=r"would have 4,603 parameters .*more than max_parameters=1,000"):
        TextClassifier.load(copy, max_parameters=1000)
    assert TextClassifier.load(copy, max_parameters=4603).predict(TEXTS) == LABELS


# -- checkpoints: damaged ones are named, whatever the damage --------------------------------------------
def checkpoint(tmp_path: Path) -> tuple[Path, callable]:
    from textkit.models import build_model

    rng = np.random.default_rng(0)
    sequences = [rng.integers(2, 20, size=5).tolist() for _ in range(24)]
    labels = np.array([i % 2 for i in range(24)])
    config = TrainConfig(epochs=1, batch_size=8, progress=False, device="cpu", patience=None)

    def run(epochs: int = 2):
        model = build_model("bow", vocab_size=20, num_classes=2, embed_dim=8)
        return train(model, (sequences, labels), None, TrainConfig(**{**config.to_dict(), "epochs": epochs}),
                     out_dir=tmp_path, resume=True)

    run(1)
    return tmp_path / CHECKPOINT_FILE, run


def damage(path: Path, change) -> None:
    """``change`` the checkpoint and record the digest of what it holds now (a damaged run, not a
    damaged file: what the digest cannot see, the checks behind it must)."""
    state = torch.load(path, weights_only=True)
    change(state)
    if "sha256" in state:
        from textkit.checkpoints import checkpoint_digest

        state["sha256"] = checkpoint_digest(state)
    torch.save(state, path)


@pytest.mark.parametrize("change, message", [
    (lambda s: s.pop("rng"), r"is missing the key\(s\) \['rng'\]"),
    (lambda s: s.pop("optimizers"), r"is missing the key\(s\) \['optimizers'\]"),
    (lambda s: s["rng"]["numpy"][1].__setitem__(0, -5), r"its RNG state 'numpy'"),  # was an OverflowError
    (lambda s: s["rng"]["numpy"].__setitem__(2, 2**40), r"its RNG state 'numpy'"),
    (lambda s: s["rng"].__setitem__("torch", torch.zeros(3, dtype=torch.uint8)), r"its RNG state 'torch'"),
    (lambda s: s.__setitem__("epoch", "x"), r"'epoch' must be an int"),
    (lambda s: s.__setitem__("model", {"x": torch.zeros(1)}), r"RuntimeError"),
    (lambda s: s.__setitem__("optimizers", [{"foo": 1}]), r"KeyError"),
    (lambda s: s["model"]["fc.weight"].fill_(float("nan")), r"non-finite values in 'model'"),
])
def test_a_damaged_checkpoint_is_one_error_naming_the_file(tmp_path, change, message):
    path, run = checkpoint(tmp_path)
    damage(path, change)
    with pytest.raises(ValueError, match=r"checkpoint file '.*checkpoint\.pt' is damaged.*" + message):
        run(2)


def test_load_checkpoint_names_missing_keys(tmp_path):
    path, _ = checkpoint(tmp_path)
    damage(path, lambda s: [s.pop(k) for k in ("history", "sampler")])
    with pytest.raises(ValueError, match=r"checkpoint file '.*' is damaged: it is missing the key\(s\) "
                                         r"\['sampler', 'history'\]"):
        load_checkpoint(path)


def test_flipped_bits_in_a_checkpoint_never_resume_silently(tmp_path):
    # torch.load does not check the zip's CRCs: 2 of 3 flips resumed, with other weights or moments
    from textkit.checkpoints import checkpoint_digest

    path, run = checkpoint(tmp_path)
    clean = path.read_bytes()
    original = checkpoint_digest(load_checkpoint(path))
    rng = np.random.default_rng(0)
    refused = 0
    for position, bit in zip(rng.integers(0, len(clean), 40), rng.integers(0, 8, 40)):
        damaged = bytearray(clean)
        damaged[position] ^= 1 << int(bit)
        path.write_bytes(bytes(damaged))
        try:
            state = load_checkpoint(path)
        except ValueError as exc:
            assert str(exc).startswith(f"checkpoint file {str(path)!r} is damaged"), exc
            refused += 1
            continue
        assert checkpoint_digest(state) == original  # a flip in bytes that hold nothing: zip padding, a CRC
    assert refused >= 30
    path.write_bytes(clean)
    run(2)


def test_a_checkpoint_written_before_digests_still_resumes(tmp_path):
    path, run = checkpoint(tmp_path)
    state = torch.load(path, weights_only=True)
    del state["sha256"]
    torch.save(state, path)
    assert run(2).history[-1]["epoch"] == 2
