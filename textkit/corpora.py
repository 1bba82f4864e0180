"""Public corpora and users' files -> ``datasets.DatasetDict`` with ``text`` and ``label``.

``load_corpus`` accepts a registered name (``"trec"``, see ``list_corpora()``), a path (file,
folder or archive; format inferred from the name or given with ``format=``) or a mapping of
split -> path. Every split is a ``datasets.Dataset`` with columns ``text`` (string) and
``label`` (a ``ClassLabel`` whose names are the class names), in file order: shuffling is the
training loop's job, so a class-sorted file stays class-sorted here.

A corpus of OCR'd pages (class folders of Tesseract TSV, hOCR, ALTO, FUNSD JSON or laid-out
text, see ``documents.py``) has one row per page and the columns layout models use, as
LayoutLM's datasets store them: ``words`` (strings, reading order), ``bboxes`` (``[x0, y0, x1,
y1]`` per word, 0-1000 of the page), ``page`` (its number in its file), and ``text`` (the words
joined with spaces, for text-only models), plus ``label``.

A registered name is looked up in this order, and the first place holding its files wins:

1. ``data_dir=`` (the corpus folder itself; nothing else is tried when it is given),
2. ``$TEXTKIT_DATA/<name>/`` (or a folder name the card lists, e.g. ``sst_trees`` for SST-5),
3. the corpora bundled with the package (TREC and SST-2, in ``textkit/data/``),
4. the Hugging Face hub through ``datasets.load_dataset`` (network; never used by the tests).

Splits are ``train``, ``valid`` and ``test``. A corpus with a fixed split but no dev set gets a
seeded, stratified ``valid`` carved from ``train`` (``valid_fraction``, 0.1 by default); a
corpus evaluated by cross-validation (MR, Subj, CR, MPQA) comes whole as ``train``, for
``kfold``.
"""
from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence, Union

import numpy as np

from .arrow_corpus import SPLITS, LabelNames, to_datasets
from .formats import CONTAINERS, DOCUMENT_FORMATS, Column, CorpusError, ReadOptions, Rows, Stream, sources
from .registry import CARDS, CorpusCard, canonical_name, get_card

if TYPE_CHECKING:  # `datasets` costs about a second to import: loaded on first use only
    from datasets import Dataset, DatasetDict

__all__ = ["CorpusError", "load_corpus", "list_corpora", "get_card", "stratified_split", "kfold"]

DATA_ENV = "TEXTKIT_DATA"
BUNDLED = Path(__file__).resolve().parent / "data"
DEFAULT_VALID_FRACTION = 0.1
PathLike = Union[str, "os.PathLike[str]"]


