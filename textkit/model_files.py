"""A saved ``TextClassifier``: the directory ``save`` writes and ``load`` checks and reads.

A directory, no pickle anywhere::

    config.json         format version, model name + config, train config, labels, threshold,
                        and the digests below
    pipeline.json       the TextPipeline (cleaner, tokenizer, vocabulary, padding), or the
                        LayoutPipeline (grid, slots and that text layer)
    model.safetensors   the weights

Integrity. ``config.json`` records three sha256 digests, and ``load`` refuses a directory
whose files do not match them, naming the file (a flipped bit in the weights, a renamed label,
another tokenizer in ``pipeline.json``: each changed predictions without a word before):

* ``weights_sha256``: of ``model.safetensors``' bytes;
* ``pipeline_sha256``: of ``pipeline.json``'s JSON content (:func:`textkit.fileio.json_sha256`:
  its values, not its bytes, so re-indenting or a CRLF checkout changes nothing);
* ``config_sha256``: of ``config.json``'s own other fields (labels, threshold, model and
  training options, the two digests above), likewise as content.

Why ``config.json`` holds a digest of itself, rather than the weights' safetensors metadata
holding it: both catch the same damage, but this way ``config.json`` alone vouches for all
three files, is checked before the weights are opened, and the weights file stays exactly what
safetensors writes. These digests catch damage and hand edits, not forgery: whoever rewrites a
file can recompute them (signing is not textkit's job). ``load`` also refuses what no digest
can vouch for: NaN or infinite weights (``save`` refuses them too), a model larger than
``max_parameters`` (``textkit.models.base.MAX_PARAMETERS``, 2**30 values) or than its weights
file holds, counted before anything is allocated, and JSON nested more than
``textkit.fileio.MAX_JSON_DEPTH`` levels. A directory saved before the digests existed (none of
the three keys) still loads, with a warning that it is unverified: saving it again adds them.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from . import __version__
from .checkpoints import non_finite
from .fileio import atomic_write, file_sha256, json_kind, json_sha256, read_json, read_versioned_json
from .pipeline import TextPipeline

if TYPE_CHECKING:
    from .layout import LayoutPipeline

FORMAT = "textkit.TextClassifier"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
PIPELINE_FILE = "pipeline.json"
WEIGHTS_FILE = "model.safetensors"
DIGESTS = ("weights_sha256", "pipeline_sha256", "config_sha256")  # see "Integrity" above


def write(directory: str | os.PathLike, model: torch.nn.Module, pipeline: TextPipeline | LayoutPipeline,
          fields: dict[str, Any]) -> None:
    """Save ``model`` (its weights), ``pipeline`` and the classifier's ``fields`` (labels,
    threshold, training options...) with their digests; ``config.json`` last, so a directory
    that has it is complete."""
    from safetensors.torch import save as to_safetensors

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    damage = non_finite(tensors)
    if damage:  # load refuses them: never write what cannot be loaded
        raise ValueError(f"cannot save: the model's weights hold NaN or infinite values ({damage}); its "
                         f"training diverged: train again with a lower lr (and clip_norm on)")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = {"format": FORMAT, "version": FORMAT_VERSION, "textkit_version": __version__,
              "model": model.get_config(), "vocab_sha256": _vocab_fingerprint(pipeline), **fields}
    weights = to_safetensors(tensors, metadata={"format": FORMAT, "version": str(FORMAT_VERSION)})
    pipeline.save(directory / PIPELINE_FILE)  # first: it refuses what JSON cannot restore
    config["weights_sha256"] = hashlib.sha256(weights).hexdigest()
    config["pipeline_sha256"] = json_sha256(read_json(directory / PIPELINE_FILE, name="pipeline")[0])  # as written
    config["config_sha256"] = json_sha256(json.loads(json.dumps(config)))  # as read() will read it back
    payload = json.dumps(config, ensure_ascii=False, indent=1)
    atomic_write(directory / WEIGHTS_FILE, lambda f: f.write(weights))
    atomic_write(directory / CONFIG_FILE, lambda f: f.write(payload), mode="w", encoding="utf-8")


def read(directory: str | os.PathLike, *, max_parameters: int | None = None
         ) -> tuple[dict, TextPipeline | LayoutPipeline, torch.nn.Module]:
    """``(config, pipeline, model)`` of a saved classifier, the model on the CPU with its weights,
    once every check above has passed; each failure names the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .models import MODELS, build_model, count_parameters
    from .models.base import ModelTooLargeError

    directory = Path(directory)
    if directory.is_file():
        raise NotADirectoryError(f"{str(directory)!r} is a file; load() takes the folder that save() wrote "
                                 f"({CONFIG_FILE}, {PIPELINE_FILE}, {WEIGHTS_FILE})")
    config_path, pipeline_path, weights_path = (directory / name for name in (CONFIG_FILE, PIPELINE_FILE, WEIGHTS_FILE))
    config = _read_config(config_path)
    pipeline_data = read_json(pipeline_path, name="pipeline")[0]
    # before anything is built from them: an edited file is named as edited, not as whatever
    # its edit breaks first
    _check_json_digests(config, json_sha256(pipeline_data), config_path, pipeline_path)
    pipeline = _build_pipeline(pipeline_data, pipeline_path)
    model_config = dict(config["model"])
    reads = getattr(MODELS.get(model_config["name"]), "inputs", None)
    if reads is not None and (reads == "pages") != (not isinstance(pipeline, TextPipeline)):
        held = "a TextPipeline (texts)" if isinstance(pipeline, TextPipeline) else "a LayoutPipeline (pages)"
        raise ValueError(f"{str(pipeline_path)!r} holds {held}, but the model in {CONFIG_FILE} "
                         f"({model_config['name']!r}) reads {reads}; the directory is damaged: save the "
                         f"classifier again")
    if _vocab_fingerprint(pipeline) != config["vocab_sha256"] or \
            pipeline.num_embeddings != model_config["vocab_size"]:
        raise ValueError(f"{str(pipeline_path)!r} does not match the weights: its vocabulary "
                         f"({pipeline.num_embeddings} embedding rows) is not the one the model was trained "
                         f"with ({model_config['vocab_size']} rows, see {CONFIG_FILE}); save the classifier again")
    if not weights_path.exists():
        raise FileNotFoundError(f"weights file {str(weights_path)!r} does not exist; the saved classifier "
                                f"is incomplete")
    refused = f"{str(config_path)!r} holds options textkit refuses"
    try:  # counted from config.json alone, before anything is allocated (embed_dim=1e9 asked for 172 GB)
        size = count_parameters(model_config.pop("name"), max_parameters=max_parameters, **model_config)
    except ModelTooLargeError as exc:
        raise ValueError(f"{str(config_path)!r}: {str(exc).removeprefix('build_model: ')}; the file is damaged, "
                         f"or the model is really this large: then pass TextClassifier.load(..., "
                         f"max_parameters=N)") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{refused} ({type(exc).__name__}: {exc}); the file is damaged: save the classifier "
                         f"again") from None
    held = sum(math.prod(shape) for shape in _weight_shapes(weights_path).values())
    if held != size:  # so the model built below is no larger than the weights file itself
        raise ValueError(f"weights file {str(weights_path)!r} does not match {CONFIG_FILE}: it holds {held:,} "
                         f"values, the model {CONFIG_FILE} describes {size:,}; the directory is damaged: save "
                         f"the classifier again")
    try:
        with warnings.catch_warnings():  # a frozen table stays random only until the weights below load
            warnings.filterwarnings("ignore", message=r".*freezes an embedding but no `embeddings`")
            model = build_model(config["model"]["name"], max_parameters=max_parameters, **model_config)
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"{refused} ({type(exc).__name__}: {exc}); the file is damaged: save the classifier "
                         f"again") from None
    _check_labels(config, model.num_classes, config_path)
    _check_weights_digest(config, weights_path)
    try:
        tensors = load_file(weights_path)
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"weights file {str(weights_path)!r} is damaged or truncated ({exc}); "
                         f"save the classifier again") from None
    damage = non_finite(tensors)
    if damage:
        raise ValueError(f"weights file {str(weights_path)!r} holds NaN or infinite values ({damage}); the file "
                         f"is damaged: save the classifier again")
    _check_tensors(model, tensors, weights_path)
    model.load_state_dict(tensors)
    return config, pipeline, model


