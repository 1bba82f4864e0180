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
"""
from __future__ import annotations

import difflib

import torch

from .base import TextModel, check_size, make_config
from .bow import BagOfEmbeddings, BOWConfig
from .cnn import CNNConfig, KimCNN
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
]


def check_model_options(name: str, config: dict) -> None:
    """Raise what ``build_model(name, **config)`` would for an unknown name or a bad option,
    without building anything (``TextClassifier`` checks its options at construction)."""
    if name not in MODELS:
        close = difflib.get_close_matches(str(name), list(MODELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"unknown model {name!r}{hint}; choices: {', '.join(MODELS)}")
    make_config(MODELS[name].config_class, dict(config), name)


def count_parameters(name: str, *, vocab_size: int, num_classes: int, max_parameters: int | None = None,
                     **config) -> int:
    """Values in the state_dict ``build_model`` would give these arguments, computed from the
    config alone; the checks are ``build_model``'s, the size limit included."""
    check_model_options(name, config)
    model_class = MODELS[name]
    model_config = make_config(model_class.config_class, config, name)
    return check_size(model_class, vocab_size, num_classes, model_config, max_parameters)


def build_model(
    name: str,
    *,
    vocab_size: int,
    num_classes: int,
    embeddings: torch.Tensor | None = None,
    max_parameters: int | None = None,
    **config,
) -> TextModel:
    """Build a registered model; ``config`` holds fields of its config dataclass.

    ``embeddings (V, E)`` are pretrained vectors (``textkit.vectors.load_vectors``) for the
    first rows of the embedding; when given without ``embed_dim``, ``embed_dim`` is taken
    from them, so ``model.config`` records the size needed to rebuild the model without
    them: ``build_model(**model.get_config())`` followed by ``load_state_dict``.

    A model of more than ``max_parameters`` values (default ``textkit.models.base.MAX_PARAMETERS``,
    2**30: 4 GiB as float32) is refused before anything is allocated, naming its sizes.
    """
    check_model_options(name, config)
    if embeddings is not None and "embed_dim" not in config and isinstance(embeddings, torch.Tensor):
        config["embed_dim"] = int(embeddings.shape[-1])
    model_class = MODELS[name]
    model_config = make_config(model_class.config_class, config, name)
    check_size(model_class, vocab_size, num_classes, model_config, max_parameters)
    return model_class(vocab_size, num_classes, model_config, embeddings=embeddings)
