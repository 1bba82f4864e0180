"""textkit.tuning: a time-boxed search on validation data that beats a bad start, keeps the best
trial when interrupted, and refuses a budget or a space it cannot use with one line."""
from __future__ import annotations

import json

import pytest

import textkit.tuning as tuning
from textkit import TextClassifier, load_corpus

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, shared cores
LR_ONLY = {"model": ["bow"], "lr": {"low": 1e-3, "high": 3e-2, "log": True}}


@pytest.fixture(scope="module")
def trec():
    """1,200 TREC questions to train on, 300 to validate, the 500 test questions."""
    corpus = load_corpus("trec")
    names = corpus["train"].features["label"].int2str

    def pairs(split, n=None):
        ds = corpus[split] if n is None else corpus[split].select(range(n))
        return list(ds["text"]), names(ds["label"])

    train = pairs("train", 1500)
    return (train[0][:1200], train[1][:1200]), (train[0][1200:], train[1][1200:]), pairs("test")


def bad_start(**options) -> TextClassifier:
    """A bag of embeddings at a learning rate far too low for 3 epochs."""
    return TextClassifier("bow", recipe=None, lr=1e-4, epochs=3, patience=None, device="cpu",
                          **{"progress": False, **options})


def test_the_search_beats_a_deliberately_bad_start_on_validation_and_test(trec):
    train, valid, test = trec
    plain = bad_start().fit(*train, valid=valid)
    tuned = bad_start(tune={"budget": "3m", "space": LR_ONLY, "trials": 6}).fit(*train, valid=valid)
    result = tuned.tuning_
    first = result.trials[0]
    assert first["train"]["lr"] == 1e-4 and first["value"] == pytest.approx(plain.result_.best_metric)
    assert result.best_value > first["value"] + 0.1  # lr 1e-4 for 3 epochs barely moves
    assert result.best["train"]["lr"] > 1e-3 and tuned.train_config.lr == result.best["train"]["lr"]
    assert tuned.score(*test) > plain.score(*test) + 0.1
    # far past chance: better than trial 0 in every bootstrap resample of the 300 validation questions
    assert result.check == {"trial": result.best["trial"], "gain": pytest.approx(result.best_value - first["value"]),
                            "p": 0.0, "texts": 300, "adopted": True}
    assert [t["trial"] for t in result.trials] == list(range(len(result.trials))) and len(result.trials) <= 6
    assert json.loads(json.dumps(__import__("dataclasses").asdict(result)))["best"] == result.best  # JSON-ready


def test_a_best_trial_ahead_only_by_chance_leaves_the_classifier_as_made(trec, monkeypatch, capsys):
    import textkit.metrics

    train, valid, _ = trec
    plain = bad_start().fit(*train, valid=valid)
    seen = []

    def within_chance(y, logits_made, logits_best, metric, **kw):
        seen.append((len(y), metric))
        return 0.01, 0.3  # better in 70% of resamples only

    monkeypatch.setattr(textkit.metrics, "paired_bootstrap", within_chance)
    tuned = bad_start(progress=None, tune={"budget": "2m", "space": LR_ONLY, "trials": 3}).fit(*train, valid=valid)
    result = tuned.tuning_
    assert seen == [(300, "accuracy")] and result.check["adopted"] is False and result.check["p"] == 0.3
    assert result.best["trial"] == 0 and result.best_value == result.trials[0]["value"] < max(
        t["value"] for t in result.trials if t.get("value") is not None)
    assert tuned.train_config.lr == 1e-4 and tuned.predict(valid[0]) == plain.predict(valid[0])
    assert "better in 70.0% of bootstrap resamples; within chance (needs 0.95): keeping trial 0" in \
        capsys.readouterr().err
    lenient = bad_start(tune={"budget": "2m", "space": LR_ONLY, "trials": 3, "confidence": 0.5}).fit(*train,
                                                                                                     valid=valid)
    assert lenient.tuning_.check["adopted"] and lenient.tuning_.best["trial"] != 0
    seen.clear()
    alone = bad_start(tune={"budget": "2m", "space": LR_ONLY, "trials": 1}).fit(*train, valid=valid)
    assert alone.tuning_.best["trial"] == 0 and alone.tuning_.check == {} and seen == []  # nothing to compare


