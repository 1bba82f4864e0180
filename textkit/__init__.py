"""textkit: from messy text to a trained, evaluated PyTorch text classifier.

The data flow, in order::

    raw text ─► clean ─► tokenize ─► index ─► pad ─► model ─► logits ─► loss / metrics
      str        str     list[str]  list[int]  Batch   (B,T)→(B,C)
                 └────── text side: pure Python, no torch ──────┘└── tensor side ──┘

1. clean     ``TextCleaner``        str -> str              (cleaning.py)
2. tokenize  ``get_tokenizer``      str -> list[str]        (tokenization.py)
3. index     ``Vocab``              list[str] -> list[int]  (vocabulary.py, PAD=0, UNK=1)
4. pad       ``Batch``              ids (B,T) int64, lengths (B,)   (padding.py)
   ``TextPipeline`` composes 1-4 and saves them as one JSON file (pipeline.py).
   OCR'd pages (``Page``, ``read_document``; documents.py) take a 4th stage of their own:
   ``LayoutPipeline`` places their words on a grid, ids (B,H,W,S) (layout.py).
5. model     ``build_model``        (ids, lengths) -> logits (B,C)  (models/)
6. train     ``TextClassifier``     fit / predict / evaluate / save / load

Heavy pieces (torch models, spaCy, NLTK, datasets) are imported on first use, so
``import textkit`` stays cheap.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it; resolved lazily by __getattr__ below.
_EXPORTS = {
    "TextCleaner": "cleaning",
    "register_cleaning_step": "cleaning",
    "get_tokenizer": "tokenization",
    "register_tokenizer": "tokenization",
    "Vocab": "vocabulary",
    "PAD_ID": "vocabulary",
    "UNK_ID": "vocabulary",
    "Batch": "padding",
    "pad_sequences": "padding",
    "TextPipeline": "pipeline",
    "Page": "pages",
    "read_document": "documents",
    "LayoutPipeline": "layout",
    "load_corpus": "corpora",
    "list_corpora": "corpora",
    "load_training_phrases": "corpora",
    "CorpusError": "corpora",
    "load_vectors": "vectors",
    "build_model": "models",
    "TextClassifier": "classifier",
    "TrainConfig": "training",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'textkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # cache: the next lookup skips __getattr__
    return value


def __dir__() -> list[str]:
    return __all__
