"""Stage 7: predictions -> numbers. Pure functions over arrays, no torch, no state.

Single-label: ``y_true`` and ``y_pred`` are class indices ``(N,)``; ``num_classes`` fixes
the label set, so a class missing from a small split still gets its row and column
(precision/recall of an absent class are reported as 0, not an error). Macro-F1 averages
over the classes that occur in ``y_true`` or ``y_pred``, as scikit-learn's default does: a
class neither present nor predicted has no F1 to average, and counting it as 0 would make
the score of a small split depend on the classes it happens to lack.

Multi-label: ``y_true`` and ``y_pred`` are 0/1 indicator matrices ``(N, L)``; F1 is micro
(pool every (text, label) decision) or macro (mean over labels), and ``accuracy`` is the
exact-match ratio (every label of a text right).

The computations are scikit-learn's; this module only fixes the label set, the
``zero_division`` policy and the names, so every caller reports the same keys.

Many classes: a dense confusion matrix grows with the square of the class count (10,000
classes: 10^8 cells, gigabytes in Python and a 600 MB ``metrics.json``), so the report keeps
it only up to ``DENSE_CONFUSION_MAX`` classes; above that it has none, and every report lists
``top_confusions`` instead, counted from the predictions themselves (never a dense matrix).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn import metrics as skm

F1_AVERAGES = ("macro", "micro", "weighted")
DENSE_CONFUSION_MAX = 100  # classes; a larger report lists only its top confusions
TOP_CONFUSIONS = 20


def _labels(num_classes: int) -> np.ndarray:
    return np.arange(num_classes)


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """Fraction of exact matches (for indicator matrices: every label of the row right)."""
    return float(skm.accuracy_score(y_true, y_pred))


def f1(y_true, y_pred, *, average: str = "macro", num_classes: int | None = None) -> float:
    """F1 averaged ``"macro"`` (classes count equally), ``"micro"`` (pooled decisions; equals
    accuracy for single-label data) or ``"weighted"`` (macro weighted by support).

    ``num_classes`` fixes the label set for class indices; for indicator matrices it is
    their column count and may be left out.
    """
    if average not in F1_AVERAGES:
        raise ValueError(f"average must be one of {F1_AVERAGES}, got {average!r}")
    labels = None if num_classes is None else _labels(num_classes)
    if labels is not None and average == "macro":
        labels = classes_in_play(y_true, y_pred)
    return float(skm.f1_score(y_true, y_pred, labels=labels, average=average, zero_division=0))


def classes_in_play(y_true: Sequence[int], y_pred: Sequence[int]) -> np.ndarray:
    """The class indices that occur in ``y_true`` or ``y_pred``: what every macro average
    averages over (see the module doc)."""
    return np.union1d(np.unique(np.asarray(y_true)), np.unique(np.asarray(y_pred)))


def macro_precision_recall(y_true: Sequence[int], y_pred: Sequence[int]) -> tuple[float, float]:
    """Macro precision and recall over the classes in play, the classes macro-F1 averages."""
    p, r, _, _ = skm.precision_recall_fscore_support(y_true, y_pred, labels=classes_in_play(y_true, y_pred),
                                                     average="macro", zero_division=0)
    return float(p), float(r)


def per_class(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> dict[str, list]:
    """``{"precision", "recall", "f1": list[float], "support": list[int]}``, one entry per class."""
    p, r, f, s = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=_labels(num_classes), average=None, zero_division=0
    )
    return {"precision": p.tolist(), "recall": r.tolist(), "f1": f.tolist(), "support": s.tolist()}


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int) -> list[list[int]]:
    """``C[i][j]`` = texts of true class ``i`` predicted as ``j`` (rows: truth, columns: prediction)."""
    return skm.confusion_matrix(y_true, y_pred, labels=_labels(num_classes)).tolist()


def top_confusions(y_true: Sequence[int], y_pred: Sequence[int], num_classes: int,
                   top: int = TOP_CONFUSIONS) -> list[tuple[int, int, int]]:
    """The ``top`` most frequent errors as ``(true class, predicted class, count)``, most first
    (ties by class indices), counted over the (true, predicted) pairs that occur: memory grows
    with the texts, not with the square of the class count."""
    pairs = np.asarray(y_true, dtype=np.int64) * num_classes + np.asarray(y_pred, dtype=np.int64)
    codes, counts = np.unique(pairs, return_counts=True)
    true, predicted = np.divmod(codes, num_classes)
    wrong = true != predicted
    true, predicted, counts = true[wrong], predicted[wrong], counts[wrong]
    order = np.lexsort((predicted, true, -counts))[:top]
    return [(int(true[i]), int(predicted[i]), int(counts[i])) for i in order]


def classification_report(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    num_classes: int,
    label_names: Sequence | None = None,
) -> dict:
    """Everything ``TextClassifier.evaluate`` reports for single-label data, JSON-ready::

        {"accuracy", "macro_f1", "micro_f1", "weighted_f1", "macro_precision", "macro_recall": float,
         "macro_classes": int (the classes the macro averages average over),
         "per_class": {"precision", "recall", "f1", "support"}, "labels",
         "top_confusions": [[true label, predicted label, count], ...] (most first),
         "confusion_matrix" (up to DENSE_CONFUSION_MAX classes)}
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    names = list(range(num_classes)) if label_names is None else list(label_names)
    report = {
        "accuracy": accuracy(y_true, y_pred),
        **{f"{avg}_f1": f1(y_true, y_pred, average=avg, num_classes=num_classes) for avg in F1_AVERAGES},
        **dict(zip(("macro_precision", "macro_recall"), macro_precision_recall(y_true, y_pred))),
        "macro_classes": len(classes_in_play(y_true, y_pred)),
        "per_class": per_class(y_true, y_pred, num_classes),
        "top_confusions": [[names[t], names[p], n] for t, p, n in top_confusions(y_true, y_pred, num_classes)],
    }
    if num_classes <= DENSE_CONFUSION_MAX:
        report["confusion_matrix"] = confusion_matrix(y_true, y_pred, num_classes)
    report["labels"] = names
    return report