def load_corpus(
    name_or_path: PathLike | Mapping[str, PathLike],
    *,
    split: str | Sequence[str] | None = None,
    data_dir: PathLike | None = None,
    format: str | None = None,
    encoding: str | None = None,
    errors: str | None = None,
    text_column: Column | Sequence[Column] | None = None,
    label_column: Column | None = None,
    header: bool | None = None,
    label_names: LabelNames | None = None,
    min_confidence: float | None = None,
    page_size: tuple[float, float] | None = None,
    max_record_chars: int | None = None,
    max_member_bytes: int | None = None,
    max_compression_ratio: float | None = None,
    valid_fraction: float | None = None,
    seed: int = 0,
    cache_dir: PathLike | None = None,
) -> DatasetDict:
    """Load a corpus as a ``DatasetDict`` of ``train``/``valid``/``test`` splits.

    Args:
        name_or_path: a registered name (``"trec"``, ``"imdb"``...), a file/folder/archive, or
            ``{"train": path, "valid": path, "test": path}`` (any subset). A string that is a
            registered name is the corpus even if a same-named folder exists: pass
            ``Path("imdb")`` or ``"./imdb"`` for the folder.
        split: only these splits (e.g. ``"test"``, or ``["train", "valid"]``). A registered
            corpus, or files given with ``label_names``, read only the files those splits
            need; other files are read whole, so that the class ids are those of the full load.
        data_dir: the folder holding a registered corpus's files (instead of ``$TEXTKIT_DATA``).
        format: ``label-text``, ``fasttext``, ``csv``, ``tsv``, ``jsonl``, ``parquet``,
            ``ptb-trees``, ``ptb-phrases``, ``folders``, ``tar`` or ``zip``; inferred from the file name if None.
            For a folder or archive of page files: ``ocr-tsv``, ``hocr``, ``alto``, ``funsd`` or
            ``layout-text`` (inferred from the members when unambiguous, ``layout-text`` never).
        encoding, errors: how bytes become text (default ``utf-8``/``strict``, or the card's).
        text_column: column name/0-based index, or several, joined with a space (csv, tsv,
            jsonl, parquet; default ``"text"``, or every non-label column of a header-less csv).
        label_column: column name or index (default ``"label"``).
        header: whether a csv/tsv's first row names its columns (default: True when columns
            are given by name, False when by number).
        label_names: the classes, in ClassLabel order. A sequence: each raw label must be one
            of the names or a 0-based index into them. A mapping: raw label -> class name. For
            folders/archives it also selects which class folders are read. Default: the raw
            labels, sorted (numerically when all are integers). A mapping value of ``None``
            drops that raw label's rows on purpose (SST's neutral ``"2"`` for the binary task);
            every other unmapped label is still an error.
        min_confidence: OCR'd pages (ocr-tsv, hocr, alto): leave out words the engine scored
            below this (0-100).
        page_size: FUNSD-style JSON pages: ``(width, height)``, which the files do not hold.
        max_record_chars, max_member_bytes, max_compression_ratio: limits that keep memory
            bounded whatever the input (defaults in ``textkit.formats``: 16 Mi characters per
            record, 64 MiB per file of a folder or archive, decompressed, and 100 times the
            compressed size; corpora/README.md says why). A record, file or archive over a limit
            is refused, naming it; raise the limit when such data is real.
        valid_fraction: share of ``train`` held out, stratified, as ``valid`` when there is no
            valid split. None: 0.1, or 0 for cross-validation corpora. 0 disables.
        seed: seed of that split.
        cache_dir: where a line or column file (label-text, fastText, PTB trees, csv, tsv, JSON
            lines, Parquet) is written as Arrow and memory-mapped, so a corpus larger than memory
            loads in bounded memory (default: the ``datasets`` cache, ``$HF_DATASETS_CACHE``). A
            second load of an unchanged file reuses it; an edited file is read again.

    Raises:
        CorpusError: with a one-line message naming the file, line or member, and the fix.
    """
    wanted = _wanted(split)
    limits = {name: value for name, value in (("max_record_chars", max_record_chars),
                                              ("max_member_bytes", max_member_bytes),
                                              ("max_compression_ratio", max_compression_ratio)) if value is not None}
    fmt_options = {"format": format, "text_column": text_column, "label_column": label_column,
                   "header": header, "label_names": label_names, "page_size": page_size}
    if isinstance(name_or_path, str) and _names_a_corpus(name_or_path):
        given = [k for k, v in fmt_options.items() if v is not None]
        if given:
            raise CorpusError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to files, "
                              f"not to the registered corpus "
                              f"{name_or_path!r}, which knows its own format")
        card = get_card(name_or_path)
        parts, label_names, where = _read_card(card, data_dir, wanted, encoding, errors,
                                               {"min_confidence": min_confidence, **limits})
        fixed = card.fixed_split
        splits = to_datasets(parts, label_names, f"the {card.name!r} card in textkit/registry.py does not list that "
                             f"class", description=f"{card.title}; read from {where}", citation=card.citation,
                             cache_dir=cache_dir)
    else:
        if data_dir is not None:
            raise CorpusError("data_dir= is for registered corpora; pass the file path itself")
        options = ReadOptions(encoding=encoding or "utf-8", errors=errors or "strict",
                              text_column=text_column, label_column=label_column, header=header,
                              classes=_folder_names(label_names), min_confidence=min_confidence,
                              page_size=page_size, **limits)
        given_splits = list(name_or_path) if isinstance(name_or_path, Mapping) else None
        # Without label_names the classes are the labels found, so every split is read: a
        # split="test" load must number the classes as the full load does.
        needed = _needed(wanted, given_splits) if label_names is not None else None
        try:  # files are read (streams: into Arrow) by to_datasets
            parts = _read_paths(name_or_path, needed, format, options)
            splits = to_datasets(parts, label_names, "fix the file or pass label_names=",
                                 description=f"read from {name_or_path}", citation="", cache_dir=cache_dir)
        except CorpusError as e:
            card = None if isinstance(name_or_path, Mapping) else _card_of_file(Path(name_or_path))
            if card is None:
                raise
            raise CorpusError(f"{e}; or, as this is the {card.name!r} corpus's file, load it by name: "
                              f"load_corpus({card.name!r}, data_dir={str(Path(name_or_path).parent)!r})") from None
        fixed = True
    absent = [s for s in wanted or () if s not in splits and not (s == "valid" and "train" in splits)]
    if absent:
        raise CorpusError(f"{name_or_path}: no {' or '.join(absent)} split; it holds {', '.join(splits)}")
    if valid_fraction is None:  # the protocol's default: CV corpora stay whole unless valid is asked for
        valid_fraction = DEFAULT_VALID_FRACTION if fixed or (wanted and "valid" in wanted) else 0.0
    # carved whenever train is read, so split="train" gives the same rows as the full load
    if "train" in splits and "valid" not in splits and valid_fraction:
        try:
            splits["train"], splits["valid"] = stratified_split(splits["train"], valid_fraction, seed=seed)
        except CorpusError as e:
            raise CorpusError(f"{name_or_path}: cannot hold out valid_fraction={valid_fraction} of train as "
                              f"the valid split ({e}); pass valid_fraction=0 or a valid file") from None
    missing = [s for s in wanted or () if s not in splits]
    if missing:
        raise CorpusError(f"split {', '.join(missing)} not found in {name_or_path}; it has "
                          f"{', '.join(splits) or 'no splits'}")
    from datasets import DatasetDict

    return DatasetDict({s: splits[s] for s in SPLITS if s in splits and (wanted is None or s in wanted)})