def _build_pipeline(data: Any, path: Path) -> TextPipeline | LayoutPipeline:
    """``pipeline.json`` holds a TextPipeline or a LayoutPipeline; its ``"format"`` says which
    (any problem with the file is reported by the loader of the kind it claims to be)."""
    from .layout import FORMAT as LAYOUT_FORMAT, LayoutPipeline

    kind = LayoutPipeline if isinstance(data, dict) and data.get("format") == LAYOUT_FORMAT else TextPipeline
    source = f"{'layout pipeline' if kind is LayoutPipeline else 'pipeline'} file {str(path)!r}"
    return kind.from_dict(data, source=source)


def _vocab_fingerprint(pipeline: TextPipeline | LayoutPipeline) -> str:
    """sha256 of the id -> token table and hash buckets: the exact rows the weights index."""
    table = json.dumps([pipeline.vocab.itos, pipeline.ngram_buckets], ensure_ascii=False)
    return hashlib.sha256(table.encode("utf-8")).hexdigest()


def _read_config(path: Path) -> dict:
    config, source = read_versioned_json(
        path, name="TextClassifier config", format=FORMAT, version=FORMAT_VERSION,
        missing_hint=f": {str(path.parent)!r} is not a saved TextClassifier directory "
                     f"(expected {CONFIG_FILE}, {PIPELINE_FILE}, {WEIGHTS_FILE})")
    digests = [k for k in DIGESTS if k in config]  # none: saved before digests existed (see _check_json_digests)
    missing = [k for k in ("model", "vocab_sha256", "train_config", "multi_label", "valid_split", "threshold",
                           "tuned_threshold", "labels", *(DIGESTS if digests else ())) if k not in config]
    if missing:
        raise ValueError(f"{source} is missing the key(s) {missing}; the file is damaged")
    expected = {"model": (dict, "an object (the model's name and sizes)"),
                "train_config": (dict, "an object (the training options)"),
                "labels": (list, "an array (the class names, one per output)"),
                "multi_label": (bool, "true or false"),
                **{k: (str, "a string (a sha256)") for k in ("vocab_sha256", *digests)}}
    for key, (kind, what) in expected.items():
        if not isinstance(config[key], kind):
            raise ValueError(f"{source}: {key!r} must be {what}, got {json_kind(config[key])}; the file is damaged")
    missing = [k for k in ("name", "vocab_size", "num_classes") if k not in config["model"]]
    if missing:
        raise ValueError(f"{source}: 'model' is missing the key(s) {missing}; the file is damaged")
    if not isinstance(config["model"]["name"], str):
        raise ValueError(f"{source}: the model's 'name' must be a string, got {json_kind(config['model']['name'])}; "
                         f"the file is damaged")
    return config


