"""``TextClassifier``: a text pipeline + a model + the label names, as one estimator.

::

    clf = TextClassifier("cnn", epochs=10).fit(train_texts, train_labels)
    clf.predict(["How far is the moon ?"])        # ['NUM']
    clf.predict_proba(texts)                      # (N, C) float32, columns in clf.classes_ order
    clf.evaluate(test_texts, test_labels)         # accuracy, F1s, per-class, confusion matrix
    clf.save("trec-cnn"); TextClassifier.load("trec-cnn")   # same predictions

``fit`` in order: check texts and labels -> hold out a seeded, stratified validation split
(``valid_split`` of the training texts, when no ``valid=`` is given) -> fit the pipeline's
vocabulary on the remaining training texts only -> build the model -> :func:`textkit.training.train`
with early stopping on the validation split.

The layout model reads pages instead of texts, with nothing else changed::

    clf = TextClassifier("grid").fit(pages, labels)   # Page objects, or rows with words + bboxes
    clf.predict(pages)                                # a LayoutPipeline places them on its grid

A saved classifier is a directory, no pickle anywhere: ``config.json``, ``pipeline.json`` and
``model.safetensors``, checked against each other on load (see :mod:`textkit.model_files`).
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import warnings
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Hashable, Iterable, Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin  # already imported by .metrics

from . import metrics
from . import model_files
from .fileio import is_number
from .pipeline import TextPipeline, check_texts
from .batching import as_dataset
from .labels import check_known, normalize_labels
from .recipes import layered, recipe_for
from .training import (
    TrainConfig,
    TrainResult,
    predict_logits,
    resolve_device,
    seed_everything,
    train,
)

if TYPE_CHECKING:
    from .layout import LayoutPipeline

THRESHOLD_MODES = ("tune", "tune_per_label")
TRAIN_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


class TextClassifier(ClassifierMixin, BaseEstimator):
    """Train, apply, evaluate and save a text classifier.

    Args (all but ``model`` keyword-only):
        model: a name registered in ``textkit.models.MODELS`` (``"bow"``, ``"cnn"``, ``"rnn"``,
            or ``"grid"``, which reads pages: see the module doc).
        pipeline: a ``TextPipeline`` (copied, then fitted on the training texts), a dict of
            ``TextPipeline`` options, or ``None`` for the default pipeline. For ``"grid"``: a
            ``LayoutPipeline`` or a dict of its options (``grid``, ``slots``, ``text``), or a
            ``TextPipeline`` to use as its text layer.
        model_config: options for ``build_model`` (e.g. ``{"embed_dim": 300}``).
        tune: a time budget (``"10m"``, ``"90s"``, seconds) or ``{"budget": ..., "space": {...},
            "trials": N}``: ``fit`` then searches the model family and its options on its
            validation split within that budget, starting from the recipe, and keeps the best
            trial's model if it beats the first trial by more than chance (``"confidence"``,
            0.95 by default; see :mod:`textkit.tuning`; ``tuning_`` holds every trial). ``model``
            is the first trial's; the fitted model's name is in ``model_name``.
        recipe: the validated settings the options above (and the training options) start from,
            each option given here winning over the recipe's, one at a time (see
            :mod:`textkit.recipes`): ``"default"`` (the model's cross-corpus defaults), a
            registered corpus name (``"trec"``: the recipe validation chose there for this
            model), or ``None`` (none: the plain ``TrainConfig`` and ``build_model`` defaults).
            A ``TextPipeline`` object given as ``pipeline`` is used as it is.
        vectors: a word-vector file (word2vec, fastText ``.vec``, GloVe; see
            :mod:`textkit.vectors`) that initializes the embedding rows of the vocabulary ``fit``
            builds; ``embed_dim`` becomes its dimension. ``vectors_coverage_`` says how many
            tokens it had. A saved model holds the vectors in its weights, not the file's path.
        multi_label: labels are collections of labels per text (sigmoid outputs,
            ``BCEWithLogits``); ``predict`` returns a list of labels per text.
        valid_split: when ``fit`` gets no ``valid=``, this fraction of the training texts is
            held out (stratified by label, seeded by ``seed``) for early stopping and to
            pick the best epoch. ``0`` trains on everything without validation. If a
            class has a single example, no stratified split exists: ``fit`` warns and
            trains without validation.
        threshold: multi-label decision threshold: a number in (0, 1), ``"tune"`` (one
            threshold maximizing micro F1 on the validation split) or ``"tune_per_label"``.
        out_dir: where training writes ``checkpoint.pt`` and ``history.jsonl`` (``None``: nowhere).
        **train_options: any :class:`~textkit.training.TrainConfig` field (``epochs``,
            ``batch_size``, ``lr``, ``optimizer``, ``patience``, ``device``, ``seed``, ...).

    Labels are kept as given: all ``str`` or all ``int`` (not mixed); ``classes_`` is
    their sorted list and the column order of ``predict_proba``.

    A scikit-learn estimator: ``get_params`` / ``set_params`` (every option above, training
    options included, by name), ``score`` and ``clone`` work, so it fits in ``GridSearchCV``,
    ``cross_val_score`` and a ``Pipeline``. ``get_params`` returns the arguments exactly as
    given; the attributes ``pipeline``, ``model_config`` and ``train_config`` hold their
    checked forms (a dict of pipeline options becomes a pipeline), which ``fit`` uses.
    """

    def __init__(
        self,
        model: str = "cnn",
        *,
        pipeline: TextPipeline | dict | None = None,
        model_config: dict | None = None,
        recipe: str | None = "default",
        tune: str | float | dict | None = None,
        vectors: str | os.PathLike | None = None,
        multi_label: bool = False,
        valid_split: float = 0.1,
        threshold: float | str = 0.5,
        out_dir: str | os.PathLike | None = None,
        **train_options: Any,
    ) -> None:
        unknown = sorted(set(train_options) - set(TRAIN_DEFAULTS))
        if unknown:
            raise TypeError(f"TextClassifier got unknown option(s) {unknown}; training options are "
                            f"{sorted(TRAIN_DEFAULTS)}")
        self._configure(dict(model=model, pipeline=pipeline, model_config=model_config, recipe=recipe, tune=tune,
                             multi_label=multi_label, valid_split=valid_split, threshold=threshold, out_dir=out_dir,
                             vectors=vectors, **train_options))
        # Learned by fit (or load):
        self.pipeline_: TextPipeline | None = None
        self.model_: torch.nn.Module | None = None
        self.classes_: list | None = None
        self.threshold_: float | np.ndarray | None = None
        self.result_: TrainResult | None = None
        self.sizes_: dict[str, int] | None = None  # texts trained and validated on (valid_split's hold-out)
        self.vectors_coverage_ = None  # textkit.vectors.VectorCoverage of the fit's vocabulary
        self.tuning_ = None  # textkit.tuning.TuneResult of a fit with tune=

    def _configure(self, params: dict[str, Any]) -> None:
        """Check every parameter, then set the attributes ``fit`` reads: all or nothing, so a
        refused ``set_params`` leaves the estimator as it was."""
        from .models import MODELS  # torch models load on first use

        model, pipeline, model_config = params["model"], params["pipeline"], params["model_config"]
        multi_label, valid_split, threshold = params["multi_label"], params["valid_split"], params["threshold"]
        if model not in MODELS:
            raise ValueError(f"model must be one of {sorted(MODELS)}, got {model!r}")
        reads_pages = MODELS[model].inputs == "pages"
        if model_config is not None and not isinstance(model_config, dict):
            raise TypeError(f"model_config must be a dict of build_model options or None, "
                            f"got {type(model_config).__name__}")
        chosen = _recipe(params["recipe"], model)
        if params["vectors"] is not None:  # the vectors' dimension is the embedding's
            chosen["model_config"].pop("embed_dim", None)
        if pipeline is None or isinstance(pipeline, dict):
            pipeline = layered(chosen["pipeline"], pipeline) or None
        pipeline = _make_pipeline(pipeline, reads_pages, model)  # options checked now, not at fit time
        model_config = layered(chosen["model_config"], model_config)
        from .models import check_model_options

        # now, not at fit time after the vocabulary is built ("embeddings" are build_model's own)
        check_model_options(model, {k: v for k, v in (model_config or {}).items() if k != "embeddings"})
        if not isinstance(multi_label, bool):
            raise ValueError(f"multi_label must be True or False, got {multi_label!r}")
        if isinstance(valid_split, bool) or not isinstance(valid_split, (int, float)) or not 0 <= valid_split < 1:
            raise ValueError(f"valid_split must be a fraction in [0, 1), got {valid_split!r}")
        if not (threshold in THRESHOLD_MODES or (is_number(threshold) and 0 < threshold < 1)):
            raise ValueError(f"threshold must be a number in (0, 1) or one of {THRESHOLD_MODES}, got {threshold!r}")
        from .tuning import check_tune

        tune_settings = check_tune(params["tune"])
        if tune_settings is not None and (params["vectors"] is not None or params["out_dir"] is not None):
            raise ValueError("tune= trains many models: vectors= and out_dir= (resumable runs) are for one model; "
                             "tune without them, then train the chosen settings with them")
        vectors = params["vectors"]
        if vectors is not None:
            if not isinstance(vectors, (str, os.PathLike)):
                raise TypeError(f"vectors must be the path of a word-vector file or None, got {type(vectors).__name__}")
            if not Path(vectors).is_file():  # now, not after the vocabulary is built
                raise FileNotFoundError(f"word vector file not found: {vectors}")
        # TrainConfig's defaults, then the recipe's, then the options given
        train_config = TrainConfig(**{**TRAIN_DEFAULTS, **chosen["train"],
                                      **{k: v for k, v in params.items() if k in TRAIN_DEFAULTS}})
        resolve_device(train_config.device)  # device="cuda" without a GPU fails here, not mid-fit
        self.model_name, self.reads_pages, self.pipeline = model, reads_pages, pipeline
        self.model_config = dict(model_config or {})
        self.recipe = params["recipe"]
        self.tune_settings = tune_settings
        self.multi_label, self.valid_split, self.threshold = multi_label, valid_split, threshold
        self.out_dir = params["out_dir"]
        self.vectors = vectors
        self.train_config = train_config
        self._params = params  # as given: sklearn's clone checks each is the very object passed

    # -- scikit-learn ------------------------------------------------------------------------------
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Every named constructor argument, and the training options given (``lr``, ``epochs``,
        ...), each exactly as given; the others come from the recipe or ``TrainConfig``, and
        ``train_config`` holds the values a fit uses. So ``clone`` and ``set_params(model=...)``
        keep what was chosen and let the recipe fill in the rest. Written out because sklearn's
        default reads ``__init__``'s signature, which does not name the ``**train_options``.
        ``deep`` changes nothing: no parameter is itself an estimator."""
        return dict(self._params)

    def set_params(self, **params: Any) -> "TextClassifier":
        """Change parameters by name (``set_params(model="bow", lr=0.01)``), checked as the
        constructor checks them; any training option may be set. Takes effect at the next
        ``fit``; a fitted model is kept until then."""
        unknown = sorted(set(params) - set(self._params) - set(TRAIN_DEFAULTS))
        if unknown:
            raise ValueError(f"TextClassifier.set_params got unknown parameter(s) {unknown}; valid parameters "
                             f"are {sorted(set(self._params) | set(TRAIN_DEFAULTS))}")
        self._configure({**self._params, **params})
        return self

    def score(self, texts: Iterable[str], labels: Sequence, sample_weight: Sequence[float] | None = None) -> float:
        """Accuracy of ``predict`` on ``labels``, as sklearn's ``ClassifierMixin.score``: for
        multi-label the subset accuracy (a text counts only if its whole label set is right).
        What ``cross_val_score`` and ``GridSearchCV`` maximise when given no ``scoring``."""
        self._check_fitted("score")
        texts, labels = self._check_pair(texts, labels, "texts", "labels")
        predicted = self.predict(texts)
        if self.multi_label:
            hits = [set(p) == set(t) for p, t in zip(predicted, labels)]
        else:
            hits = [p == t for p, t in zip(predicted, labels)]
        return float(np.average(hits, weights=sample_weight))

    def __sklearn_is_fitted__(self) -> bool:
        # sklearn's default check counts attributes ending in "_", which exist (as None) unfitted
        return self.model_ is not None

    # -- fit ---------------------------------------------------------------------------------
    def fit(self, texts: Iterable[str], labels: Sequence, valid: tuple[Sequence[str], Sequence] | None = None,
            *, resume: bool = False) -> "TextClassifier":
        """Learn the vocabulary, the model and the label set from ``texts`` and ``labels``.

        ``valid=(texts, labels)`` is the validation data for early stopping; without it a
        ``valid_split`` part of ``texts`` is held out (see the class doc). ``resume=True``
        continues an interrupted run from ``out_dir``.
        """
        texts, labels = self._check_pair(texts, labels, "texts", "labels")
        if len(texts) < 2:
            raise ValueError(f"texts must hold at least 2 training texts, got {len(texts)}")
        classes = sorted(set(label for row in labels for label in row) if self.multi_label else set(labels))
        if self.multi_label and not classes:
            raise ValueError("labels: no text has any label; multi_label=True needs at least one label in use")
        if not self.multi_label and len(classes) < 2:
            raise ValueError(f"labels must contain at least 2 distinct classes to learn from, got only {classes!r}")
        config = self.train_config
        if valid is not None:
            if not isinstance(valid, (tuple, list)) or len(valid) != 2:
                raise TypeError(f"valid must be a pair (texts, labels) or None, got {type(valid).__name__}")
            valid_texts, valid_labels = self._check_pair(valid[0], valid[1], "valid texts", "valid labels")
            check_known(valid_labels, classes, "valid labels", self.multi_label)
        elif self.valid_split > 0:
            texts, labels, valid_texts, valid_labels = self._split(texts, labels, classes, config.seed)
        else:
            valid_texts = valid_labels = None
        if self.tune_settings is not None:
            return self._tune(texts, labels, valid_texts, valid_labels, classes)

        seed_everything(config.seed)  # model initialisation is part of the seeded run
        pipeline = copy.deepcopy(self.pipeline) if self.pipeline is not None else _default_pipeline(self.reads_pages)
        # vocabulary from the training part only: no validation/test leakage
        sequences = pipeline.fit_encode(texts)
        if not any(as_dataset(sequences).lengths):
            what = "pages" if self.reads_pages else "texts"
            raise ValueError(f"{what}: every one of the {len(texts)} training {what} cleans to nothing (no tokens "
                             f"after cleaning and tokenizing), e.g. {texts[0]!r:.80}; check the {what} or the "
                             f"pipeline's cleaner options")
        valid_data = None
        if valid_texts is not None:
            valid_data = (_cut(pipeline, pipeline.encode(valid_texts)), self._targets(valid_labels, classes))
        self._train_model(pipeline, (_cut(pipeline, sequences), self._targets(labels, classes)), valid_data, classes,
                          resume)
        return self

    def _tune(self, texts: list, labels: list, valid_texts: list | None, valid_labels: list | None,
              classes: list) -> "TextClassifier":
        """``fit`` with ``tune=``: the search of :mod:`textkit.tuning` on this fit's train/valid split."""
        from .tuning import tune

        if self.reads_pages or self.multi_label:
            raise ValueError("tune= searches text models with one label per text; the layout grid and multi_label "
                             "have no search yet: fit without tune")
        if valid_texts is None:
            raise ValueError("tune= chooses on validation data: give valid= or a valid_split > 0")
        self.tuning_ = tune(self, texts, self._targets(labels, classes),
                            (valid_texts, self._targets(valid_labels, classes)), classes, self.tune_settings)
        return self

    def fit_encoded(self, pipeline: TextPipeline, train_data: tuple, valid_data: tuple | None = None, *,
                    classes: Sequence, resume: bool = False,
                    on_epoch_end: Callable[[dict], None] | None = None) -> "TextClassifier":
        """Train on texts a fitted ``pipeline`` already encoded, with that pipeline as it is (no refit):
        what ``textkit train --data`` does with a ``textkit preprocess`` output
        (:func:`textkit.shards.read_encoded`).

        ``train_data = (rows, targets)``: ``rows`` an ``EncodedDataset``, the shards' ``ShardedRows``
        or id lists, ``targets``
        int indices ``(N,)`` into ``classes``; ``valid_data`` likewise, or ``None`` to hold out
        ``valid_split`` of the rows (stratified, seeded; no copy of the ids). ``on_epoch_end(record)``
        runs after each epoch, with its history record (the tuner stops a trial from there).
        """
        if self.reads_pages or self.multi_label:
            raise ValueError("fit_encoded trains text models on single labels; pages and multi_label use fit")
        if not isinstance(pipeline, TextPipeline) or pipeline.vocab is None:
            raise TypeError(f"pipeline must be a fitted TextPipeline, got {type(pipeline).__name__}"
                            f"{' (not fitted)' if isinstance(pipeline, TextPipeline) else ''}")
        classes = list(classes)
        rows, targets = train_data
        rows, targets = as_dataset(rows), np.asarray(targets, dtype=np.int64)
        if len(classes) < 2 or len(set(targets.tolist())) < 2:
            raise ValueError(f"fit_encoded needs at least 2 classes in use, got {sorted(set(targets.tolist()))} of "
                             f"{classes}")
        if valid_data is not None:
            valid_data = (as_dataset(valid_data[0]), np.asarray(valid_data[1], dtype=np.int64))
        elif self.valid_split > 0:
            split = self._split_indices(targets, list(range(len(classes))), self.train_config.seed)
            if split is not None:
                train_idx, valid_idx = (np.asarray(i) for i in split)
                valid_data = (rows.subset(valid_idx), targets[valid_idx])
                rows, targets = rows.subset(train_idx), targets[train_idx]
        seed_everything(self.train_config.seed)
        self._train_model(copy.deepcopy(pipeline), (rows, targets), valid_data, classes, resume, on_epoch_end)
        return self

    def _train_model(self, pipeline, train_data: tuple, valid_data: tuple | None, classes: list,
                     resume: bool, on_epoch_end: Callable[[dict], None] | None = None) -> None:
        """Build the model for ``pipeline``'s vocabulary and train it; both ``fit`` paths end here."""
        from .models import build_model

        config = self.train_config
        model_config = dict(self.model_config)
        if self.vectors is not None:  # rows for the vocabulary just built (n-gram buckets stay random)
            from .vectors import load_vectors

            model_config["embeddings"], self.vectors_coverage_ = load_vectors(self.vectors, pipeline.vocab,
                                                                              seed=config.seed)
        model = build_model(self.model_name, vocab_size=pipeline.num_embeddings, num_classes=len(classes),
                            **model_config)
        _fit_min_length(pipeline, model)
        self.result_ = train(model, train_data, valid_data, config, multi_label=self.multi_label,
                             out_dir=self.out_dir, resume=resume, on_epoch_end=on_epoch_end)
        self.pipeline_, self.model_, self.classes_ = pipeline, model, classes
        self.sizes_ = {"train": len(train_data[0]), "valid": 0 if valid_data is None else len(valid_data[0])}
        self.threshold_ = self._pick_threshold(valid_data)

    def _check_inputs(self, texts: Any, name: str) -> list:
        """Texts (or, for the grid model, pages) as a list, or an error naming the first bad one."""
        if isinstance(texts, np.ndarray):  # sklearn's CV splits: np.str_ -> str, objects as they are
            texts = texts.tolist()
        if self.reads_pages:
            from .layout import check_pages

            return check_pages(texts, name)
        return check_texts(texts, name)

    def _check_pair(self, texts: Any, labels: Any, texts_name: str, labels_name: str) -> tuple[list, list]:
        texts = self._check_inputs(texts, texts_name)
        if isinstance(labels, (str, bytes)) or not hasattr(labels, "__len__"):
            raise TypeError(f"{labels_name} must be a sequence with one label per text, got {type(labels).__name__}")
        labels = normalize_labels(labels, labels_name, self.multi_label)
        if len(labels) != len(texts):
            raise ValueError(f"{labels_name} has {len(labels)} items but {texts_name} has {len(texts)}: "
                             f"expected one label per text")
        if not texts:
            raise ValueError(f"{texts_name} is empty: expected texts with labels")
        return texts, labels

    def _split(self, texts: list[str], labels: list, classes: list, seed: int):
        """Seeded hold-out of ``valid_split`` of the training data, stratified by label."""
        split = self._split_indices(labels, classes, seed)
        if split is None:
            return texts, labels, None, None
        train_idx, valid_idx = split
        pick = lambda items, idx: [items[i] for i in idx]  # noqa: E731
        return pick(texts, train_idx), pick(labels, train_idx), pick(texts, valid_idx), pick(labels, valid_idx)

    def _split_indices(self, labels: list, classes: list, seed: int):
        """``(train indices, valid indices)`` of a seeded, stratified ``valid_split`` hold-out, or
        None (with a warning) when the classes are too small to hold out one of each."""
        from sklearn.model_selection import train_test_split

        n_valid = math.ceil(self.valid_split * len(labels))
        stratify = None
        if not self.multi_label:
            # class indices in an array (fit_encoded): counted without a Python object per row
            counts = (dict(enumerate(np.bincount(labels, minlength=len(classes)).tolist()))
                      if isinstance(labels, np.ndarray) else Counter(labels))
            rare = [label for label in classes if counts[label] < 2]
            if rare or n_valid < len(classes) or len(labels) - n_valid < len(classes):
                why = (f"class(es) {rare[:5]!r} have a single example" if rare
                       else f"{len(labels)} texts are too few to hold out one per class")
                warnings.warn(f"valid_split={self.valid_split} skipped: {why}; training without validation "
                              f"(pass valid=(texts, labels) or valid_split=0 to silence this)", stacklevel=4)
                return None
            stratify = labels
        return train_test_split(np.arange(len(labels)), test_size=n_valid, random_state=seed, shuffle=True,
                                stratify=stratify)

    def _targets(self, labels: list, classes: list) -> np.ndarray:
        """Labels -> class indices ``(N,)``, or a 0/1 matrix ``(N, L)`` for multi-label."""
        index = {label: i for i, label in enumerate(classes)}
        if not self.multi_label:
            return np.fromiter((index[label] for label in labels), dtype=np.int64, count=len(labels))
        matrix = np.zeros((len(labels), len(classes)), dtype=np.float32)
        for row, label_set in enumerate(labels):
            matrix[row, [index[label] for label in label_set]] = 1.0
        return matrix

    def _pick_threshold(self, valid_data) -> float | np.ndarray | None:
        if not self.multi_label:
            return None
        if self.threshold not in THRESHOLD_MODES:
            return float(self.threshold)
        if valid_data is None:
            warnings.warn(f"threshold={self.threshold!r} needs validation data; using 0.5", stacklevel=3)
            return 0.5
        probs = _sigmoid(self._logits_of(valid_data[0]))
        return metrics.best_threshold(valid_data[1], probs, per_label=self.threshold == "tune_per_label")

    # -- predict / evaluate ------------------------------------------------------------------------
    def predict_proba(self, texts: Iterable[str]) -> np.ndarray:
        """Probabilities ``(N, C)`` float32, columns in ``classes_`` order (softmax; sigmoid
        per label for multi-label)."""
        self._check_fitted("predict_proba")
        texts = self._check_inputs(texts, "pages" if self.reads_pages else "texts")
        if not texts:
            return np.zeros((0, len(self.classes_)), dtype=np.float32)
        logits = self._logits_of(_cut(self.pipeline_, self.pipeline_.encode(texts)))
        if self.multi_label:
            return _sigmoid(logits)
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy()

    def explain(self, texts: Iterable[str], target: Hashable | None = None) -> list:
        """Each text's prediction and a score per token for it (or for class ``target``): how much
        that class's probability falls without the token. See :mod:`textkit.explain`
        (``to_html`` renders the result)."""
        from .explain import explain

        return explain(self, texts, target)

    def predict(self, texts: Iterable[str]) -> list:
        """One label per text (multi-label: the list of labels whose probability reaches the threshold)."""
        self._check_fitted("predict")
        probs = self.predict_proba(texts)
        if self.multi_label:
            on = probs >= np.asarray(self.threshold_)
            return [[self.classes_[j] for j in np.flatnonzero(row)] for row in on]
        return [self.classes_[i] for i in probs.argmax(axis=1)]

    def evaluate(self, texts: Iterable[str], labels: Sequence) -> dict:
        """Scores on labelled texts: ``accuracy``, ``macro_f1``, ``micro_f1``, ``weighted_f1``,
        ``per_class`` (precision, recall, f1, support lists in ``labels`` order),
        ``confusion_matrix`` (rows: truth) and ``labels`` (the class names)."""
        self._check_fitted("evaluate")
        texts, labels = self._check_pair(texts, labels, "texts", "labels")
        check_known(labels, self.classes_, "labels", self.multi_label)
        truth = self._targets(labels, self.classes_)
        probs = self.predict_proba(texts)
        if self.multi_label:
            predicted = (probs >= np.asarray(self.threshold_)).astype(np.int64)
            report = metrics.multilabel_report(truth.astype(np.int64), predicted, label_names=self.classes_)
            report["threshold"] = np.asarray(self.threshold_).tolist()
            return report
        return metrics.classification_report(truth, probs.argmax(axis=1), len(self.classes_),
                                             label_names=self.classes_)

    def evaluate_encoded(self, rows, targets) -> dict:
        """``evaluate`` for texts the pipeline already encoded (``rows``, as in :meth:`fit_encoded`)
        with ``targets`` indices into ``classes_``."""
        self._check_fitted("evaluate_encoded")
        targets = np.asarray(targets, dtype=np.int64)
        logits = self._logits_of(rows)
        return metrics.classification_report(targets, logits.argmax(axis=1), len(self.classes_),
                                             label_names=self.classes_)

    def _logits_of(self, sequences) -> np.ndarray:
        return predict_logits(self.model_, sequences, batch_size=self.train_config.eval_batch_size,
                              amp=self.train_config.amp)

    def _check_fitted(self, method: str) -> None:
        if self.model_ is None:
            raise RuntimeError(f"this TextClassifier is not fitted yet: call .fit(texts, labels) or "
                               f"TextClassifier.load(directory) before .{method}()")

    @property
    def history_(self) -> list[dict]:
        """One dict per training epoch (``history.jsonl``'s lines)."""
        return [] if self.result_ is None else self.result_.history

    # -- save / load -------------------------------------------------------------------------------
    def save(self, directory: str | os.PathLike) -> None:
        """Write ``config.json``, ``pipeline.json`` and ``model.safetensors`` into ``directory``.

        ``config.json`` is written last, so a directory that has it is complete.
        """
        self._check_fitted("save")
        model_files.write(directory, self.model_, self.pipeline_, {
            "train_config": self.train_config.to_dict(),
            "multi_label": self.multi_label,
            "valid_split": self.valid_split,
            "threshold": self.threshold,
            "tuned_threshold": None if self.threshold_ is None else np.asarray(self.threshold_).tolist(),
            "labels": self.classes_,
        })

    @classmethod
    def load(cls, directory: str | os.PathLike, *, device: str = "auto",
             max_parameters: int | None = None) -> "TextClassifier":
        """Rebuild a saved classifier on ``device`` (default: the best one here, whatever
        device it was trained on). Every mismatch between the three files is an error
        naming the file, and so is a file changed since it was saved (see
        :mod:`textkit.model_files`). A model of more than ``max_parameters`` values (default
        ``textkit.models.base.MAX_PARAMETERS``, 2**30) is refused before it is allocated."""
        config, pipeline, model = model_files.read(directory, max_parameters=max_parameters)
        try:  # the options are checked as at construction; a damaged config.json is named as such
            # device and threads belong to the machine it runs on, not to the one that trained it
            train_config = {**config["train_config"], "device": device, "threads": None}
            options = {k: v for k, v in model.get_config().items() if k not in ("name", "vocab_size", "num_classes")}
            clf = cls(model.name, pipeline=pipeline, model_config=options, recipe=None,  # all given: no recipe
                      multi_label=config["multi_label"], valid_split=config["valid_split"],
                      threshold=config["threshold"], **train_config)
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{str(Path(directory) / model_files.CONFIG_FILE)!r} holds options textkit refuses "
                             f"({type(exc).__name__}: {exc}); the file is damaged: save the classifier again") from None
        clf.pipeline_, clf.classes_ = pipeline, config["labels"]
        clf.model_ = model.to(resolve_device(device)).eval()
        tuned = config["tuned_threshold"]
        clf.threshold_ = tuned if not isinstance(tuned, list) else np.asarray(tuned)
        return clf

    def __repr__(self) -> str:
        state = "unfitted" if self.model_ is None else f"classes={self.classes_!r:.60}"
        return f"TextClassifier(model={self.model_name!r}, multi_label={self.multi_label}, {state})"