def load_training_phrases(name: str, *, data_dir: PathLike | None = None,
                          cache_dir: PathLike | None = None) -> Dataset:
    """The labelled phrases of a registered corpus's training trees, as a ``Dataset`` with the
    corpus's class ids: what Kim (2014) trains SST-2 on (77,616 phrases, the 6,920 training
    sentences among them) and what ``textkit train --corpus sst2`` trains on. Valid and test
    stay the corpus's sentences (``load_corpus``). The tree file is looked for where the corpus
    is found (``data_dir``, ``$TEXTKIT_DATA``), then in the bundled copy."""
    card = get_card(name)
    if card.train_phrases is None:
        raise CorpusError(f"corpus {card.name!r} has no training phrases: only "
                          f"{', '.join(c.name for c in CARDS.values() if c.train_phrases)} have them")
    places = _candidates(card, data_dir)
    if card.bundled and data_dir is not None:
        places.append(("bundled", BUNDLED / card.name))
    path = next((folder / card.train_phrases for _, folder in places if (folder / card.train_phrases).is_file()),
                None)
    if path is None:
        raise CorpusError(f"corpus {card.name!r}: {card.train_phrases} not found in "
                          f"{', '.join(str(folder) for _, folder in places) or 'any folder'}")
    phrases = load_corpus(path, format="ptb-phrases", label_names=dict(card.phrase_labels), valid_fraction=0,
                          cache_dir=cache_dir)["train"]
    if tuple(phrases.features["label"].names) != card.classes:  # the ids must mean what valid/test's mean
        raise CorpusError(f"the {card.name!r} card in textkit/registry.py: phrase_labels give the classes "
                          f"{phrases.features['label'].names}, not the corpus's {list(card.classes)}")
    return phrases


