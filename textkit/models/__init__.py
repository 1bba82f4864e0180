"""Stage 5: ``(ids, lengths (B,)) -> logits (B, C)``; see ``base.py`` for the contract.

Text models take ``ids (B, T)`` from a ``TextPipeline``; the grid model takes pages placed on a
layout grid, ``ids (B, H, W, S)`` from a ``LayoutPipeline`` (``MODELS[name].inputs`` says which).

>>> model = build_model("cnn", vocab_size=5000, num_classes=2, kernel_sizes=(2, 3))
>>> again = build_model(**model.get_config())   # same architecture; load weights next

=======  ==================  ======================================================
name     config              model
=======  ==================  ======================================================
``bow``  :class:`BOWConfig`  fastText-style bag of (n-gram) embeddings
``cnn``  :class:`CNNConfig`  Kim (2014) CNN: kernels 3,4,5, masked max-over-time
``rnn``  :class:`RNNConfig`  LSTM/GRU, packed, last/max/mean/attention pooling
``grid`` :class:`GridConfig` 2-D CNN over a page's layout grid, position-aware
=======  ==================  ======================================================

Every model also takes ``members=k`` (default 1): k of it, trained side by side and averaged
(:mod:`textkit.models.ensemble`).
"""
from __future__ import annotations

import difflib

import torch

from .base import MAX_PARAMETERS, ModelTooLargeError, TextModel, check_size, make_config
from .bow import BagOfEmbeddings, BOWConfig
from .cnn import CNNConfig, KimCNN
from .ensemble import MAX_MEMBERS, Averaged
from .grid import GridCNN, GridConfig
from .rnn import RNNClassifier, RNNConfig

MODELS: dict[str, type[TextModel]] = {
    "bow": BagOfEmbeddings,
    "cnn": KimCNN,
    "rnn": RNNClassifier,
    "grid": GridCNN,
}

__all__ = [
    "MODELS",
    "build_model",
    "check_model_options",
    "count_parameters",
    "TextModel",
    "BagOfEmbeddings",
    "BOWConfig",
    "KimCNN",
    "CNNConfig",
    "RNNClassifier",
    "RNNConfig",
    "GridCNN",
    "GridConfig",
    "Averaged",
]


def check_model_options(name: str, config: dict) -> None:
    """Raise what ``build_model(name, **config)`` would for an unknown name or a bad option,
    without building anything (``TextClassifier`` checks its options at construction)."""
    if name not in MODELS:
        close = difflib.get_close_matches(str(name), list(MODELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown model {name!r}{hint}; choices: {', '.join(MODELS)}")
    config = dict(config)
    _members(config, name)
    make_config(MODELS[name].config_class, config, name)


def _members(config: dict, name: str) -> int:
    """Pop and check ``members`` (how many of the model to average), which no config class holds."""
    members = config.pop("members", 1)
    if isinstance(members, bool) or not isinstance(members, int) or not 1 <= members <= MAX_MEMBERS:
        raise ValueError(f"{name}: members must be an int from 1 to {MAX_MEMBERS} (how many models to train "
                         f"and average), got {members!r}")
    return members


def count_parameters(name: str, *, vocab_size: int, num_classes: int, max_parameters: int | None = None,
                     **config) -> int:
    """Values in the state_dict ``build_model`` would give these arguments, computed from the
    config alone; the checks are ``build_model``'s, the size limit included."""
    check_model_options(name, config)
    members = _members(config, name)
    model_class = MODELS[name]
    return _size(model_class, vocab_size, num_classes, make_config(model_class.config_class, config, name), members,
                 max_parameters)


def _size(model_class: type, vocab_size: int, num_classes: int, model_config, members: int,
          max_parameters: int | None) -> int:
    """Parameters of ``members`` models together: check_size's checks of one, then of the total."""
    one = check_size(model_class, vocab_size, num_classes, model_config, max_parameters)
    limit = MAX_PARAMETERS if max_parameters is None else max_parameters
    if one * members > limit:
        raise ModelTooLargeError(f"build_model: {members} members of model {model_class.name!r} would have "
                                 f"{one * members:,} parameters ({one:,} each), more than max_parameters={limit:,} "
                                 f"(textkit.models.base.MAX_PARAMETERS)")
    return one * members


def build_model(
    name: str,
    *,
    vocab_size: int,
    num_classes: int,
    embeddings: torch.Tensor | None = None,
    max_parameters: int | None = None,
    **config,
) -> TextModel:
    """Build a registered model; ``config`` holds fields of its config dataclass, and
    ``members`` (default 1): how many of the model to train side by side and average.

    ``embeddings (V, E)`` are pretrained vectors (``textkit.vectors.load_vectors``) for the
    first rows of the embedding (of every member); when given without ``embed_dim``,
    ``embed_dim`` is taken from them, so ``model.config`` records the size needed to rebuild
    the model without them: ``build_model(**model.get_config())`` followed by ``load_state_dict``.

    A model of more than ``max_parameters`` values (default ``textkit.models.base.MAX_PARAMETERS``,
    2**30: 4 GiB as float32), members together, is refused before anything is allocated, naming
    its sizes.
    """
    check_model_options(name, config)
    members = _members(config, name)
    if embeddings is not None and "embed_dim" not in config and isinstance(embeddings, torch.Tensor):
        config["embed_dim"] = int(embeddings.shape[-1])
    model_class = MODELS[name]
    model_config = make_config(model_class.config_class, config, name)
    _size(model_class, vocab_size, num_classes, model_config, members, max_parameters)
    built = [model_class(vocab_size, num_classes, model_config, embeddings=embeddings) for _ in range(members)]
    return built[0] if members == 1 else Averaged(built)
