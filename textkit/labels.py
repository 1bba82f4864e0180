"""Labels as users give them -> the checked lists ``TextClassifier`` keeps: Python ``str`` or
``int`` (NumPy scalars converted, so they go into JSON), one type throughout, label sets for
multi-label; each problem named by its index."""
from __future__ import annotations

import math
from typing import Any, Hashable, Iterable, Sequence

import numpy as np


def normalize_label(label: Any, where: str) -> Hashable:
    """NumPy scalars -> Python ones (so they go into JSON); anything but str/int/bool is an error."""
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, (str, int)):  # bool is an int subclass and stays a bool
        return label
    if label is None or (isinstance(label, float) and math.isnan(label)):
        raise ValueError(f"{where} is missing ({label!r}): drop or fill it first")
    raise TypeError(f"{where} must be a str or an int, got {type(label).__name__} {label!r:.40}")


def normalize_labels(labels: Sequence, name: str, multi_label: bool) -> list:
    if not multi_label:
        out = [normalize_label(label, f"{name}[{i}]") for i, label in enumerate(labels)]
        check_one_type(out, name)
        return out
    if getattr(labels, "ndim", 1) == 2:  # a 0/1 matrix would be read as label sets {0, 1}
        raise TypeError(f"{name} is a 2-D array {tuple(labels.shape)}: for multi_label=True give each text's "
                        f"label set (e.g. ['sports', 'politics'] or [0, 2]); from a 0/1 indicator matrix Y: "
                        f"[np.flatnonzero(row).tolist() for row in Y]")
    out = []
    for i, row in enumerate(labels):
        if isinstance(row, (str, bytes)) or not isinstance(row, Iterable):
            raise TypeError(f"{name}[{i}] must be a collection of labels for multi_label=True (e.g. ['a', 'b'] "
                            f"or []), got {type(row).__name__} {row!r:.40}")
        out.append(sorted({normalize_label(label, f"{name}[{i}]") for label in row}, key=repr))
    check_one_type([label for row in out for label in row], name)
    return out


def check_one_type(labels: list, name: str) -> None:
    first: dict[type, tuple[int, Any]] = {}
    for i, label in enumerate(labels):
        first.setdefault(type(label), (i, label))
    if len(first) > 1:
        seen = ", ".join(f"{t.__name__} ({v!r} at index {i})" for t, (i, v) in first.items())
        raise TypeError(f"{name} must be all of one type, all str or all int (they are kept as given), "
                        f"got a mix: {seen}")


def check_known(labels: list, classes: list, name: str, multi_label: bool) -> None:
    known = set(classes)
    found = {label for row in labels for label in row} if multi_label else set(labels)
    unseen = sorted(found - known, key=repr)
    if unseen:
        raise ValueError(f"{name} contain {len(unseen)} class(es) that training never saw: {unseen[:10]!r}; "
                         f"the classifier knows {classes[:20]!r}")