def _check_json_digests(config: dict, pipeline_sha256: str, config_path: Path, pipeline_path: Path) -> None:
    """``config.json`` and ``pipeline.json`` are the ones ``save`` wrote (see "Integrity" in the
    module doc): ``config.json`` first, as the other digests are in it."""
    if not any(k in config for k in DIGESTS):
        warnings.warn(f"{str(config_path)!r} records no digests (saved by textkit "
                      f"{config.get('textkit_version', '?')}, before they existed): its files are loaded unverified; "
                      f"save it again to add them", UserWarning, stacklevel=4)
        return
    own = json_sha256({k: v for k, v in config.items() if k != "config_sha256"})
    if own != config["config_sha256"]:
        raise ValueError(f"{str(config_path)!r} was changed after it was saved: its content does not match its "
                         f"config_sha256 (a renamed or reordered label, for one, would relabel every prediction); "
                         f"save the classifier again")
    if pipeline_sha256 != config["pipeline_sha256"]:
        raise ValueError(f"{str(pipeline_path)!r} was changed after it was saved: its content does not match the "
                         f"pipeline_sha256 in {CONFIG_FILE} (another cleaner, tokenizer, n-grams or padding changes "
                         f"predictions); save the classifier again")


def _check_weights_digest(config: dict, weights_path: Path) -> None:
    """``model.safetensors`` is the one ``save`` wrote (its digest is in ``config.json``)."""
    if "weights_sha256" not in config:
        return  # saved before digests existed: _check_json_digests warned
    if file_sha256(weights_path) != config["weights_sha256"]:  # 1 MB reads: the weights are never in memory twice
        raise ValueError(f"weights file {str(weights_path)!r} was changed after it was saved: its sha256 is not the "
                         f"one {CONFIG_FILE} recorded; the file is damaged: save the classifier again")


def _weight_shapes(path: Path) -> dict[str, tuple[int, ...]]:
    """Each tensor's shape, from the safetensors header alone (nothing loaded)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(path, "pt") as f:
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"weights file {str(path)!r} is damaged or truncated ({exc}); "
                         f"save the classifier again") from None


def _check_labels(config: dict, num_classes: int, path: Path) -> None:
    """The label list names the model's outputs, one each, in order; multi-label models
    (and only they) carry the threshold their sigmoid outputs are cut at."""
    labels = config["labels"]
    if not isinstance(labels, list) or len(labels) != num_classes or \
            not all(isinstance(y, (str, int)) for y in labels) or \
            len({json.dumps(y) for y in labels}) != len(labels):
        raise ValueError(f"{str(path)!r}: 'labels' must list the model's {num_classes} classes once each, "
                         f"got {labels!r:.120}; the file is damaged: save the classifier again")
    if config["multi_label"] is not (config["tuned_threshold"] is not None):
        raise ValueError(f"{str(path)!r}: multi_label={config['multi_label']!r} does not match its "
                         f"tuned_threshold={config['tuned_threshold']!r:.60}; the file is damaged")


def _check_tensors(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in tensors.items()}
    problems = [f"{k!r} missing" for k in expected if k not in found]
    problems += [f"{k!r} unexpected" for k in found if k not in expected]
    problems += [f"{k!r} has shape {found[k]}, the model built from {CONFIG_FILE} needs {shape}"
                 for k, shape in expected.items() if k in found and found[k] != shape]
    if problems:
        raise ValueError(f"weights file {str(path)!r} does not match {CONFIG_FILE}: {'; '.join(problems[:5])}")