def list_corpora() -> list[dict[str, object]]:
    """Every registered corpus and where ``load_corpus`` would find it right now.

    Each entry has ``name``, ``title``, ``classes`` (count), ``protocol``, ``found`` (``"data_dir"``
    never appears here; ``"TEXTKIT_DATA"``, ``"bundled"``, ``"hub"`` — not checked, it needs the
    network — or ``"missing"``), ``location`` (folder or hub id) and ``missing_files`` (files a
    local folder lacks; such a corpus loads only with ``split=`` naming the splits present).
    """
    out = []
    for card in CARDS.values():
        found, location, missing = "hub", card.hub.repo if card.hub else None, []
        for kind, folder in _candidates(card, None):
            present = [f for f in card.files_for(None) if (folder / f).exists()]
            if present:
                found, location = kind, str(folder)
                missing = [f for f in card.files_for(None) if f not in present]
                break
        out.append({"name": card.name, "title": card.title, "classes": len(card.classes),
                    "protocol": card.protocol, "found": found if location else "missing",
                    "location": location, "missing_files": missing})
    return out


# ---------------------------------------------------------------- splits

def stratified_split(dataset: Dataset, fraction: float, *, seed: int = 0) -> tuple[Dataset, Dataset]:
    """Split off ``fraction`` of ``dataset`` with the same class proportions: ``(rest, held_out)``.

    Deterministic for a seed. Each class gives ``fraction`` of its rows (largest remainders
    round up, so the total is ``round(fraction * len)``), but never its last row: every class
    keeps at least one row in ``rest``, the part a model trains on. Both parts keep the
    original order.
    """
    if not 0.0 < fraction < 1.0:
        raise CorpusError(f"fraction must be in (0, 1), got {fraction!r}")
    labels = _labels_of(dataset)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * fraction
    take = np.floor(exact).astype(int)  # < counts, as fraction < 1
    short = int(np.floor(len(labels) * fraction + 0.5)) - take.sum()
    # rounding up may not hold out a class's last row (a 1-row class would vanish from training)
    remainder = np.where(take + 1 < counts, exact - take, -np.inf)
    order = np.argsort(-remainder, kind="stable")[:short]
    take[order[np.isfinite(remainder[order])]] += 1
    held = np.sort(np.concatenate([
        rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]))
    if len(held) == 0 or len(held) == len(labels):
        raise CorpusError(f"fraction={fraction} of {len(labels)} rows leaves an empty split")
    rest = np.setdiff1d(np.arange(len(labels)), held)
    return dataset.select(rest), dataset.select(held)


def kfold(dataset: Dataset, k: int = 10, *, seed: int = 0) -> list[tuple[Dataset, Dataset]]:
    """``k`` stratified ``(train, test)`` folds of ``dataset``, seeded (the CV protocol of MR,
    Subj, CR and MPQA). Every row is in exactly one test fold; fold sizes differ by at most
    one, per class too.
    """
    labels = _labels_of(dataset)
    if not 2 <= k <= len(labels):
        raise CorpusError(f"k must be between 2 and the number of rows ({len(labels)}), got {k}")
    rng = np.random.default_rng(seed)
    fold = np.empty(len(labels), dtype=int)
    offset = 0
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        # deal each class round-robin, continuing where the previous class stopped, so the
        # remainders of all classes spread over different folds
        fold[rows] = (offset + np.arange(len(rows))) % k
        offset += len(rows)
    return [(dataset.select(np.flatnonzero(fold != i)), dataset.select(np.flatnonzero(fold == i)))
            for i in range(k)]