def test_ctrl_c_keeps_the_best_trial_so_far(trec, monkeypatch):
    train, valid, _ = trec
    said = []
    real = tuning._trial_line

    def interrupt_after_two(record, best):
        said.append(real(record, best))
        if record["trial"] == 1:
            raise KeyboardInterrupt
        return said[-1]

    monkeypatch.setattr(tuning, "_trial_line", interrupt_after_two)
    clf = bad_start(tune={"budget": "3m", "space": LR_ONLY}).fit(*train, valid=valid)
    result = clf.tuning_
    assert result.interrupted and len(result.trials) == 2
    best = max(result.trials, key=lambda t: t.get("value") or 0)
    assert result.best["trial"] == best["trial"] and clf.predict(["Who wrote Hamlet ?"])  # fitted, usable


def test_a_family_too_slow_for_the_budget_is_left_out(trec, monkeypatch):
    train, valid, _ = trec
    monkeypatch.setattr(tuning, "MIN_EPOCHS_IN_BUDGET", 10**9)  # as if every other family were far too slow here
    clf = bad_start(tune={"budget": "1m", "space": {"model": ["bow", "cnn", "rnn"]}, "trials": 4}).fit(*train,
                                                                                                       valid=valid)
    assert set(clf.tuning_.left_out) == {"cnn", "rnn"} and "one epoch takes about" in clf.tuning_.left_out["cnn"]
    assert {t["model"] for t in clf.tuning_.trials} == {"bow"}


def test_timing_counts_against_the_budget_and_trial_0_runs_whatever_it_spent(trec, monkeypatch, capsys):
    """Timing a slow family ate the budget (20 Newsgroups: the rnn's probe ran for minutes): the
    family is left out, the ones after it are not timed, and trial 0 still trains its epoch."""
    import time

    train, valid, _ = trec

    class Clock:  # the tuner's clock, jumped past the budget while cnn is timed
        ahead = 0.0

        def perf_counter(self):
            return time.perf_counter() + self.ahead

    clock = Clock()
    monkeypatch.setattr(tuning, "time", clock)
    real_fit = TextClassifier.fit_encoded

    def fit_encoded(self, *args, **kwargs):
        if self.model_name == "cnn":
            clock.ahead += 120
        return real_fit(self, *args, **kwargs)

    monkeypatch.setattr(TextClassifier, "fit_encoded", fit_encoded)
    space = {"model": ["bow", "cnn", "rnn"]}
    clf = bad_start(progress=None, tune={"budget": "1m", "space": space}).fit(*train, valid=valid)
    result = clf.tuning_
    assert "one epoch takes about" in result.left_out["cnn"]
    assert result.left_out["rnn"] == "no time was left to time one epoch of it"
    assert [(t["trial"], t["model"], t["state"], len(t["per_epoch"])) for t in result.trials] == \
        [(0, "bow", "stopped at the budget", 1)]
    assert result.best["trial"] == 0 and clf.predict(["Who wrote Hamlet ?"])
    err = capsys.readouterr().err
    assert "tune: timed bow: pipeline" in err and "tune: rnn left out: no time was left" in err


# -60 s: any second step takes "long enough" (its increase may be negative: the first step warms up); 1e9: none does
@pytest.mark.parametrize("probe_seconds, sizes", [(-60.0, [8, 32]), (1e9, [8, 32, 128, 512])])
def test_a_family_is_timed_on_a_growing_sample_until_a_step_takes_long_enough(trec, monkeypatch, probe_seconds, sizes):
    train, valid, _ = trec
    monkeypatch.setattr(tuning, "PROBE_SECONDS", probe_seconds)
    timed = []
    real_fit = TextClassifier.fit_encoded

    def fit_encoded(self, pipeline, train_data, *args, **kwargs):
        if self.train_config.epochs == 1 and self.valid_split == 0:  # a timing step, not a trial
            timed.append((self.model_name, len(train_data[0])))
        return real_fit(self, pipeline, train_data, *args, **kwargs)

    monkeypatch.setattr(TextClassifier, "fit_encoded", fit_encoded)
    bad_start(tune={"budget": "2m", "space": {"model": ["bow", "rnn"]}, "trials": 1}).fit(*train, valid=valid)
    assert timed == [(model, n) for model in ("bow", "rnn") for n in sizes]


