"""Metrics: fixed label sets, hand-checked numbers, multi-label F1 and threshold picking."""
from __future__ import annotations

import json

import numpy as np
import pytest

from textkit import metrics

Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 0, 1, 1, 2, 2]


def test_single_label_numbers_by_hand():
    # class 0: P=2/2 R=2/3; class 1: P=1/2 R=1/2; class 2: P=1/2 R=1/1
    f1s = [2 * 1 * (2 / 3) / (1 + 2 / 3), 0.5, 2 * 0.5 / 1.5]
    report = metrics.classification_report(Y_TRUE, Y_PRED, 3, label_names=["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["micro_f1"] == pytest.approx(4 / 6)  # micro F1 == accuracy for single-label data
    assert report["macro_f1"] == pytest.approx(np.mean(f1s))
    assert report["weighted_f1"] == pytest.approx(np.dot(f1s, [3, 2, 1]) / 6)
    assert report["per_class"]["precision"] == pytest.approx([1.0, 0.5, 0.5])
    assert report["per_class"]["recall"] == pytest.approx([2 / 3, 0.5, 1.0])
    assert report["per_class"]["support"] == [3, 2, 1]
    assert report["confusion_matrix"] == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    assert report["labels"] == ["a", "b", "c"]


def test_absent_class_keeps_its_row_and_scores_zero_but_not_in_macro_f1():
    report = metrics.classification_report([0, 1, 1], [0, 1, 0], 4)
    assert len(report["confusion_matrix"]) == 4 and report["confusion_matrix"][3] == [0, 0, 0, 0]
    assert report["per_class"]["f1"][2:] == [0.0, 0.0]
    assert report["labels"] == [0, 1, 2, 3]
    # classes 2 and 3 are neither present nor predicted: no F1 to average (scikit-learn's default)
    assert metrics.f1([0, 1, 1], [0, 1, 0], average="macro", num_classes=4) == pytest.approx(2 / 3)
    assert report["macro_f1"] == pytest.approx(2 / 3)
    # a class predicted but absent is in play: its F1 is 0 and it counts
    assert metrics.f1([0, 1, 1], [0, 1, 2], average="macro", num_classes=4) == pytest.approx(
        np.mean([1, 2 / 3, 0]))


def test_multilabel_micro_macro_and_exact_match():
    y_true = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0]])
    y_pred = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 1]])
    report = metrics.multilabel_report(y_true, y_pred, label_names=["x", "y", "z"])
    # pooled: TP=4, FP=1, FN=1 -> micro F1 = 8 / 10; per label F1 = [1, 1, 0]
    assert report["micro_f1"] == pytest.approx(0.8)
    assert report["macro_f1"] == pytest.approx(2 / 3)
    assert report["accuracy"] == pytest.approx(1 / 3)
    assert report["per_class"]["support"] == [2, 2, 1]
    with pytest.raises(ValueError, match=r"y_pred must hold only 0 and 1 .*0.7"):
        metrics.multilabel_report(y_true, y_pred * 0.7)


def test_best_threshold_global_and_per_label():
    y_true = np.array([[1, 0], [1, 1], [0, 1], [0, 0]])
    # label 0 separates at 0.3 (positives 0.35/0.4), label 1 at 0.7 (positives 0.8/0.9)
    probs = np.array([[0.35, 0.6], [0.4, 0.8], [0.2, 0.9], [0.1, 0.65]])
    per_label = metrics.best_threshold(y_true, probs, per_label=True)
    assert per_label.shape == (2,)
    assert 0.2 < per_label[0] <= 0.35 and 0.65 < per_label[1] <= 0.8
    global_t = metrics.best_threshold(y_true, probs)
    assert isinstance(global_t, float)
    f1_at = lambda t: metrics.f1(y_true, (probs >= t).astype(int), average="micro")  # noqa: E731
    assert f1_at(global_t) == max(f1_at(t) for t in np.arange(1, 20) / 20)
    # Uninformative data: every threshold ties, the choice stays at 0.5.
    assert metrics.best_threshold(np.zeros((3, 2)), np.full((3, 2), 0.99)) == 0.5
    with pytest.raises(ValueError, match=r"probs has shape \(4, 1\) but y_true has shape \(4, 2\)"):
        metrics.best_threshold(y_true, probs[:, :1])


def test_f1_rejects_unknown_average():
    with pytest.raises(ValueError, match=r"average must be one of \('macro', 'micro', 'weighted'\), got 'samples'"):
        metrics.f1(Y_TRUE, Y_PRED, average="samples")


