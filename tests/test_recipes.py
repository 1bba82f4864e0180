"""textkit.recipes: one place for the validated settings, read by TextClassifier, the CLI and
scripts/reproduce.py; options a user gives win, one at a time."""
from __future__ import annotations

import json

import pytest

from textkit import TextClassifier
from textkit.recipes import CORPUS_RECIPES, MODEL_DEFAULTS, PARTS, best_model, recipe_for
from textkit.registry import get_card


def test_every_recipe_names_a_registered_corpus_and_builds_a_classifier():
    for corpus, models in CORPUS_RECIPES.items():
        assert get_card(corpus).name == corpus
        for model in models:
            clf = TextClassifier(model, recipe=corpus)  # every option checked as the constructor checks it
            recipe = recipe_for(model, corpus)
            assert set(recipe) == set(PARTS)
            assert {k: getattr(clf.train_config, k) for k in recipe["train"]} == recipe["train"]
            assert clf.model_config == recipe["model_config"]


def test_a_corpus_without_a_recipe_for_the_model_gets_the_models_default_and_copies_are_fresh():
    assert recipe_for("rnn", "imdb") == recipe_for("rnn") == {part: dict(MODEL_DEFAULTS["rnn"].get(part, {}))
                                                               for part in PARTS}
    assert recipe_for("grid") == {"pipeline": {}, "model_config": {}, "train": {}}
    mine = recipe_for("bow", "TREC")  # aliases and case, as load_corpus takes them
    mine["train"]["lr"] = 1.0
    assert recipe_for("bow", "trec")["train"]["lr"] == 2e-3  # the library's copy is untouched
    assert best_model("imdb", "cnn") == "bow" and best_model("trec", "bow") == "cnn"
    with pytest.raises(ValueError, match="unknown corpus"):
        recipe_for("bow", "not-a-corpus")


def test_vectors_set_the_embedding_size_over_the_recipes(tmp_path):
    vectors = tmp_path / "v.vec"
    vectors.write_text("2 4\ngoal 0.1 0.2 0.3 0.4\nbank 0.4 0.3 0.2 0.1\n", encoding="utf-8")
    clf = TextClassifier("cnn", vectors=vectors)
    assert "embed_dim" not in clf.model_config and clf.model_config["wide"] is True


def test_train_with_a_corpus_uses_its_recipe_under_the_flags(tmp_path):
    from textkit.cli import main

    out = tmp_path / "run"
    assert main(["train", "--corpus", "trec", "--model", "bow", "--epochs", "1", "--batch-size", "128",
                 "--device", "cpu", "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    trec_bow = recipe_for("bow", "trec")
    assert metrics["recipe"] == "trec" and metrics["model_config"] == trec_bow["model_config"]
    assert metrics["train_config"]["lr"] == trec_bow["train"]["lr"]  # from the recipe
    assert metrics["train_config"]["batch_size"] == 128 and metrics["train_config"]["epochs"] == 1  # the flags'
    pipeline = json.loads((out / "model" / "pipeline.json").read_text(encoding="utf-8"))
    assert pipeline["ngrams"]["range"] == [1, 2]
