"""A time-boxed search over the model family and its options, on validation data only.

::

    clf = TextClassifier("bow", tune="10m").fit(texts, labels)
    clf.tuning_.best        # what it chose: model, pipeline, model_config, train
    clf.tuning_.trials      # every trial: options, state, its validation metric per epoch, seconds

``fit`` holds out its validation split as it always does (``valid=`` or ``valid_split``), and
the search sees nothing else: a test set never reaches it, and under cross-validation each
fold tunes on its own training part. Optuna's TPE sampler (seeded) proposes a model and its
options; each trial starts from that model's recipe (``textkit.recipes``: the corpus's with
``recipe=NAME``), trains with early stopping on the validation split, and reports the
validation accuracy after every epoch, so that Optuna's median pruner stops a trial that is
behind the earlier ones at the same epoch. The first trial is the classifier as it was made
(its model, recipe and the options given), so the search never ends below it on validation;
the options given hold in every trial unless the space searches them. Before the search, one
epoch of each family is timed on a growing sample of the texts, and a family whose epoch would
take more than a fifth of the budget is left out (``left_out`` says why): on long documents and
one core a CNN trial could otherwise spend the whole budget on a single epoch. The budget is
wall-clock and the timing counts against it, so a family is timed only while trial 0 would still
have time for an epoch, and a budget that cannot fit the timing and one epoch of trial 0 is
refused before any trial. Trial 0 always runs; no later trial starts after the budget, and a
running one is stopped at its first epoch end past it, keeping its best epoch as its result.
The best trial's model, already trained and early-stopped on that split, becomes the fitted
classifier, if it beats the first trial (the classifier as made) by more than chance: the best
of many trials on one validation split is partly the best luck, and on Subj a search's +1.1
points there became -0.4 on test. So both are scored on the same validation texts resampled
2,000 times (a paired bootstrap), and the search's best is kept only if it is better in at
least ``confidence`` of them (0.95 unless ``tune={"confidence": ...}`` says otherwise; 0 keeps
the best trial whatever the margin); otherwise the first trial is the result.
``TuneResult.check`` records the comparison.

A search space (``tune={"budget": "10m", "space": {...}}``) maps a name to a list of choices
or to ``{"low": a, "high": b, "log": bool}`` (integers if both ends are). ``"model"`` lists the
families; any other name is a ``TrainConfig`` field, a ``TextPipeline`` option or a model
option, and ``"cnn.dropout"`` scopes it to one family. ``DEFAULT_SPACE`` is the one used
otherwise. Text models with one label per text only (the layout grid and multi-label fits have
no search yet).
"""
from __future__ import annotations

import copy
import dataclasses
import importlib.util
import inspect
import json
import math
import re
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .recipes import recipe_for
from .train_config import TrainConfig
from .training import StopTraining

if TYPE_CHECKING:
    from .classifier import TextClassifier

TEXT_MODELS = ("bow", "cnn", "rnn")
DEFAULT_SPACE: dict[str, Any] = {
    "model": list(TEXT_MODELS),
    "lr": {"low": 1e-4, "high": 1e-2, "log": True},
    "batch_size": [32, 64, 128],
    "bow.embed_dim": {"low": 16, "high": 256, "log": True},
    "bow.ngram_range": [[1, 1], [1, 2], [1, 3]],
    "bow.distinct": [False, True],
    "bow.pooling": ["mean", "sqrt"],
    "cnn.num_filters": [100, 200],
    "cnn.dropout": {"low": 0.2, "high": 0.6},
    "rnn.cell": ["lstm", "gru"],
    "rnn.hidden_dim": [64, 128, 256],
    "rnn.dropout": {"low": 0.2, "high": 0.6},
}
PROBE_START, PROBE_TEXTS = 8, 512  # each family's epoch is timed on 8, 32, 128 ... texts, at most this many
PROBE_SECONDS = 2.0  # ... until a step takes this much longer than the one before
MIN_EPOCHS_IN_BUDGET = 5  # a family whose epoch takes more than budget / this is left out of the search
DEFAULT_CONFIDENCE = 0.95  # the search's best replaces the classifier as made only if better in this share of resamples


