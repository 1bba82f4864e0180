"""TextClassifier as a scikit-learn estimator: clone, get/set_params, score, and the tools
that rely on them (cross_val_score, GridSearchCV, Pipeline)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_is_fitted

from textkit import TextClassifier

# Separable: each class has its own words; six texts per class so every CV fold sees each class.
TEXTS = [
    "the match ended with a late goal", "a great goal in the final match", "the striker scored a goal",
    "the team won the cup match", "a goal for the home team", "the keeper saved the match",
    "stocks fell as markets closed", "the bank raised interest rates", "markets rallied on bank earnings",
    "investors sold stocks today", "bank rates and stocks", "interest rates hit markets",
    "the new phone has a fast chip", "a laptop with a faster chip", "the phone software update",
    "chip makers ship new laptop", "a laptop and a phone", "software for the new chip",
]
LABELS = ["sport"] * 6 + ["money"] * 6 + ["tech"] * 6


def quick(model: str = "bow", **options) -> TextClassifier:
    defaults = dict(epochs=3, batch_size=4, lr=0.05, valid_split=0, patience=None, progress=False, device="cpu")
    return TextClassifier(model, **{**defaults, **options})


def lowercase(texts):
    """A text-side step for a Pipeline (module level, so it pickles)."""
    return [text.lower() for text in texts]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, shared cores


@pytest.fixture(scope="module")
def fitted(one_thread) -> TextClassifier:
    return quick(epochs=10).fit(TEXTS, LABELS)


# -- get_params / set_params / clone ---------------------------------------------------------------
def test_get_params_are_the_arguments_as_given():
    options, config = {"min_freq": 1}, {"embed_dim": 8}
    params = quick(pipeline=options, model_config=config).get_params()
    assert params["pipeline"] is options and params["model_config"] is config  # not the checked copies
    assert params["model"] == "bow" and params["lr"] == 0.05 and params["epochs"] == 3
    assert params["recipe"] == "default" and "optimizer" not in params  # not given: the recipe's
    assert params == quick(pipeline=options, model_config=config).get_params(deep=False)


def test_the_recipe_fills_in_what_is_not_given_and_follows_the_model():
    clf = TextClassifier("bow", lr=0.05)
    assert clf.train_config.lr == 0.05 and clf.train_config.batch_size == 64  # given wins; the rest: bow's
    assert clf.pipeline.ngram_range == (1, 2) and clf.model_config["pooling"] == "sqrt"
    clf.set_params(model="cnn")  # the cnn's recipe now, not the bow's settings carried over
    assert clf.model_config == {"embed_dim": 300, "wide": True} and clf.train_config.batch_size == 50
    assert clf.train_config.lr == 0.05 and clf.pipeline is None  # the lr given stays
    mr = TextClassifier("bow", recipe="mr", model_config={"embed_dim": 8})
    assert mr.model_config["distinct"] is True and mr.model_config["embed_dim"] == 8 and mr.train_config.lr == 5e-4
    plain = TextClassifier("bow", recipe=None)
    assert plain.pipeline is None and plain.model_config == {} and plain.train_config.lr is None
    assert clone(mr).model_config == mr.model_config and clone(mr).train_config == mr.train_config
    with pytest.raises(ValueError, match=r"unknown corpus 'nope'"):
        TextClassifier("bow", recipe="nope")


def test_clone_round_trip_gives_an_equal_unfitted_estimator(fitted):
    clf = quick(pipeline={"min_freq": 1}, model_config={"embed_dim": 8}, multi_label=False, threshold=0.4)
    twin = clone(clf)
    assert twin is not clf and twin.get_params() == clf.get_params()
    again = clone(fitted)
    assert again.get_params() == fitted.get_params() and again.model_ is None and again.classes_ is None
    with pytest.raises(NotFittedError):
        check_is_fitted(again)
    check_is_fitted(fitted)


def test_set_params_sets_training_options_by_name():
    clf = quick()
    assert clf.set_params(lr=0.01, epochs=5, model="cnn") is clf
    assert clf.train_config.lr == 0.01 and clf.train_config.epochs == 5 and clf.model_name == "cnn"
    assert clf.get_params()["lr"] == 0.01 and clf.get_params()["model"] == "cnn"
    clf.set_params(pipeline={"max_length": 20})
    assert clf.pipeline.max_length == 20  # a dict of options becomes the pipeline, as in the constructor


def test_set_params_refuses_unknown_names_and_bad_values():
    clf = quick()
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['learning_rate'\]; valid parameters are .*'lr'"):
        clf.set_params(learning_rate=0.01)
    with pytest.raises(ValueError, match=r"TrainConfig lr must be"):
        clf.set_params(epochs=7, lr=-1.0)
    assert clf.get_params()["epochs"] == 3 and clf.train_config.epochs == 3  # a refused call changes nothing


# -- score ------------------------------------------------------------------------------------------
def test_score_is_the_accuracy_of_predict(fitted):
    texts, labels = TEXTS[::2] + ["a goal at the bank"], LABELS[::2] + ["tech"]
    expected = np.mean([p == t for p, t in zip(fitted.predict(texts), labels)])
    assert fitted.score(texts, labels) == pytest.approx(expected)
    assert fitted.score(np.array(texts, dtype=object), np.array(labels)) == pytest.approx(expected)


def test_score_multi_label_is_subset_accuracy():
    labels = [[y] for y in LABELS]
    labels[0] = ["sport", "money"]
    clf = quick(multi_label=True, epochs=5).fit(TEXTS, labels)
    predicted = clf.predict(TEXTS)
    expected = np.mean([set(p) == set(t) for p, t in zip(predicted, labels)])
    assert clf.score(TEXTS, labels) == pytest.approx(expected)


# -- the tools ----------------------------------------------------------------------------------------
def test_cross_val_score_on_numpy_arrays():
    scores = cross_val_score(quick(epochs=5), np.array(TEXTS), np.array(LABELS), cv=3, error_score="raise")
    assert scores.shape == (3,) and np.isfinite(scores).all()


def test_grid_search_over_model_and_a_training_option():
    search = GridSearchCV(quick(epochs=10), {"model": ["bow", "cnn"], "lr": [0.01, 0.05]}, cv=2,
                          error_score="raise").fit(TEXTS, LABELS)
    assert set(search.best_params_) == {"model", "lr"}
    best = search.best_estimator_
    assert best.model_name == search.best_params_["model"] and best.train_config.lr == search.best_params_["lr"]
    assert len(best.predict(["a late goal"])) == 1 and search.score(TEXTS, LABELS) > 0.5


def test_soft_voting_over_two_families_averages_their_probabilities():
    # how the reproduction table's mixes (bow+cnn) are used: scikit-learn's VotingClassifier
    vote = VotingClassifier([("bow", quick(epochs=10)), ("cnn", quick("cnn", epochs=10))], voting="soft")
    vote.fit(TEXTS, LABELS)
    bow, cnn = vote.estimators_
    assert (bow.model_name, cnn.model_name) == ("bow", "cnn")
    expected = (bow.predict_proba(TEXTS) + cnn.predict_proba(TEXTS)) / 2
    np.testing.assert_allclose(vote.predict_proba(TEXTS), expected, rtol=1e-6)
    assert list(vote.classes_) == sorted(set(LABELS))
    assert list(vote.predict(["a late goal", "new laptop chip"])) == ["sport", "tech"]


def test_pipeline_with_a_text_transform_step():
    pipe = Pipeline([("lower", FunctionTransformer(lowercase)), ("clf", quick(epochs=10))])
    pipe.fit(TEXTS, LABELS)
    assert pipe.predict(["THE STRIKER SCORED A GOAL", "NEW LAPTOP CHIP"]) == ["sport", "tech"]
    assert pipe.score(TEXTS, LABELS) > 0.9
    pipe.set_params(clf__lr=0.01)  # nested names reach the classifier's training options
    assert pipe.named_steps["clf"].train_config.lr == 0.01