def test_a_budget_that_cannot_hold_one_trial_is_refused_before_the_search(trec):
    train, valid, _ = trec
    with pytest.raises(ValueError, match=r"tune budget of 0\.01 s cannot fit one trial: the pipeline took .* "
                                         r"one epoch of bow on these 1,200 texts takes about .*give at least"):
        bad_start(tune=0.01).fit(*train, valid=valid)


@pytest.mark.parametrize("tune, message", [
    ("ten minutes", r"tune budget must be a duration like '10m'"),
    (-5, r"more than 0 seconds"),
    ({"budget": "1m", "space": {"lr": {"low": 1e-2, "high": 1e-3}}}, r"tune space 'lr': a range is .* with a < b"),
    ({"budget": "1m", "space": {"lr": {"low": 0, "high": 1e-3, "log": True}}}, r"'lr': a log range needs low > 0"),
    ({"budget": "1m", "space": {"model": ["grid"]}}, r"tune space 'model' must list some of \['bow', 'cnn', 'rnn'\]"),
    ({"budget": "1m", "space": {"bogus": [1, 2]}}, r"tune space 'bogus': 'bogus' is not a TrainConfig field"),
    ({"budget": "1m", "space": {"model": ["bow"], "cnn.dropout": [0.5]}}, r"'cnn' is not one of the models searched"),
    ({"budget": "1m", "space": {"batch_size": [0, 32]}}, r"tune space 'batch_size': 0 is not a value textkit takes"),
    ({"budget": "1m", "space": {"lr": []}}, r"'lr': expected a non-empty list of choices or a range dict"),
    ({"budget": "1m", "tries": 3}, r"tune must be a budget \('10m'\) or a dict with 'budget'"),
    ({"budget": "1m", "confidence": 1.0}, r"tune 'confidence' must be a number in \[0, 1\)"),
])
def test_an_invalid_budget_or_search_space_is_one_line_at_construction(tune, message):
    with pytest.raises(ValueError, match=message) as error:
        TextClassifier("bow", tune=tune)
    assert "\n" not in str(error.value)


def test_budgets_parse_as_durations():
    assert tuning.parse_budget("10m") == 600 and tuning.parse_budget("1h30m") == 5400
    assert tuning.parse_budget("90s") == tuning.parse_budget(90) == 90


def test_cli_tune_writes_every_trial_and_refuses_what_it_cannot_do(tmp_path, capsys):
    from textkit.cli import main

    space = tmp_path / "space.json"
    space.write_text(json.dumps(LR_ONLY), encoding="utf-8")
    out = tmp_path / "run"
    assert main(["train", "--corpus", "trec", "--model", "bow", "--epochs", "2", "--tune", "20s", "--tune-space",
                 str(space), "--device", "cpu", "--threads", "1", "--no-progress", "--out", str(out)]) == 0
    report = json.loads((out / "tuning.json").read_text(encoding="utf-8"))
    assert report["trials"] and report["best"]["model"] == "bow" and report["budget_s"] == 20
    assert all(t["train"]["epochs"] == 2 for t in report["trials"])  # options given hold in every trial
    assert "tune: " in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"lr": {"low": 1, "high": 0}}', encoding="utf-8")
    assert main(["train", "--corpus", "trec", "--tune", "1m", "--tune-space", str(bad), "--out",
                 str(tmp_path / "x")]) == 2
    assert f"--tune-space {bad}: tune space 'lr': a range is" in capsys.readouterr().err
    assert main(["train", "--corpus", "trec", "--tune-space", str(space), "--out", str(tmp_path / "y")]) == 2
    assert "--tune-space is the search space of --tune" in capsys.readouterr().err


def test_each_trial_is_said_once_whatever_its_end():
    said = []
    result = tuning.TuneResult(budget_s=60)
    callback = tuning._pruned_line(result, said.append)
    for state in ("complete", "stopped at the budget", "pruned"):  # the objective says the first two itself
        result.trials.append({"trial": len(result.trials), "model": "bow", "pipeline": {}, "model_config": {},
                              "train": {}, "state": state, "metric": "valid_accuracy", "seconds": 1.0})
        callback(None, None)
    assert said == ["tune trial 2: bow (its recipe): pruned; 1 s"]