# -- helpers ---------------------------------------------------------------------------------------------
def _make_pipeline(pipeline: Any, reads_pages: bool, model: str) -> TextPipeline | LayoutPipeline | None:
    """The pipeline a model reads through: ``None`` stays ``None`` (``fit`` makes the default
    one); a dict becomes the pipeline it configures; a grid model's text layer may be given as
    a ``TextPipeline``."""
    if not reads_pages:
        if isinstance(pipeline, dict):
            return TextPipeline(**pipeline)
        if pipeline is not None and not isinstance(pipeline, TextPipeline):
            raise TypeError(f"pipeline must be a TextPipeline, a dict of its options or None for model {model!r}, "
                            f"got {type(pipeline).__name__}")
        return pipeline
    from .layout import LayoutPipeline

    if isinstance(pipeline, dict):
        return LayoutPipeline(**pipeline)
    if isinstance(pipeline, TextPipeline):
        return LayoutPipeline(text=pipeline)
    if pipeline is not None and not isinstance(pipeline, LayoutPipeline):
        raise TypeError(f"pipeline must be a LayoutPipeline, a dict of its options, a TextPipeline (its text layer) "
                        f"or None for model {model!r}, which reads pages; got {type(pipeline).__name__}")
    return pipeline


def _default_pipeline(reads_pages: bool) -> TextPipeline | LayoutPipeline:
    if reads_pages:
        from .layout import LayoutPipeline

        return LayoutPipeline()
    return TextPipeline()


