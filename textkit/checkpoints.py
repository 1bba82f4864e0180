"""What a resumed run needs: ``checkpoint.pt`` (plain tensors and numbers, loaded with
``weights_only=True``, with a sha256 of its content), every RNG state, the history file, and
the fingerprint that tells a checkpoint of this run from another's."""
from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .batching import as_dataset
from .fileio import atomic_write, is_number

CHECKPOINT_FORMAT = "textkit.checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_FILE = "checkpoint.pt"
HISTORY_FILE = "history.jsonl"


def rng_state() -> dict[str, Any]:
    """Every global RNG state as plain lists and tensors, so it loads with ``weights_only=True``."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def check_rng_state(state: Any) -> None:
    """``state`` must be what :func:`rng_state` returns, or a ValueError says which part is not
    (a damaged checkpoint made ``set_rng_state`` raise OverflowError deep inside NumPy)."""
    def words(values: Any, count: int) -> bool:  # MT19937's state: ``count`` unsigned 32-bit ints
        return isinstance(values, (list, tuple)) and len(values) == count and \
            all(type(v) is int and 0 <= v < 2**32 for v in values)

    def bad(name: str, expected: str) -> ValueError:
        return ValueError(f"its RNG state {name!r} is not {expected}")

    if not isinstance(state, dict) or not {"python", "numpy", "torch", "cuda"} <= set(state):
        raise ValueError("its RNG state must be a dict with 'python', 'numpy', 'torch' and 'cuda'")
    python = state["python"]
    if not (isinstance(python, (list, tuple)) and len(python) == 3 and type(python[0]) is int
            and words(python[1], 625) and python[1][-1] <= 624 and (python[2] is None or is_number(python[2]))):
        raise bad("python", "[version, 625 ints in [0, 2**32) (the last <= 624), gauss]")
    numpy_state = state["numpy"]
    if not (isinstance(numpy_state, (list, tuple)) and len(numpy_state) == 5 and numpy_state[0] == "MT19937"
            and words(numpy_state[1], 624) and type(numpy_state[2]) is int and 0 <= numpy_state[2] <= 624
            and numpy_state[3] in (0, 1) and is_number(numpy_state[4])):
        raise bad("numpy", "['MT19937', 624 ints in [0, 2**32), position in [0, 624], 0 or 1, float]")
    expected = torch.get_rng_state()
    if not (isinstance(state["torch"], torch.Tensor) and state["torch"].dtype == expected.dtype
            and state["torch"].shape == expected.shape):
        raise bad("torch", f"a uint8 tensor of {expected.numel()} bytes")
    if not (isinstance(state["cuda"], (list, tuple)) and all(isinstance(t, torch.Tensor) and t.dtype == torch.uint8
                                                             for t in state["cuda"])):
        raise bad("cuda", "a list of uint8 tensors")


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` saved (checked first: see :func:`check_rng_state`)."""
    check_rng_state(state)
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# -- checkpoints -----------------------------------------------------------------------------
def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> None:
    """``torch.save`` of plain dicts, lists, numbers and tensors, written atomically, with the
    sha256 of its content (:func:`checkpoint_digest`), which :func:`load_checkpoint` verifies."""
    state = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, **state}
    state["sha256"] = checkpoint_digest(state)
    atomic_write(Path(path), lambda f: torch.save(state, f))


def checkpoint_digest(state: dict[str, Any]) -> str:
    """sha256 of a checkpoint's content, its ``"sha256"`` entry aside: every key, number and
    string, and every tensor's dtype, shape and bytes. torch.load does not check the zip's
    CRCs, so without it 2 of 3 flipped bits in a checkpoint resumed silently with other
    weights or optimizer moments (or a KeyError a step later). Costs one pass over the tensors
    (about 0.1 s per 100 MB) per checkpoint written and read."""
    digest = hashlib.sha256()
    _digest_update(digest, {k: v for k, v in state.items() if k != "sha256"})
    return digest.hexdigest()


def _digest_update(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided:  # a sparse tensor, by its coalesced parts
            value = value.coalesce()
            _digest_update(digest, ["sparse", list(value.shape), value.indices(), value.values()])
            return
        flat = value.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"tensor {flat.dtype} {tuple(value.shape)}|".encode())
        if flat.numel():
            digest.update(flat.view(torch.uint8).numpy())
    elif isinstance(value, dict):
        digest.update(f"dict {len(value)}|".encode())
        for key in sorted(value, key=repr):
            _digest_update(digest, key)
            _digest_update(digest, value[key])
    elif isinstance(value, (list, tuple)):
        digest.update(f"{type(value).__name__} {len(value)}|".encode())
        for item in value:
            _digest_update(digest, item)
    else:
        digest.update(f"{type(value).__name__} {value!r}|".encode())


