"""The PNGs next to metrics.json: a confusion matrix and the training curves.

matplotlib is an optional extra (``pip install 'textkit[plot]'``): without it each function
says so once on stderr and returns False, and the JSON files hold every number anyway. Figures
are drawn on matplotlib's Agg canvas, with no pyplot state (safe in any process or thread).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Sequence

PLOTTED_CLASSES = 30  # above this many, the PNG shows the most frequent confusions, not the whole matrix


def _matplotlib(what: str) -> Any:
    """(Figure, FigureCanvasAgg), or None after a warning that ``what`` was not written."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        print(f"textkit: warning: matplotlib is not installed, so no {what} was written (metrics.json "
              "was); install it with: pip install 'textkit[plot]'  (or: pip install matplotlib)", file=sys.stderr)
        return None
    return Figure, FigureCanvasAgg


def plot_confusion(metrics: dict, path: Path, title: str) -> bool:
    """Write the confusion matrix as a PNG (matplotlib's Agg canvas, no pyplot state); False if
    matplotlib is missing (an optional extra), after saying how to install it."""
    found = _matplotlib(path.name)
    if found is None:
        return False
    Figure, FigureCanvasAgg = found
    labels = [str(label) for label in metrics["labels"]]
    if "top_confusions" not in metrics:  # multi-label reports have no confusions
        return False
    if len(labels) > PLOTTED_CLASSES or "confusion_matrix" not in metrics:
        _plot_top_confusions(metrics["top_confusions"], len(labels), path, title)
        return True
    matrix = metrics["confusion_matrix"]
    size = max(4.0, 0.5 * len(labels) + 2)
    figure = Figure(figsize=(size + 1, size))
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    image = ax.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    peak = max((max(row) for row in matrix), default=0)
    if len(labels) <= 25:  # counts stay readable
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                        color="white" if peak and count > peak / 2 else "black")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return True


def _plot_top_confusions(confusions: list, num_classes: int, path: Path, title: str) -> None:
    """Too many classes for a readable matrix: a bar per frequent confusion, a figure of fixed size."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 6))
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    names = [f"{t} -> {p}"[:60] for t, p, _ in confusions][::-1]  # most frequent at the top
    ax.barh(range(len(names)), [n for _, _, n in confusions][::-1], color="tab:blue")
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("texts (true -> predicted)")
    ax.set_title(f"{title}\nthe {len(confusions)} most frequent confusions of {num_classes:,} classes "
                 f"(every class in metrics.json)" if confusions else f"{title}\nno confusions", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def plot_curves(history: Sequence[dict], path: Path, title: str) -> bool:
    """Loss (train, and valid when there is one) and the validation scores per epoch, the best
    epoch marked: what ``history.jsonl`` holds, as a picture. False without matplotlib."""
    found = _matplotlib(path.name)
    if found is None or not history:
        return False
    Figure, FigureCanvasAgg = found
    epochs = [record["epoch"] for record in history]
    figure = Figure(figsize=(10, 4))
    FigureCanvasAgg(figure)
    loss, scores = figure.subplots(1, 2)
    loss.plot(epochs, [r["train_loss"] for r in history], marker="o", label="train")
    if "valid_loss" in history[0]:
        loss.plot(epochs, [r["valid_loss"] for r in history], marker="o", label="valid")
    loss.set_xlabel("epoch")
    loss.set_ylabel("loss")
    loss.legend()
    for key, name in (("valid_accuracy", "accuracy"), ("valid_macro_f1", "macro-F1")):
        if key in history[0]:
            scores.plot(epochs, [r[key] for r in history], marker="o", label=f"valid {name}")
    best = [r["epoch"] for r in history if r.get("best")]
    if best:
        scores.axvline(best[-1], color="gray", linestyle="--", label=f"best (epoch {best[-1]})")
    scores.set_xlabel("epoch")
    scores.set_ylabel("score")
    if scores.lines:
        scores.legend()
    else:
        scores.text(0.5, 0.5, "no validation data", ha="center", va="center", transform=scores.transAxes)
    for ax in (loss, scores):
        ax.xaxis.get_major_locator().set_params(integer=True)
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return True


def plot_search(trials: Sequence[dict], path: Path, title: str) -> bool:
    """A tuning search (``tuning.json``'s trials) as a picture: each trial's best value of the
    validation metric at the time it ended, by model (an x where it was pruned), and the best so
    far as a step line. False without matplotlib."""
    found = _matplotlib(path.name)
    if found is None or not trials:
        return False
    Figure, FigureCanvasAgg = found
    figure = Figure(figsize=(8, 4))
    FigureCanvasAgg(figure)
    ax = figure.add_subplot()
    ended, best, so_far = 0.0, [], None
    colors = {"bow": "tab:blue", "cnn": "tab:orange", "rnn": "tab:green"}
    better = min if trials[0]["metric"] == "valid_loss" else max  # one search, one metric
    for trial in trials:
        ended += trial["seconds"]
        if trial.get("value") is None and not any(v is not None for v in trial["per_epoch"]):
            continue
        value = trial["value"] if trial.get("value") is not None else \
            better(v for v in trial["per_epoch"] if v is not None)
        complete = trial.get("value") is not None  # finished, or stopped at the budget with its best epoch
        ax.scatter(ended, value, marker="o" if complete else "x", color=colors.get(trial["model"], "tab:gray"),
                   label=trial["model"] if complete else f"{trial['model']} (stopped early)")
        if complete:
            so_far = value if so_far is None else better(so_far, value)
        best.append((ended, so_far))
    steps = [(t, v) for t, v in best if v is not None]
    if steps:
        ax.step([t for t, _ in steps], [v for _, v in steps], where="post", color="black", linewidth=1,
                label="best so far")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), fontsize=8, loc="lower right")
    ax.set_xlabel("seconds of search (end of each trial)")
    ax.set_ylabel(trials[0]["metric"].replace("_", " "))
    ax.set_title(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    return True
