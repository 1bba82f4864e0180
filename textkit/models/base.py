"""Stage 5 contract: every model maps ``(ids, lengths) -> logits``.

::

    ids      LongTensor  (B, T)  post-padded with PAD_ID (``textkit.padding``)
    lengths  LongTensor  (B,)    real tokens per row, 0 for a text that cleaned to nothing
    logits   FloatTensor (B, C)  unnormalised class scores (feed them to ``cross_entropy``)

What every :class:`TextModel` promises (``tests/test_models.py`` checks each one over the
whole registry):

* **It never reads a pad.** The logits of row ``i`` depend on ``ids[i, :lengths[i]]`` only:
  extra PAD columns, or a PAD embedding row that is not zero, change nothing.
* **An empty row (length 0) gives finite logits** (its pooled features are zeros).
* ``model.config`` is the model's config dataclass and ``model.get_config()`` a JSON-able
  dict; ``build_model(**model.get_config())`` rebuilds the same architecture, ready for
  ``load_state_dict`` (that is how a saved classifier comes back: JSON + safetensors).
* ``model.min_length`` is the smallest ``T`` the model is built for (the largest CNN kernel,
  1 otherwise); pass it to the padding step as ``min_length`` so batches come out wide
  enough. Models still accept narrower batches (the CNN pads them itself).
* ``model.apply_constraints()`` is called by the training loop after every
  ``optimizer.step()``. The CNN uses it for Kim's max-norm on the output layer; on the other
  models it is a no-op, so the loop can call it unconditionally.
"""
from __future__ import annotations

import difflib
import math
import warnings
from dataclasses import asdict, fields
from typing import Any, ClassVar

import torch
from torch import nn

from ..vocabulary import PAD_ID


class TextModel(nn.Module):
    """Base class: stores the build arguments and gives the hooks every model shares."""

    name: ClassVar[str] = ""
    inputs: ClassVar[str] = "text"  # "text": ids (B, T) from a TextPipeline; "pages": a LayoutPipeline's grids
    config_class: ClassVar[type]

    def __init__(self, vocab_size: int, num_classes: int, config: Any) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.num_classes = num_classes
        self.config = config

    @property
    def min_length(self) -> int:
        """Smallest padded width ``T`` the model is built for."""
        return 1

    def apply_constraints(self) -> None:
        """Call after each ``optimizer.step()``; a no-op unless a model overrides it."""

    def get_config(self) -> dict:
        """JSON-able dict such that ``build_model(**model.get_config())`` rebuilds this model."""
        return {
            "name": self.name,
            "vocab_size": self.vocab_size,
            "num_classes": self.num_classes,
            **_jsonable(asdict(self.config)),
        }

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    def extra_repr(self) -> str:
        return f"vocab_size={self.vocab_size}, num_classes={self.num_classes}"


def _jsonable(value: Any) -> Any:
    # Tuples become lists so that json.loads(json.dumps(cfg)) == cfg; configs turn lists
    # back into tuples on the way in.
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def check_inputs(ids: torch.Tensor, lengths: torch.Tensor) -> None:
    """Shape checks only: a value check (``lengths.max() <= T``) would sync with the GPU."""
    if ids.dim() != 2:
        raise ValueError(f"ids must be (B, T), got shape {tuple(ids.shape)}")
    if lengths.shape != ids.shape[:1]:
        raise ValueError(f"lengths must be (B,) = ({ids.shape[0]},), got shape {tuple(lengths.shape)}")


# -- config handling ------------------------------------------------------------------
def make_config(config_class: type, options: dict, model_name: str) -> Any:
    """``config_class(**options)``, but an unknown key names itself and the valid ones."""
    valid = [f.name for f in fields(config_class)]
    for key in options:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"unknown config key {key!r} for model {model_name!r}{hint}; "
                f"valid keys: {', '.join(valid)}"
            )
    return config_class(**options)


def check_int(owner: str, name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}.{name} must be an int >= {minimum}, got {value!r}")


def check_float(owner: str, name: str, value: Any, low: float, high: float, *, high_open: bool) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and low <= value
        and (value < high if high_open else value <= high)
    )
    if not ok:
        bracket = ")" if high_open else "]"
        raise ValueError(f"{owner}.{name} must be a number in [{low}, {high}{bracket}, got {value!r}")


def check_bool(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{owner}.{name} must be True or False, got {value!r}")


def check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{owner}.{name} must be one of {choices}, got {value!r}")


# -- embeddings -----------------------------------------------------------------------
def copy_pretrained_(
    weight: torch.Tensor, vectors: torch.Tensor, *, what: str, allow_fewer_rows: bool = False
) -> None:
    """Copy ``vectors (V', E)`` into the first rows of ``weight (V, E)`` and zero the PAD row.

    ``allow_fewer_rows`` is for the bag of embeddings, whose rows past the word vocabulary
    belong to hashed n-grams that no pretrained file covers; they keep their random init.
    """
    if not isinstance(vectors, torch.Tensor) or vectors.dim() != 2 or not vectors.is_floating_point():
        shape = tuple(vectors.shape) if isinstance(vectors, torch.Tensor) else type(vectors).__name__
        raise ValueError(f"{what}: embeddings must be a 2-D float tensor (V, E), got {shape}")
    rows, dim = weight.shape
    got_rows, got_dim = vectors.shape
    if got_dim != dim:
        raise ValueError(f"{what}: embeddings have dimension {got_dim}, but embed_dim is {dim}")
    if got_rows != rows and not (allow_fewer_rows and got_rows <= rows):
        expected = f"at most {rows}" if allow_fewer_rows else f"{rows}"
        raise ValueError(f"{what}: embeddings have {got_rows} rows, expected {expected} (vocab_size)")
    with torch.no_grad():
        weight[:got_rows].copy_(vectors)
        weight[PAD_ID].zero_()


def warn_frozen_random(what: str) -> None:
    """A frozen embedding without pretrained vectors stays random for good.

    That is right when a saved state_dict is loaded next (how ``build_model(**config)``
    rebuilds a model), and a silent accuracy loss otherwise, hence a warning, not an error.
    """
    warnings.warn(
        f"{what} freezes an embedding but no `embeddings` were given, so it stays random; "
        f"pass embeddings=load_vectors(...)[0] (ignore this if you load a state_dict next)",
        UserWarning,
        stacklevel=4,
    )