def multilabel_report(y_true: np.ndarray, y_pred: np.ndarray, label_names: Sequence | None = None) -> dict:
    """Multi-label counterpart of :func:`classification_report` (indicator matrices ``(N, L)``):
    exact-match ``accuracy``, micro/macro/weighted F1 and per-label precision/recall/F1/support."""
    y_true, y_pred = _indicator(y_true, "y_true"), _indicator(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape} but y_pred has shape {y_pred.shape}")
    num_labels = y_true.shape[1]
    report = {
        "accuracy": accuracy(y_true, y_pred),
        **{f"{avg}_f1": f1(y_true, y_pred, average=avg) for avg in F1_AVERAGES},
        "per_class": per_class(y_true, y_pred, num_labels),
    }
    report["labels"] = list(range(num_labels)) if label_names is None else list(label_names)
    return report


def _indicator(y: np.ndarray, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError(f"{name} must be a 0/1 indicator matrix (N, L) for multi-label data, got shape {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{name} must hold only 0 and 1 (threshold probabilities first), "
                         f"got values such as {np.setdiff1d(y, (0, 1))[:3].tolist()}")
    return y.astype(np.int64)


def best_threshold(
    y_true: np.ndarray,
    probs: np.ndarray,
    *,
    per_label: bool = False,
    average: str = "micro",
    candidates: Sequence[float] | None = None,
) -> float | np.ndarray:
    """Pick the decision threshold(s) that maximize F1 on *validation* probabilities.

    ``y_true`` is an indicator matrix ``(N, L)``, ``probs`` the predicted probabilities of the
    same shape. With ``per_label=False`` one threshold for every label, maximizing
    ``average`` F1 (``"micro"`` or ``"macro"``); with ``per_label=True`` one threshold per
    label, each maximizing that label's own F1 (an array ``(L,)``). Ties go to the threshold
    closest to 0.5, so an uninformative validation set keeps the usual default.

    Tune on validation data only: a threshold fitted on the test set inflates its score.
    """
    y_true = _indicator(y_true, "y_true")
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != y_true.shape:
        raise ValueError(f"probs has shape {probs.shape} but y_true has shape {y_true.shape}")
    if average not in ("micro", "macro"):
        raise ValueError(f"average must be 'micro' or 'macro', got {average!r}")
    grid = np.asarray(candidates if candidates is not None else np.arange(1, 20) / 20, dtype=np.float64)  # 0.05..0.95
    if grid.ndim != 1 or not len(grid) or ((grid <= 0) | (grid >= 1)).any():
        raise ValueError(f"candidates must be thresholds strictly between 0 and 1, got {grid.tolist()!r}")
    # Try thresholds in order of distance from 0.5: argmax keeps the first best, so ties go to 0.5's side.
    grid = grid[np.argsort(np.abs(grid - 0.5), kind="stable")]
    if not per_label:
        scores = [f1(y_true, (probs >= t).astype(np.int64), average=average) for t in grid]
        return float(grid[int(np.argmax(scores))])
    best = np.empty(y_true.shape[1])
    for j in range(y_true.shape[1]):
        scores = [skm.f1_score(y_true[:, j], probs[:, j] >= t, zero_division=0) for t in grid]
        best[j] = grid[int(np.argmax(scores))]
    return best


BOOTSTRAP_CELLS = 20_000_000  # resamples x classes held at once by paired_bootstrap


def paired_bootstrap(y_true: Sequence[int], logits_a: np.ndarray, logits_b: np.ndarray, metric: str, *,
                     resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """How much better classifier b scores than a on the same texts, and how sure that is.

    ``y_true (N,)`` class indices; ``logits_a``, ``logits_b`` ``(N, C)``; ``metric`` one of
    ``"loss"`` (mean cross-entropy, lower is better), ``"accuracy"``, ``"micro_f1"``,
    ``"macro_f1"``, ``"weighted_f1"``. Returns ``(gain, p)``: ``gain`` is b's score minus a's
    (a's loss minus b's for ``"loss"``), so > 0 means b is better; ``p`` is the share of
    ``resamples`` bootstrap resamples of the N texts, each scoring both on the same draw, in
    which b is not better: the one-sided paired bootstrap (Koehn 2004, Efron & Tibshirani 1993).
    """
    y = np.asarray(y_true, dtype=np.int64)
    a, b = np.asarray(logits_a, dtype=np.float64), np.asarray(logits_b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != len(y) or not len(y):
        raise ValueError(f"logits must both be (N, C) with N = len(y_true) = {len(y)} > 0, got {a.shape} and "
                         f"{b.shape}")
    C = a.shape[1]
    resamples = max(100, min(resamples, BOOTSTRAP_CELLS // max(C, 1)))  # the F1 counts are (resamples, C)
    draws = np.random.default_rng(seed).integers(0, len(y), size=(resamples, len(y)))  # (R, N)

    def scores(logits: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """The metric of each row of ``idx`` ((R, N) text indices; (1, N) is the texts as given)."""
        if metric == "loss":
            shifted = logits - logits.max(1, keepdims=True)
            per_text = np.log(np.exp(shifted).sum(1)) - shifted[np.arange(len(y)), y]
            return -per_text[idx].mean(1)  # negated: higher is better throughout
        predicted = logits.argmax(1)
        if metric in ("accuracy", "micro_f1"):  # micro F1 of one label per text is accuracy
            return (predicted == y)[idx].mean(1)
        if metric not in ("macro_f1", "weighted_f1"):
            raise ValueError(f"metric must be loss, accuracy, micro_f1, macro_f1 or weighted_f1, got {metric!r}")
        rows = np.arange(len(idx))[:, None] * C  # count per (resample, class) in one bincount each
        hits = np.bincount((rows + y[idx]).ravel(), weights=(predicted == y)[idx].ravel(),
                           minlength=len(idx) * C).reshape(-1, C)
        truths = np.bincount((rows + y[idx]).ravel(), minlength=len(idx) * C).reshape(-1, C)
        guesses = np.bincount((rows + predicted[idx]).ravel(), minlength=len(idx) * C).reshape(-1, C)
        support = truths + guesses
        f1s = np.divide(2 * hits, support, out=np.zeros_like(hits), where=support > 0)
        if metric == "weighted_f1":
            return (f1s * truths).sum(1) / idx.shape[1]
        return f1s.sum(1) / np.maximum((support > 0).sum(1), 1)  # macro over the classes in play

    given = np.arange(len(y))[None, :]
    gain = float(scores(b, given)[0] - scores(a, given)[0])
    p = float(np.mean(scores(b, draws) - scores(a, draws) <= 0))
    return gain, p