def test_many_classes_keep_the_report_small_and_list_the_top_confusions():
    """10,000 classes: no 10^8-cell matrix (gigabytes as Python lists, a 600 MB metrics.json), but the
    most frequent errors, counted from the pairs that occur."""
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 10_000, 5_000)
    y_pred = y_true.copy()
    y_pred[:30] = (y_true[:30] + 1) % 10_000  # 30 errors, one of them made 3 times below
    y_true[30:33], y_pred[30:33] = 7, 9
    report = metrics.classification_report(y_true, y_pred, 10_000)
    assert "confusion_matrix" not in report and len(json.dumps(report)) < 2_000_000
    assert report["top_confusions"][0] == [7, 9, 3] and len(report["top_confusions"]) == metrics.TOP_CONFUSIONS
    small = metrics.classification_report([0, 1, 2, 2], [0, 2, 2, 1], 3, label_names=["a", "b", "c"])
    assert small["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [0, 1, 1]]
    assert small["top_confusions"] == [["b", "c", 1], ["c", "b", 1]]  # ties by class order


def test_top_confusions_match_the_dense_matrix():
    rng = np.random.default_rng(1)
    y_true, y_pred = rng.integers(0, 12, 400), rng.integers(0, 12, 400)
    dense = np.array(metrics.confusion_matrix(y_true, y_pred, 12))
    np.fill_diagonal(dense, 0)
    for t, p, n in metrics.top_confusions(y_true, y_pred, 12, top=10):
        assert dense[t, p] == n
    assert [n for *_, n in metrics.top_confusions(y_true, y_pred, 12, top=10)] == sorted(dense.ravel())[::-1][:10]


def test_macro_precision_and_recall_average_the_classes_macro_f1_does():
    # class 2 neither occurs nor is predicted: all three macro averages leave it out (the evaluate
    # table once averaged precision and recall over 3 classes and F1 over 2)
    y_true, y_pred = [0, 0, 1, 1], [0, 1, 1, 1]
    report = metrics.classification_report(y_true, y_pred, num_classes=3)
    assert report["macro_classes"] == 2
    assert report["macro_precision"] == pytest.approx((1.0 + 2 / 3) / 2)
    assert report["macro_recall"] == pytest.approx((0.5 + 1.0) / 2)
    assert report["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    # a class predicted but absent from the data is in play: its precision 0 counts
    report = metrics.classification_report([0, 0], [0, 2], num_classes=3)
    assert report["macro_classes"] == 2 and report["macro_precision"] == pytest.approx(0.5)


@pytest.mark.parametrize("metric", ["accuracy", "micro_f1", "macro_f1", "weighted_f1", "loss"])
def test_paired_bootstrap_gain_is_the_metric_difference_and_p_says_how_sure(metric):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 400)
    a = rng.normal(size=(400, 4))
    b = a.copy()
    b[np.arange(400), y] += 0.8  # b leans to the truth everywhere: better on every resample
    gain, p = metrics.paired_bootstrap(y, a, b, metric)
    if metric == "loss":
        def ce(z):
            z = z - z.max(1, keepdims=True)
            return float(np.mean(np.log(np.exp(z).sum(1)) - z[np.arange(400), y]))
        expected = ce(a) - ce(b)
    elif metric == "accuracy":
        expected = metrics.accuracy(y, b.argmax(1)) - metrics.accuracy(y, a.argmax(1))
    else:
        average = metric.split("_")[0]
        expected = (metrics.f1(y, b.argmax(1), average=average, num_classes=4)
                    - metrics.f1(y, a.argmax(1), average=average, num_classes=4))
    assert gain == pytest.approx(expected) and gain > 0 and p == 0.0
    assert metrics.paired_bootstrap(y, b, a, metric)[1] == 1.0  # the other way round: never better
    assert metrics.paired_bootstrap(y, a, a, metric) == (0.0, 1.0)  # a tie is not better


def test_paired_bootstrap_a_few_lucky_texts_are_not_sure():
    y = np.zeros(1000, dtype=np.int64)
    a = np.tile([[1.0, 0.0]], (1000, 1))
    a[:100] = [0.0, 1.0]  # a is wrong on texts 0-99
    b = a.copy()
    b[:3] = [1.0, 0.0]  # b fixes 3 of them
    b[100:101] = [0.0, 1.0]  # and breaks 1: +2 texts of 1,000
    gain, p = metrics.paired_bootstrap(y, a, b, "accuracy")
    assert gain == pytest.approx(0.002) and 0.1 < p < 0.5
    with pytest.raises(ValueError, match=r"logits must both be \(N, C\)"):
        metrics.paired_bootstrap(y, a, b[:10], "accuracy")
    with pytest.raises(ValueError, match="metric must be"):
        metrics.paired_bootstrap(y, a, b, "auc")