def _labels_of(dataset: Dataset) -> np.ndarray:
    if not hasattr(dataset, "select") or "label" not in getattr(dataset, "column_names", ()):
        raise CorpusError(f"expected a datasets.Dataset with a 'label' column (one split, e.g. "
                          f"corpus['train']), got {type(dataset).__name__}")
    # via Arrow: iterating dataset["label"] in Python costs about a second per 25k rows
    return dataset.with_format("arrow")["label"].to_numpy()


# ---------------------------------------------------------------- reading

def _wanted(split: str | Sequence[str] | None) -> tuple[str, ...] | None:
    if split is None:
        return None
    names = (split,) if isinstance(split, str) else tuple(split)
    unknown = [s for s in names if s not in SPLITS]
    if unknown or not names:
        raise CorpusError(f"split={split!r}: choose among {', '.join(SPLITS)}")
    return tuple(s for s in SPLITS if s in names)


def _needed(wanted: tuple[str, ...] | None, available: Sequence[str] | None) -> set[str] | None:
    """The splits to read: those wanted, plus train when valid must be carved from it."""
    if wanted is None:
        return None
    needed = set(wanted)
    if "valid" in needed and (available is None or "valid" not in available):
        needed.add("train")
    return needed


def _names_a_corpus(text: str) -> bool:
    # registered names win; any other bare word that is not an existing path is taken for a
    # mistyped name (so the error can suggest close ones) rather than a missing file
    if canonical_name(text) is not None:
        return True
    return not Path(text).exists() and not any(c in text for c in "/.\\")


def _folder_names(label_names: LabelNames | None) -> list[str] | None:
    return None if label_names is None else list(label_names)  # mapping -> its keys


def _read_paths(data: PathLike | Mapping[str, PathLike], needed: set[str] | None,
                format: str | None, options: ReadOptions, base: Path | None = None) -> dict[str, Rows | Stream]:
    if not isinstance(data, Mapping):
        parts: dict[str, Rows | Stream] = {}
        path = base / data if base else data
        for rows in sources(path, format, options):
            parts[getattr(rows, "split", None) or "train"] = rows
        absent = sorted((needed or set()) - set(parts) - ({"valid"} if "train" in parts else set()))
        if absent:  # say what the file holds, not only what is left after filtering
            raise CorpusError(f"{path}: no {' or '.join(absent)} split; it holds {', '.join(parts)} "
                              f"(a single file or class-folder tree is train; valid is carved from it)")
        return {s: r for s, r in parts.items() if needed is None or s in needed}
    parts = {}
    for split, path in data.items():
        if split not in SPLITS:
            raise CorpusError(f"split {split!r} in the mapping: use {', '.join(SPLITS)}")
        if needed is not None and split not in needed:
            continue
        found = sources(base / path if base else path, format, options)
        if len(found) != 1 or getattr(found[0], "split", None) not in (None, split):  # train.zip: train/<class>/
            raise CorpusError(f"{path}: holds its own splits ({', '.join(r.split for r in found)}); "
                              f"pass it as the whole corpus, not as split {split!r}")
        parts[split] = found[0]
    return parts


def _card_of_file(path: Path) -> CorpusCard | None:
    """The registered corpus whose files include ``path``'s name (aclImdb_v1.tar.gz: imdb)."""
    return next((card for card in CARDS.values() if path.name in card.files_for(None)), None)


def _candidates(card: CorpusCard, data_dir: PathLike | None) -> list[tuple[str, Path]]:
    if data_dir is not None:
        return [("data_dir", Path(data_dir))]
    root = os.environ.get(DATA_ENV)
    places = [(DATA_ENV, Path(root) / folder) for folder in card.local_folders] if root else []
    if card.bundled:
        places.append(("bundled", BUNDLED / card.name))
    return places


