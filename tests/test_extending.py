"""Tokenizers and cleaning steps of one's own, registered by name, so that what uses them saves and
loads (issue #15: a pipeline with a custom tokenizer could not be saved at all)."""
from __future__ import annotations

import json

import pytest

import textkit as tk
from textkit import TextClassifier, TextPipeline
from textkit.cleaning import TextCleaner, register_cleaning_step
from textkit.tokenization import get_tokenizer, register_tokenizer, tokenizer_name

TEXTS = ["Great film-making, loved it", "dull-as-ditchwater plot", "great fun http://x.io", "a dull mess"] * 3
LABELS = ["pos", "neg", "pos", "neg"] * 3


def split_hyphens(text: str) -> list[str]:
    """Words, with hyphenated ones cut apart (the default regex keeps 'film-making' whole)."""
    return text.replace("-", " - ").split()


def drop_digits(text: str) -> str:
    return "".join(c for c in text if not c.isdigit())


register_tokenizer("test-hyphens", split_hyphens)
register_cleaning_step("test-no-digits", drop_digits)


def test_a_registered_tokenizer_saves_and_loads_by_name(tmp_path):
    for given in ("test-hyphens", split_hyphens):  # by name, or the registered callable itself
        pipe = TextPipeline(tokenizer=given).fit(TEXTS)
        assert pipe.analyze("film-making at http://x.io") == ["film", "-", "making", "at", "<url>"]  # <url> kept whole
        assert tokenizer_name(pipe.tokenizer) == "test-hyphens"
        pipe.save(tmp_path / "p.json")
        assert json.loads((tmp_path / "p.json").read_text())["tokenizer"]["type"] == "test-hyphens"
        loaded = TextPipeline.load(tmp_path / "p.json")
        assert loaded.encode(TEXTS) == pipe.encode(TEXTS)


def test_a_classifier_with_registered_parts_round_trips(tmp_path):
    pipeline = TextPipeline(tokenizer="test-hyphens", cleaner=TextCleaner(custom_steps=["test-no-digits"]))
    clf = TextClassifier("bow", pipeline=pipeline, epochs=2, valid_split=0, progress=False, device="cpu")
    clf.fit(TEXTS, LABELS).save(tmp_path / "m")
    loaded = TextClassifier.load(tmp_path / "m", device="cpu")
    assert (loaded.predict_proba(TEXTS) == clf.predict_proba(TEXTS)).all()


def test_loading_without_the_registration_says_what_to_run(tmp_path, run_python):
    TextPipeline(tokenizer="test-hyphens").fit(TEXTS).save(tmp_path / "tok.json")
    TextPipeline(cleaner=TextCleaner(custom_steps=["test-no-digits"])).fit(TEXTS).save(tmp_path / "step.json")
    out = run_python(f"""
import textkit as tk
for name in ("tok.json", "step.json"):
    try:
        tk.TextPipeline.load({str(tmp_path)!r} + "/" + name)
    except ValueError as e:
        print(e)
""")
    first, second = out.strip().splitlines()
    assert "unknown tokenizer 'test-hyphens'" in first and "run textkit.register_tokenizer('test-hyphens', fn) " \
                                                            "first" in first
    assert "'test-no-digits' is not a registered cleaning step; run textkit.register_cleaning_step(" \
           "'test-no-digits', fn) first" in second


def test_a_custom_step_runs_after_the_built_in_steps_and_before_whitespace():
    cleaner = TextCleaner(custom_steps=["test-no-digits"])
    assert [name for name, _ in cleaner.steps][-2:] == ["test-no-digits", "whitespace"]
    assert cleaner("Room 101 <b>is</b>   FINE") == "room is fine"
    assert TextCleaner.from_config(json.loads(json.dumps(cleaner.get_config()))) == cleaner
    assert cleaner.step("test-no-digits") is drop_digits


def test_registered_parts_work_in_worker_processes():
    texts = TEXTS * 20_000  # over PARALLEL_MIN_CHARS: two processes
    pipe = TextPipeline(tokenizer="test-hyphens", cleaner=TextCleaner(custom_steps=["test-no-digits"]), num_proc=2)
    one = TextPipeline(tokenizer="test-hyphens", cleaner=TextCleaner(custom_steps=["test-no-digits"]), num_proc=1)
    assert pipe.fit(texts).encode(texts[:50]) == one.fit(texts).encode(texts[:50])


@pytest.mark.parametrize("call, error, message", [
    (lambda: register_tokenizer("regex", split_hyphens), ValueError, "'regex' is a built-in tokenizer"),
    (lambda: register_tokenizer("test-hyphens", str.split), ValueError, "'test-hyphens' is already registered"),
    (lambda: register_tokenizer("bad name", str.split), ValueError, "a tokenizer name is a letter"),
    (lambda: register_tokenizer("x", "split"), TypeError, "takes a callable str -> list"),
    (lambda: register_cleaning_step("html", str.lower), ValueError, "'html' is a built-in cleaning step"),
    (lambda: register_cleaning_step("test-no-digits", str.lower), ValueError, "already registered"),
    (lambda: TextCleaner(custom_steps="test-no-digits"), TypeError, "must be a list of registered step names"),
    (lambda: TextCleaner(custom_steps=["test-no-digits"] * 2), ValueError, "names a step twice"),
    (lambda: get_tokenizer("test-hyphen"), ValueError, r"did you mean 'test-hyphens'"),
])
def test_registration_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
    register_tokenizer("test-hyphens", split_hyphens)  # the same callable again: fine


def test_exported_at_the_top_level():
    assert tk.register_tokenizer is register_tokenizer and tk.register_cleaning_step is register_cleaning_step