@dataclass
class TuneResult:
    """What a search tried and chose (JSON-ready: ``dataclasses.asdict``)."""

    budget_s: float
    metric: str = "valid_accuracy"  # what the search maximizes (minimizes for valid_loss): TrainConfig.monitor's
    seconds: float = 0.0
    best: dict[str, Any] = field(default_factory=dict)  # model, pipeline, model_config, train, trial
    best_value: float | None = None  # the best trial's metric
    trials: list[dict[str, Any]] = field(default_factory=list)
    left_out: dict[str, str] = field(default_factory=dict)  # families too slow for the budget, and why
    interrupted: bool = False
    confidence: float = DEFAULT_CONFIDENCE
    # the search's best against trial 0 on validation: trial, gain, p (share of resamples it is not better), texts,
    # adopted (empty when trial 0 was the best, or not the classifier as made)
    check: dict[str, Any] = field(default_factory=dict)


def parse_budget(value: Any) -> float:
    """``"10m"``, ``"90s"``, ``"1h30m"`` or a number of seconds -> seconds (> 0)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and re.fullmatch(r"(\d+(\.\d+)?[hms]?)+", value.strip()) and value.strip():
        parts = re.findall(r"(\d+(?:\.\d+)?)([hms]?)", value.strip())
        seconds = sum(float(n) * {"h": 3600, "m": 60, "s": 1, "": 1}[unit] for n, unit in parts)
    else:
        raise ValueError(f"tune budget must be a duration like '10m', '90s' or '1h30m', or seconds, got {value!r}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"tune budget must be more than 0 seconds, got {value!r}")
    return seconds


def check_tune(tune: Any) -> dict[str, Any] | None:
    """``tune=`` as given -> ``{"budget": seconds, "space": {...}, "trials": int | None}``, every
    name and range checked: an invalid search space is one line, before anything trains."""
    if tune is None:
        return None
    if importlib.util.find_spec("optuna") is None:  # an extra: say so now, not after the data is read
        raise ImportError("tune= needs Optuna, an optional extra: pip install 'textkit[tune]' (or: pip install optuna)")
    options = dict(tune) if isinstance(tune, dict) else {"budget": tune}
    unknown = sorted(set(options) - {"budget", "space", "trials", "confidence"})
    if unknown or "budget" not in options:
        raise ValueError(f"tune must be a budget ('10m') or a dict with 'budget' and optionally 'space', 'trials' and "
                         f"'confidence', got {tune!r}")
    trials = options.get("trials")
    if trials is not None and (not isinstance(trials, int) or isinstance(trials, bool) or trials < 1):
        raise ValueError(f"tune 'trials' must be an int >= 1 or None, got {trials!r}")
    confidence = options.get("confidence", DEFAULT_CONFIDENCE)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence < 1:
        raise ValueError(f"tune 'confidence' must be a number in [0, 1) (the share of validation resamples in which "
                         f"the search's best must beat the classifier as made; 0 keeps the best), got {confidence!r}")
    space = options.get("space") or DEFAULT_SPACE
    return {"budget": parse_budget(options["budget"]), "space": _checked_space(space), "trials": trials,
            "confidence": float(confidence)}


def _checked_space(space: Any) -> dict[str, Any]:
    from .models import check_model_options

    if not isinstance(space, dict) or not space:
        raise ValueError(f"tune space must be a non-empty dict of name -> choices or range, got {space!r}")
    models = space.get("model", list(TEXT_MODELS))
    if not isinstance(models, list) or not models or any(m not in TEXT_MODELS for m in models):
        raise ValueError(f"tune space 'model' must list some of {list(TEXT_MODELS)}, got {models!r}")
    for name, spec in space.items():
        if name == "model":
            continue
        scope, _, option = name.rpartition(".")
        if scope and scope not in models:
            raise ValueError(f"tune space {name!r}: {scope!r} is not one of the models searched ({models})")
        values = spec if isinstance(spec, list) else [spec.get("low"), spec.get("high")] \
            if isinstance(spec, dict) else None
        if isinstance(spec, dict):
            low, high = spec.get("low"), spec.get("high")
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
            if set(spec) - {"low", "high", "log"} or not numbers or not low < high:
                raise ValueError(f"tune space {name!r}: a range is {{'low': a, 'high': b, 'log': bool}} with a < b, "
                                 f"got {spec!r}")
            if spec.get("log") and low <= 0:
                raise ValueError(f"tune space {name!r}: a log range needs low > 0, got {spec!r}")
        elif not isinstance(spec, list) or not spec:
            raise ValueError(f"tune space {name!r}: expected a non-empty list of choices or a range dict, got {spec!r}")
        part = _part_of(option)
        targets = [m for m in ([scope] if scope else models) if _applies(m, option)]
        if not targets:
            raise ValueError(f"tune space {name!r}: {option!r} is not a TrainConfig field, a TextPipeline option or "
                             f"an option of {' or '.join([scope] if scope else models)}")
        for model in targets:
            for value in values:  # each choice (or each end of a range) must be an option value textkit takes
                try:
                    if part == "model_config":
                        check_model_options(model, {option: value})
                    elif part == "train":
                        TrainConfig(**{option: value})
                    else:
                        from .pipeline import TextPipeline

                        TextPipeline(**{option: tuple(value) if isinstance(value, list) else value})
                except (TypeError, ValueError) as e:
                    raise ValueError(f"tune space {name!r}: {value!r} is not a value textkit takes ({e})") from None
    return space


def _part_of(option: str) -> str:
    from .pipeline import TextPipeline

    if option in inspect.signature(TrainConfig).parameters:
        return "train"
    if option in inspect.signature(TextPipeline).parameters:
        return "pipeline"
    return "model_config"


def tune(clf: TextClassifier, texts: list[str], targets: np.ndarray, valid: tuple[list[str], np.ndarray],
         classes: list, settings: dict[str, Any]) -> TuneResult:
    """Search on ``(texts, targets)`` and ``valid`` (encoded class ids); leaves ``clf`` fitted with
    the best trial's model and returns the record of the search."""
    import optuna

    from .classifier import TextClassifier, _cut
    from .pipeline import TextPipeline

    budget, space = settings["budget"], settings["space"]
    started = time.perf_counter()
    deadline = started + budget
    metric = f"valid_{clf.train_config.monitor}"  # what early stopping watches is what the search compares
    lower = metric == "valid_loss"
    result = TuneResult(budget_s=budget, metric=metric, confidence=settings.get("confidence", DEFAULT_CONFIDENCE))
    say = _sayer(clf.train_config.progress)
    corpus = None if clf.recipe in (None, "default") else clf.recipe
    params = clf.get_params()
    given = params["pipeline"]  # options layer over the recipe's; a TextPipeline is used as it is
    # the classifier as configured is the starting point: its given options hold in every trial, unless searched
    given_train = {k: v for k, v in params.items() if k in inspect.signature(TrainConfig).parameters}
    given_model = params["model_config"] or {}
    encoded: dict[str, tuple] = {}  # pipeline options -> (fitted pipeline, train rows, valid rows)

    def data_for(options: dict) -> tuple:
        key = json.dumps(options, sort_keys=True, default=list)
        if key not in encoded:
            pipeline = copy.deepcopy(given) if isinstance(given, TextPipeline) else \
                TextPipeline(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})
            rows = _cut(pipeline, pipeline.fit_encode(texts))
            encoded[key] = (pipeline, rows, _cut(pipeline, pipeline.encode(valid[0])))
        return encoded[key]

    def base_settings(model: str) -> dict[str, dict]:
        """``model``'s recipe under the options given: what its trials start from."""
        chosen = recipe_for(model, corpus) if clf.recipe is not None else {"pipeline": {}, "model_config": {},
                                                                           "train": {}}
        if isinstance(given, TextPipeline):
            chosen["pipeline"] = {}  # not searched: the pipeline given is used as it is
        elif given:
            chosen["pipeline"] = {**chosen["pipeline"], **given}
        chosen["train"].update(given_train)
        if model == clf.model_name:  # model options given are the given model's
            chosen["model_config"].update(given_model)
        return chosen

    def settings_of(trial: optuna.Trial) -> tuple[str, dict[str, dict]]:
        first = trial.number == 0 and clf.model_name in families
        model = clf.model_name if first else trial.suggest_categorical("model", families)
        chosen = base_settings(model)
        if not first:  # trial 0 is the classifier as made
            for name, spec in space.items():
                scope, _, option = name.rpartition(".")
                if name == "model" or (scope and scope != model) or not _applies(model, option) or \
                        (isinstance(given, TextPipeline) and _part_of(option) == "pipeline"):
                    continue
                chosen[_part_of(option)][option] = _suggest(trial, name, spec)
        return model, chosen

    def epoch_seconds(model: str) -> tuple[float, float]:
        """(seconds to fit and encode the pipeline, estimated seconds of one epoch of ``model``).

        One epoch is timed on 8 texts drawn at random (a class-sorted file has both), then on four
        times as many, until the step's increase on the one before takes ``PROBE_SECONDS`` or it
        reaches ``PROBE_TEXTS``: on long documents one epoch of 512 texts can take minutes, and the
        probes count against the budget. The last two steps' difference, over the ids they add,
        is the cost per id: the model's fixed cost (building it: seconds for a large vocabulary)
        is counted once, and a sample that happens to hold a long post is not scaled up as if
        every text were that long."""
        chosen = base_settings(model)
        t0 = time.perf_counter()
        pipeline, rows, _ = data_for(chosen["pipeline"])
        pipeline_s = time.perf_counter() - t0
        lengths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
        order = np.random.default_rng(0).permutation(len(rows))
        probe = TextClassifier(model, recipe=None, model_config=chosen["model_config"], valid_split=0,
                               **{**chosen["train"], "epochs": 1, "progress": False,
                                  **{k: getattr(clf.train_config, k) for k in ("device", "threads", "seed")}})
        steps: list[tuple[int, int, float]] = [(0, 0, 0.0)]  # (texts, ids, seconds)
        while True:
            pick = np.sort(order[:min(steps[-1][0] * 4 or PROBE_START, PROBE_TEXTS, len(rows))])
            t1 = time.perf_counter()
            if len(set(targets[pick].tolist())) >= 2:
                probe.fit_encoded(pipeline, ([rows[i] for i in pick], targets[pick]), classes=classes)
            steps.append((len(pick), max(int(lengths[pick].sum()), 1), time.perf_counter() - t1))
            if len(pick) in (PROBE_TEXTS, len(rows)) or \
                    (len(steps) > 2 and steps[-1][2] - steps[-2][2] >= PROBE_SECONDS):
                break
        (_, ids, seconds), (_, ids_before, before) = steps[-1], steps[-2]
        per_id = max(seconds - before, 0.0) / max(ids - ids_before, 1) if len(steps) > 2 else seconds / ids
        epoch_s = seconds + per_id * max(int(lengths.sum()) - ids, 0)
        say(f"tune: timed {model}: pipeline {pipeline_s:.1f} s, one epoch about {epoch_s:.{int(epoch_s < 10)}f} s "
            f"({time.perf_counter() - started:.0f} s of the budget spent)")
        return pipeline_s, epoch_s

    def objective(trial: optuna.Trial) -> float:
        nonlocal best, made
        model, chosen = settings_of(trial)
        record = {"trial": trial.number, "model": model, **copy.deepcopy(chosen), "state": "running",
                  "metric": metric, "per_epoch": [], "seconds": 0.0}
        result.trials.append(record)
        t0 = time.perf_counter()
        pipeline, rows, valid_rows = data_for(chosen["pipeline"])

        def on_epoch_end(epoch_record: dict) -> None:
            value = epoch_record.get(metric)
            record["per_epoch"].append(value)
            trial.report(value, epoch_record["epoch"])
            if time.perf_counter() > deadline:  # what it learnt so far counts: its best epoch is its result
                record["state"] = "stopped at the budget"
                raise StopTraining
            if trial.should_prune():
                record["state"] = "pruned"
                raise optuna.TrialPruned()

        fixed = {k: getattr(clf.train_config, k) for k in ("device", "seed", "threads", "amp", "monitor")}
        candidate = TextClassifier(model, recipe=None, model_config=chosen["model_config"], valid_split=0,
                                   **{**chosen["train"], **fixed, "progress": False})
        try:
            candidate.fit_encoded(pipeline, (rows, targets), (valid_rows, valid[1]), classes=classes,
                                  on_epoch_end=on_epoch_end)
        finally:
            record["seconds"] = round(time.perf_counter() - t0, 1)
        value = float(candidate.result_.best_metric)
        if record["state"] == "running":
            record["state"] = "complete"
        record.update(best_epoch=candidate.result_.best_epoch, value=value)
        if trial.number == 0 and model == clf.model_name:
            made = (value, candidate, record)
        if best is None or (value < best[0] if lower else value > best[0]):
            best = (value, candidate, record)
        say(_trial_line(record, best[2] is record))
        return value

    best: tuple[float, TextClassifier, dict] | None = None
    made: tuple[float, TextClassifier, dict] | None = None  # trial 0, the classifier as made
    families = list(space.get("model", TEXT_MODELS))
    first = clf.model_name if clf.model_name in families else families[0]
    pipeline_s, epoch_s = epoch_seconds(first)
    probing_s = time.perf_counter() - started
    if probing_s + epoch_s > budget:  # its pipeline is kept: trial 0 needs one epoch more
        raise ValueError(f"tune budget of {budget:g} s cannot fit one trial: the pipeline took {pipeline_s:.1f} s and "
                         f"one epoch of {first} on these {len(texts):,} texts takes about {epoch_s:.0f} s; give at "
                         f"least {math.ceil((probing_s + epoch_s) * 3)} s (a few epochs of a few trials)")
    for model in [m for m in families if m != first]:  # a family far too slow here would eat the budget
        if time.perf_counter() + probing_s + epoch_s > deadline:  # timing it could leave trial 0 no epoch
            families.remove(model)
            result.left_out[model] = "no time was left to time one epoch of it"
            say(f"tune: {model} left out: {result.left_out[model]}")
            continue
        epoch = epoch_seconds(model)[1]
        if epoch > budget / MIN_EPOCHS_IN_BUDGET:
            families.remove(model)
            result.left_out[model] = (f"one epoch takes about {epoch:.0f} s on these {len(texts):,} texts, more than "
                                      f"1/{MIN_EPOCHS_IN_BUDGET} of the budget")
            say(f"tune: {model} left out: {result.left_out[model]}")
    import logging

    logging.getLogger("optuna").setLevel(logging.WARNING)
    study = optuna.create_study(direction="minimize" if lower else "maximize",
                                sampler=optuna.samplers.TPESampler(seed=clf.train_config.seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            # trial 0 runs whatever the timing spent (the check above left it an epoch); the rest while time is left
            callbacks = [_pruned_line(result, say)]
            study.optimize(objective, n_trials=1, callbacks=callbacks)
            more = None if settings["trials"] is None else settings["trials"] - 1
            if (more is None or more > 0) and time.perf_counter() < deadline:
                study.optimize(objective, n_trials=more, timeout=deadline - time.perf_counter(), callbacks=callbacks)
    except KeyboardInterrupt:
        if best is None:
            raise
        result.interrupted = True
        for record in result.trials:
            if record["state"] == "running":
                record["state"] = "interrupted"
    # trial 0 always trains at least one epoch, so ``best`` is set unless Ctrl-C came first (re-raised above)
    if made is not None and best[2] is not made[2]:
        best = _checked_against(made, best, valid[1], lambda options: data_for(options)[2], result, say,
                                clf.train_config.seed)
    value, winner, record = best
    result.best = {"trial": record["trial"], "model": record["model"],
                   **{part: record[part] for part in ("pipeline", "model_config", "train")}}
    result.best_value, result.seconds = value, round(time.perf_counter() - started, 1)
    _adopt(clf, winner)
    return result


def _checked_against(made: tuple, best: tuple, targets: np.ndarray, valid_rows_for, result: TuneResult, say,
                     seed: int) -> tuple:
    """The search's best if it beats trial 0 (the classifier as made) on the validation texts in
    at least ``result.confidence`` of their bootstrap resamples, else trial 0."""
    from .metrics import paired_bootstrap

    logits = [trial[1]._logits_of(valid_rows_for(trial[2]["pipeline"])) for trial in (made, best)]
    gain, p = paired_bootstrap(targets, *logits, result.metric.removeprefix("valid_"), seed=seed)
    adopted = 1 - p >= result.confidence
    result.check = {"trial": best[2]["trial"], "gain": gain, "p": p, "texts": len(targets), "adopted": adopted}
    name = result.metric.replace("_", " ")
    verdict = ("kept" if adopted else f"within chance (needs {result.confidence:g}): keeping trial 0, the "
               "classifier as made")
    say(f"tune: trial {best[2]['trial']} against trial 0 on {len(targets):,} validation texts: {name} "
        f"{gain:+.4f}, better in {1 - p:.1%} of bootstrap resamples; {verdict}")
    return best if adopted else made


def _applies(model: str, option: str) -> bool:
    """A model option is searched only for the families that take it."""
    if _part_of(option) != "model_config":
        return True
    from .models import MODELS

    return option in {f.name for f in dataclasses.fields(MODELS[model].config_class)}


def _suggest(trial, name: str, spec: Any) -> Any:
    if isinstance(spec, list):
        labels = [json.dumps(choice) for choice in spec]  # Optuna's choices are scalars: lists go as JSON
        return json.loads(trial.suggest_categorical(name, labels))
    low, high, log = spec["low"], spec["high"], bool(spec.get("log", False))
    if isinstance(low, int) and isinstance(high, int):
        return trial.suggest_int(name, low, high, log=log)
    return trial.suggest_float(name, float(low), float(high), log=log)


def _adopt(clf: TextClassifier, winner: TextClassifier) -> None:
    """``clf`` becomes the winning trial's fitted classifier; its parameters stay as given."""
    for name in ("pipeline_", "model_", "classes_", "threshold_", "result_", "sizes_", "model_name", "model_config",
                 "train_config"):
        setattr(clf, name, getattr(winner, name))
    clf.train_config = TrainConfig(**{**winner.train_config.to_dict(), "progress": clf.train_config.progress})


def _sayer(progress: bool | None):
    quiet = progress is False

    def say(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    return say


# where and how a trial runs, not what it is: left out of its line (tuning.json has them)
_OPERATIONAL = {"device", "seed", "threads", "progress", "num_workers", "eval_batch_size", "log_interval"}


def _trial_line(record: dict, best: bool) -> str:
    options = {k: v for part in ("pipeline", "model_config", "train") for k, v in record[part].items()
               if k not in _OPERATIONAL}
    shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in options.items())
    value = record.get("value")
    scored = f", {record['metric'].replace('_', ' ')} {value:.4f}" if value is not None else ""
    return (f"tune trial {record['trial']}: {record['model']} ({shown or 'its recipe'}): {record['state']}{scored}"
            f"{' (best)' if best else ''}; {record['seconds']:.0f} s")


def _pruned_line(result: TuneResult, say):
    """A line for a pruned trial, which leaves the objective before it says its own."""
    def callback(study, trial) -> None:
        record = result.trials[-1] if result.trials else None
        if record is not None and record["state"] == "pruned":
            say(_trial_line(record, False))

    return callback
