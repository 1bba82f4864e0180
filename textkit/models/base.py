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
* ``Model.count_parameters(vocab_size, num_classes, config)`` is the number of values in the
  state_dict the model would have, computed from the config alone: ``build_model`` refuses a
  model past :data:`MAX_PARAMETERS` before allocating anything (a saved ``config.json`` is
  read from disk, and one number in it, e.g. ``"embed_dim": 1000000000``, asked for 172 GB).

Limits on sizes (module attributes, read at call time, so a program that really needs more can
raise them; ``build_model`` and ``TextClassifier.load`` also take ``max_parameters=``):
:data:`MAX_PARAMETERS`, :data:`MAX_CLASSES`, :data:`MAX_LAYERS` (stacked layers or parallel
kernels) and :data:`MAX_KERNEL_SIZE`.
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

# 2**30 values, 4 GiB as float32: a fastText-sized bag of embeddings (2M n-gram buckets x 300)
# fits with room to spare (the default CNN on a 20,000-word vocabulary: 2.7M).
MAX_PARAMETERS = 2**30
# Outputs of one model: far past any corpus textkit ships (TREC has 6 classes, 50 fine ones).
MAX_CLASSES = 100_000
# Stacked RNN layers, CNN kernel sizes, grid conv blocks: each one is a module (1,000,000 LSTM
# layers of width 1 are few parameters but minutes of construction).
MAX_LAYERS = 64
# The widest CNN kernel is also the width every batch is padded to (``min_length``).
MAX_KERNEL_SIZE = 1024


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

    @classmethod
    def count_parameters(cls, vocab_size: int, num_classes: int, config: Any) -> int:
        """Values in the state_dict of ``cls(vocab_size, num_classes, config)``, from the config
        alone (nothing allocated); ``tests/test_models.py`` checks it against the built model."""
        raise NotImplementedError(f"{cls.__name__} does not say how many parameters it has")

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


def check_int(owner: str, name: str, value: Any, minimum: int, maximum: int | None = None,
              limit: str = "") -> None:
    """An int in ``[minimum, maximum]``; ``limit`` names the module attribute that sets ``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}.{name} must be an int >= {minimum}, got {value!r:.40}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{owner}.{name} must be an int <= {maximum}{f' ({limit})' if limit else ''}, got {value!r}")


def check_layers(owner: str, name: str, value: Any) -> None:
    check_int(owner, name, value, 1, MAX_LAYERS, "textkit.models.base.MAX_LAYERS")


def check_kernel(owner: str, name: str, value: Any) -> None:
    check_int(owner, name, value, 1, MAX_KERNEL_SIZE, "textkit.models.base.MAX_KERNEL_SIZE")


def check_count(owner: str, name: str, values: tuple) -> None:
    """At most :data:`MAX_LAYERS` entries in a tuple of layers or kernels."""
    if len(values) > MAX_LAYERS:
        raise ValueError(f"{owner}.{name} must have at most {MAX_LAYERS} entries "
                         f"(textkit.models.base.MAX_LAYERS), got {len(values)}")


class ModelTooLargeError(ValueError):
    """A model past ``max_parameters``: well-formed, maybe wanted, but too large to build unasked."""


def check_size(model_class: type, vocab_size: Any, num_classes: Any, config: Any, max_parameters: int | None,
               where: str = "build_model") -> int:
    """The model's parameter count, or a ValueError naming its sizes if it is past ``max_parameters``
    (default :data:`MAX_PARAMETERS`) or its sizes are not ints (``vocab_size`` >= 2: PAD and UNK;
    ``num_classes`` in [1, :data:`MAX_CLASSES`]: 1 output for a sigmoid)."""
    limit = MAX_PARAMETERS if max_parameters is None else max_parameters
    try:
        check_int("", "vocab_size", vocab_size, 2)
        check_int("", "num_classes", num_classes, 1, MAX_CLASSES, "textkit.models.base.MAX_CLASSES")
    except ValueError as exc:
        raise ValueError(f"{where}: {str(exc).removeprefix('.')}") from None
    count = model_class.count_parameters(vocab_size, num_classes, config)
    if count > limit:
        sizes = ", ".join(f"{k}={v}" for k, v in {"vocab_size": vocab_size, "num_classes": num_classes,
                                                  **asdict(config)}.items()
                          if isinstance(v, (int, tuple, list)) and not isinstance(v, bool))
        raise ModelTooLargeError(f"{where}: model {model_class.name!r} would have {count:,} parameters "
                                 f"({count * 4 / 2**30:,.1f} GiB as float32), more than max_parameters={limit:,} "
                                 f"(textkit.models.base.MAX_PARAMETERS); its sizes: {sizes}")
    return count


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


def exporting() -> bool:
    """True while torch.onnx traces a model (either exporter): the models then use ops ONNX has
    (a lookup and a sum for ``EmbeddingBag``, fixed windows for adaptive pooling), with the
    same results; training and prediction keep the fused ops."""
    return torch.compiler.is_exporting() or torch.onnx.is_in_onnx_export()