def _read_card(card: CorpusCard, data_dir: PathLike | None, wanted: tuple[str, ...] | None,
               encoding: str | None, errors: str | None,
               reading: dict[str, Any]) -> tuple[dict[str, Rows | Stream], LabelNames, str]:
    """``reading``: ``min_confidence`` and the limits, which apply to registered corpora too."""
    files = card.files if isinstance(card.files, str) else dict(card.files)
    needed = _needed(wanted, None if isinstance(files, str) else list(files))
    options = ReadOptions(**{**card.options, "encoding": encoding or card.options.get("encoding", "utf-8"),
                             "errors": errors or "strict", **reading,
                             "classes": card.classes if card.format in (*CONTAINERS, *DOCUMENT_FORMATS) else None})
    label_names = card.label_map or card.classes
    looked = []
    for kind, folder in _candidates(card, data_dir):
        names = card.files_for(needed)
        present = [f for f in names if (folder / f).exists()]
        if len(present) == len(names):
            return _read_paths(files, needed, card.format, options, base=folder), label_names, str(folder)
        if kind == "data_dir" and not folder.is_dir():
            raise CorpusError(f"corpus {card.name!r}: data_dir {folder} is not a folder; pass the folder holding "
                              f"{', '.join(card.files_for(None))}")
        if present or kind == "data_dir":
            missing = [f for f in names if f not in present]
            raise CorpusError(f"corpus {card.name!r}: {folder} lacks {', '.join(missing)}; add "
                              f"{'them' if len(missing) > 1 else 'it'} or pass split= to load only "
                              f"the splits present")
        looked.append(f"{folder}")
    if not os.environ.get(DATA_ENV):
        looked.append(f"${DATA_ENV} (unset)")
    parts = _read_hub(card, needed, looked)  # raises when there is no hub copy
    return parts, card.hub.label_map or card.classes, f"hub:{card.hub.repo}"


def _read_hub(card: CorpusCard, needed: set[str] | None, looked: list[str]) -> dict[str, Rows]:
    where = f"looked in {', '.join(looked) or 'no local folder'}"
    fix = f"put its files ({', '.join(card.files_for(None))}) in ${DATA_ENV}/{card.local_folders[0]}/"
    if card.hub is None:
        raise CorpusError(f"corpus {card.name!r} not found: {where}, and it has no hub copy; {fix}")
    from datasets import load_dataset  # network: only reached when nothing local exists

    hub = card.hub
    try:
        with _quiet_hub_retries():
            remote = load_dataset(hub.repo, hub.config)
    except Exception as e:  # offline, unknown repo, auth...: all end here as one line
        reason = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        raise CorpusError(f"corpus {card.name!r} not found: {where}, and the Hugging Face hub "
                          f"{hub.repo!r} failed ({reason}); {fix}, or go online") from e
    parts = {}
    for hub_split, split in hub.splits.items():
        if needed is not None and split not in needed:
            continue
        if hub_split not in remote:
            raise CorpusError(f"hub copy {hub.repo!r} has splits {', '.join(remote)}, not {hub_split!r}; "
                              f"the {card.name!r} card in textkit/registry.py needs updating")
        ds = remote[hub_split].with_format("arrow")  # whole columns at once: Python iteration is slow
        names = getattr(remote[hub_split].features[hub.label_column], "names", None)
        # ClassLabel ids -> the hub's names, so the mapping to our names does not rely on order
        labels = [names[v] if names else str(v) for v in ds[hub.label_column].to_pylist()]
        columns = [ds[c].to_pylist() for c in hub.text_columns]
        rows = Rows(f"hub:{hub.repo}[{hub_split}]", "row")
        rows.texts = [" ".join(p for p in texts if p) for texts in zip(*columns)]  # as formats.join_texts
        rows.labels, rows.where = labels, list(range(1, len(labels) + 1))
        parts[split] = rows
    return parts


@contextlib.contextmanager
def _quiet_hub_retries() -> Iterator[None]:
    """Offline, huggingface_hub logs two warnings per retry (11 lines over ~20 s) before it
    gives up; the one-line error that follows says all of it."""
    hub_logger = logging.getLogger("huggingface_hub")
    level = hub_logger.level
    hub_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        hub_logger.setLevel(level)