def _tensors(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def _int(minimum: int) -> Callable[[Any], bool]:
    return lambda value: type(value) is int and value >= minimum


# What train() reads back from a checkpoint: key -> (check, what it must be). "fingerprint" is
# optional (checkpoints written before it existed resume unchecked).
_CHECKPOINT_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "epoch": (_int(1), "an int >= 1"),
    "config": (lambda v: isinstance(v, dict), "a dict of TrainConfig options"),
    "n_train": (_int(0), "an int >= 0"),
    "multi_label": (lambda v: isinstance(v, bool), "True or False"),
    "model": (_tensors, "a dict of tensors"),
    "best_model": (lambda v: v is None or _tensors(v), "None or a dict of tensors"),
    "optimizers": (lambda v: isinstance(v, list) and all(isinstance(o, dict) for o in v), "a list of dicts"),
    "schedulers": (lambda v: isinstance(v, list) and all(isinstance(o, dict) for o in v), "a list of dicts"),
    "scaler": (lambda v: isinstance(v, dict), "a dict"),
    "sampler": (lambda v: isinstance(v, dict) and _int(0)(v.get("seed")) and _int(0)(v.get("epoch")),
                "a dict with int 'seed' and 'epoch'"),
    "rng": (lambda v: isinstance(v, dict), "a dict"),
    "history": (lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v), "a list of dicts"),
    "best_metric": (lambda v: v is None or is_number(v), "None or a number"),
    "best_epoch": (lambda v: v is None or _int(1)(v), "None or an int >= 1"),
    "bad_epochs": (_int(0), "an int >= 0"),
    "finished": (lambda v: isinstance(v, bool), "True or False"),
    "stopped_early": (lambda v: isinstance(v, bool), "True or False"),
    "fingerprint": (lambda v: v is None or (isinstance(v, dict) and all(isinstance(x, str) for x in v.values())),
                    "None or a dict of digests"),
}


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``: no pickle code runs, only plain data.

    Then check it holds every key ``train`` reads back, each of the right kind, a well-formed
    RNG state, finite weights and the content its ``sha256`` says: a damaged checkpoint is one
    ValueError naming the file, not a ``KeyError`` or an ``OverflowError`` halfway through
    restoring it, nor a run that resumes from silently changed weights."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint file {str(path)!r} does not exist") from None
    except Exception as exc:  # torch raises several types for a truncated or foreign file
        raise ValueError(f"checkpoint file {str(path)!r} is damaged or not a textkit checkpoint: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint file {str(path)!r} is not a textkit checkpoint")
    version = state.get("version")
    damaged = f"checkpoint file {str(path)!r} is damaged"
    if type(version) is not int or version < 1:
        raise ValueError(f"{damaged}: 'version' must be an int >= 1, got {version!r:.40}")
    if version > CHECKPOINT_VERSION:
        raise ValueError(f"checkpoint file {str(path)!r} has format version {state['version']}; this textkit "
                         f"reads versions up to {CHECKPOINT_VERSION}: upgrade textkit")
    missing = [key for key in _CHECKPOINT_FIELDS if key != "fingerprint" and key not in state]
    if missing:
        raise ValueError(f"{damaged}: it is missing the key(s) {missing}")
    for key, (ok, expected) in _CHECKPOINT_FIELDS.items():
        if key in state and not ok(state[key]):
            raise ValueError(f"{damaged}: {key!r} must be {expected}, got {type(state[key]).__name__} "
                             f"{state[key]!r:.40}")
    try:
        check_rng_state(state["rng"])
    except ValueError as exc:
        raise ValueError(f"{damaged}: {exc}") from None
    for key in ("model", "best_model"):
        found = non_finite(state[key] or {})
        if found:
            raise ValueError(f"{damaged}: it holds non-finite values in {key!r} ({found}), or its run had "
                             f"diverged before it was written")
    if "sha256" in state and state["sha256"] != checkpoint_digest(state):  # none before textkit recorded it
        raise ValueError(f"{damaged}: its content does not match the sha256 it was written with (a flipped bit "
                         f"or an edit); resume=False starts the run over")
    return state


def non_finite(tensors: dict[str, torch.Tensor]) -> str:
    """``"<n> of <size> in '<name>'"`` for the first float tensor holding NaN or inf, else ``""``
    (checked in slices of 16M values: the check costs 16 MB, not a copy of the model)."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point():
            values = tensor.detach().reshape(-1)
            bad = sum(int((~torch.isfinite(part)).sum()) for part in values.split(1 << 24))
            if bad:
                return f"{bad:,} of {values.numel():,} in {name!r}"
    return ""


def write_history(path: Path, history: list[dict]) -> None:
    lines = "".join(json.dumps(record) + "\n" for record in history)
    atomic_write(path, lambda f: f.write(lines), mode="w", encoding="utf-8")


def run_fingerprint(model: nn.Module, train_data: tuple, valid_data: tuple | None) -> dict[str, str]:
    """Digests of what defines a run besides TrainConfig: the model (class, options, tensor
    shapes) and the encoded data (ids and targets, so a changed pipeline, vocabulary or label
    order shows too). A checkpoint resumes only into the same run."""
    def digest(*parts: Any) -> str:
        h = hashlib.sha256()
        for part in parts:
            if isinstance(part, np.ndarray):
                h.update(str(part.dtype).encode() + str(part.shape).encode() + np.ascontiguousarray(part).tobytes())
            else:
                h.update(json.dumps(part, sort_keys=True, default=str).encode())
            h.update(b"\0")
        return h.hexdigest()[:16]

    def data(pair: tuple) -> str:
        encoded, targets = pair
        return digest(*as_dataset(encoded).digest_parts(), np.asarray(targets))

    config = model.get_config() if hasattr(model, "get_config") else {}
    shapes = {name: list(t.shape) for name, t in model.state_dict().items()}
    return {"model": digest(type(model).__name__, config, shapes), "train data": data(train_data),
            "valid data": "none" if valid_data is None else data(valid_data)}


def check_same_tensors(model: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    """``tensors`` (a checkpoint's best weights) have the model's names and shapes, as
    ``load_state_dict`` would demand at the end of the run; checked now, at resume."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    differ = sorted(k for k in set(found) | set(expected) if found.get(k) != expected.get(k))
    if differ:
        raise RuntimeError(f"'best_model' does not fit the model (tensors {differ[:3]})")