def _recipe(recipe: str | None, model: str) -> dict[str, dict]:
    if recipe is None:
        return {"pipeline": {}, "model_config": {}, "train": {}}
    if not isinstance(recipe, str):
        raise TypeError(f"recipe must be 'default', a registered corpus name or None, got {type(recipe).__name__}")
    return recipe_for(model, None if recipe == "default" else recipe)  # an unknown name: get_card's error


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return torch.sigmoid(torch.from_numpy(logits)).numpy()


def _fit_min_length(pipeline: TextPipeline | LayoutPipeline, model: torch.nn.Module) -> None:
    """Make the pipeline pad at least as wide as the model needs (e.g. the CNN's widest kernel)."""
    if not isinstance(pipeline, TextPipeline):  # a grid's shape is fixed by the pipeline
        return
    needed = getattr(model, "min_length", 1)
    if pipeline.max_length is not None and pipeline.max_length < needed:
        raise ValueError(f"pipeline max_length={pipeline.max_length} is shorter than the model's "
                         f"min_length={needed} (its widest kernel); raise max_length or use smaller kernels")
    pipeline.min_length = max(pipeline.min_length, needed)


def _cut(pipeline: TextPipeline | LayoutPipeline, sequences):
    """Apply the pipeline's ``max_length`` and ``truncation`` side once, before batching
    (texts only: pages come out of a LayoutPipeline already on their grid)."""
    limit = getattr(pipeline, "max_length", None)
    if limit is None:
        return sequences
    if pipeline.truncation == "pre":
        return [s[-limit:] if len(s) > limit else s for s in sequences]
    return [s[:limit] for s in sequences]
