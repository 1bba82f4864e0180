"""Pages on a layout grid (layout.py), the grid model (models/grid.py) and TextClassifier("grid").

Placement on hand-made pages with known boxes, the text layer the grid shares with
TextPipeline, refusals and bad input, the JSON round trip, the model's (B, H, W, S) contract
(the grid twin of the (B, T) one in test_models.py), what gives the model position, the
classifier end to end on pages (save/load, pipelines, resume), and the FARA pages.
"""
from __future__ import annotations

import os

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")  # before `datasets` is imported (as test_corpora.py)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import json
import re
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from textkit import classifier as classifier_module
from textkit.classifier import TextClassifier
from textkit.layout import FORMAT, EncodedGrids, GridBatch, LayoutPipeline
from textkit.models import build_model
from textkit.models.grid import GridCNN, GridConfig, coordinate_channels
from textkit.pages import Page
from textkit.pipeline import TextPipeline
from textkit.checkpoints import CHECKPOINT_FILE, load_checkpoint
from textkit.training import train
from textkit.vocabulary import PAD_ID, UNK_ID

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "corpora"
needs_shared = pytest.mark.skipif(not (SHARED / "fara_forms").is_dir(),
                                  reason=f"shared corpora not found at {SHARED}")

# Words for random pages: plain tokens the default cleaner and tokenizer keep whole.
NOISE = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november "
         "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, shared cores


# -- helpers ----------------------------------------------------------------------------------------
def row(words, bboxes) -> dict:
    """A page as a dataset row: words and LayoutLM boxes (0..1000)."""
    return {"words": list(words), "bboxes": [list(b) for b in bboxes]}


def placed(batch: GridBatch, i: int = 0) -> list[tuple[int, int, int, int]]:
    """Page ``i``'s placed tokens as ``(row, col, slot, id)``, in grid order."""
    ids = batch.ids[i]
    return [(r, c, s, int(ids[r, c, s])) for r, c, s in ids.nonzero().tolist()]


def random_pages(n: int, seed: int = 0, words=NOISE, max_words: int = 25) -> list[dict]:
    """Pages of 0..max_words random words in random boxes (dataset rows)."""
    rng = np.random.default_rng(seed)
    pages = []
    for _ in range(n):
        k = int(rng.integers(0, max_words + 1))
        x0, y0 = rng.integers(0, 950, k), rng.integers(0, 980, k)
        boxes = np.stack([x0, y0, x0 + rng.integers(5, 50, k), y0 + rng.integers(5, 20, k)], axis=1)
        pages.append(row(rng.choice(words, k).tolist(), boxes.tolist()))
    return pages


def same_batch(a: GridBatch, b: GridBatch) -> bool:
    return torch.equal(a.ids, b.ids) and torch.equal(a.lengths, b.lengths)


ONE_PAGE = row(["Form", "hello"], [[0, 0, 100, 20], [500, 500, 600, 520]])


@pytest.fixture(scope="module")
def pipe() -> LayoutPipeline:
    """A small fitted pipeline: 6 x 4 cells, 2 slots, vocabulary of the NOISE words + "form"/"hello"."""
    return LayoutPipeline(grid=(6, 4), slots=2).fit([row(NOISE, [[0, 0, 10, 10]] * len(NOISE)), ONE_PAGE])


# -- 1. placement -----------------------------------------------------------------------------------
# grid (10, 8): a row is 100 units high, a column 125 wide
CENTRES = {
    "top-left": ([0, 0, 10, 10], (0, 0)),
    "middle": ([240, 480, 260, 520], (5, 2)),  # cy 500 -> 5.0, cx 250 -> 2.0: exactly on a boundary
    "just-before-boundaries": ([100, 180, 148, 218], (1, 0)),  # cy 199 -> 1.99, cx 124 -> 0.992
    "on-boundaries": ([100, 180, 150, 220], (2, 1)),  # cy 200 -> 2.0, cx 125 -> 1.0
    "whole-page": ([0, 0, 1000, 1000], (5, 4)),
    "near-far-corner": ([990, 990, 1000, 1000], (9, 7)),
    "far-corner": ([1000, 1000, 1000, 1000], (9, 7)),  # floor(10) = 10 is past the grid: the last row
    "bottom-edge": ([0, 1000, 0, 1000], (9, 0)),
    "right-edge": ([1000, 0, 1000, 0], (0, 7)),
}


@pytest.mark.parametrize("as_page", [False, True], ids=["row", "Page"])
@pytest.mark.parametrize("box, cell", list(CENTRES.values()), ids=list(CENTRES))
def test_a_word_lands_in_the_cell_holding_its_box_centre(box, cell, as_page):
    pipe = LayoutPipeline(grid=(10, 8), slots=2).fit([row(["word"], [box])])
    if as_page:  # a 2000 x 500 page: its units scale to 0..1000 exactly (x / 2, y * 2)
        x0, y0, x1, y1 = box
        page = Page(("word",), ((2 * x0, y0 / 2, 2 * x1, y1 / 2),), 2000, 500)
        assert page.bboxes() == [box]
    else:
        page = row(["word"], [box])
    batch = pipe.transform([page])
    assert placed(batch) == [(*cell, 0, pipe.vocab["word"])]
    assert batch.lengths.tolist() == [1]


def test_a_word_of_several_tokens_splits_its_box_left_to_right_in_equal_parts():
    # grid (2, 10): columns 100 wide. "(1963)" -> "(", "1963", ")": centres 50, 150, 250
    page = row(["(1963)", "Form:", "No."], [[0, 0, 300, 100], [600, 600, 800, 700], [900, 600, 920, 700]])
    pipe = LayoutPipeline(grid=(2, 10), slots=3).fit([page])
    v = pipe.vocab
    assert pipe.text.analyze("Form:") == ["form", ":"]
    assert placed(pipe.transform([page])) == [
        (0, 0, 0, v["("]), (0, 1, 0, v["1963"]), (0, 2, 0, v[")"]),
        (1, 6, 0, v["form"]), (1, 7, 0, v[":"]),  # "form" on the left half (cx 650), ":" on the right (750)
        (1, 9, 0, v["no"]), (1, 9, 1, v["."]),  # a narrow box: both halves in one cell, left token first
    ]


def test_reading_order_fills_a_cells_slots_in_order():
    whole = [0, 0, 1000, 1000]
    pipe = LayoutPipeline(grid=(1, 1), slots=4).fit([row(["a", "b", "c"], [whole] * 3)])
    v = pipe.vocab
    first = pipe.transform([row(["c", "a", "b"], [whole] * 3), row(["b", "c", "a"], [whole] * 3)])
    assert placed(first, 0) == [(0, 0, 0, v["c"]), (0, 0, 1, v["a"]), (0, 0, 2, v["b"])]
    assert placed(first, 1) == [(0, 0, 0, v["b"]), (0, 0, 1, v["c"]), (0, 0, 2, v["a"])]
    # a word in another cell takes no slot of this one
    pipe = LayoutPipeline(grid=(2, 1), slots=4).fit([row(["a", "b", "c"], [whole] * 3)])
    v = pipe.vocab
    top, bottom = [0, 0, 10, 10], [0, 900, 10, 910]
    batch = pipe.transform([row(["a", "b", "c"], [top, bottom, top])])
    assert placed(batch) == [(0, 0, 0, v["a"]), (0, 0, 1, v["c"]), (1, 0, 0, v["b"])]


def test_tokens_past_the_slots_of_a_cell_are_lost_and_counted():
    corner, far = [0, 0, 10, 10], [990, 990, 1000, 1000]
    crowded = row(["one", "two", "three", "four", "Form:", "zulu"], [corner] * 5 + [far])
    calm = row(["one", "two"], [corner, far])
    pipe = LayoutPipeline(grid=(2, 2), slots=3).fit([crowded, calm])
    v = pipe.vocab
    batch = pipe.transform([crowded, calm])
    assert placed(batch, 0) == [(0, 0, 0, v["one"]), (0, 0, 1, v["two"]), (0, 0, 2, v["three"]),
                                (1, 1, 0, v["zulu"])]  # "four", "form" and ":" are lost: the first come keep
    assert batch.lengths.tolist() == [4, 2]
    encoded = pipe.encode([crowded, calm])
    assert isinstance(encoded, EncodedGrids) and len(encoded) == 2
    assert encoded.lost.tolist() == [3, 0] and encoded.lengths.tolist() == [4, 2]
    assert pipe.placement_report([crowded, calm]) == {"pages": 2, "tokens": 9, "placed": 6, "lost": 3,
                                                      "lost_fraction": 3 / 9, "pages_losing": 1}
    roomy = LayoutPipeline(grid=(2, 2), slots=8)
    roomy.text = pipe.text
    assert roomy.placement_report([crowded, calm])["lost"] == 0
    assert roomy.transform([crowded]).lengths.tolist() == [7]


def test_lengths_count_placed_tokens_and_the_mask_marks_them():
    pages = random_pages(12, seed=1)
    pipe = LayoutPipeline(grid=(8, 6), slots=2).fit(pages)
    batch = pipe.transform(pages, labels=list(range(12)))
    assert isinstance(batch, GridBatch)
    assert batch.ids.shape == (12, 8, 6, 2) and batch.ids.dtype == torch.int64
    assert batch.lengths.dtype == torch.int64 and batch.labels.tolist() == list(range(12))
    assert batch.mask.dtype == torch.bool and torch.equal(batch.mask, batch.ids != PAD_ID)
    assert batch.lengths.tolist() == batch.mask.sum(dim=(1, 2, 3)).tolist()
    report = pipe.placement_report(pages)
    assert report["placed"] == int(batch.lengths.sum()) > 0
    assert report["tokens"] == sum(len(p["words"]) for p in pages)  # one token per NOISE word
    assert pipe.transform(pages).labels is None
    assert same_batch(pipe(pages), batch)


def test_encoded_grids_batch_any_pages_in_any_order():
    pages = random_pages(5, seed=2)
    pipe = LayoutPipeline(grid=(5, 4), slots=3).fit(pages)
    whole = pipe.transform(pages)
    encoded = pipe.encode(pages)
    picked = encoded.batch([3, 0, 3])
    assert torch.equal(picked.ids, whole.ids[[3, 0, 3]]) and torch.equal(picked.lengths, whole.lengths[[3, 0, 3]])
    fit_encoded = LayoutPipeline(grid=(5, 4), slots=3).fit_encode(pages)
    assert same_batch(fit_encoded.batch(range(5)), whole)


def test_a_page_without_words_is_an_all_pad_grid(pipe):
    empty_page = Page((), (), 850, 1100)
    batch = pipe.transform([empty_page, ONE_PAGE, row([], [])])
    assert batch.ids.shape == (3, 6, 4, 2)
    assert batch.lengths.tolist() == [0, 2, 0]
    assert (batch.ids[[0, 2]] == PAD_ID).all()
    assert pipe.transform([]).ids.shape == (0, 6, 4, 2) and pipe.transform([]).lengths.shape == (0,)


def test_a_word_that_cleans_to_nothing_places_nothing(pipe):
    batch = pipe.transform([row(["<br/>", "hello"], [[0, 0, 10, 10], [0, 0, 10, 10]])])
    assert placed(batch) == [(0, 0, 0, pipe.vocab["hello"])]


def test_unknown_words_are_placed_as_unk(pipe):
    batch = pipe.transform([row(["zebraphone", "hello"], [[990, 990, 1000, 1000], [0, 0, 10, 10]])])
    assert placed(batch) == [(0, 0, 0, pipe.vocab["hello"]), (5, 3, 0, UNK_ID)]
    assert batch.lengths.tolist() == [2]
    assert "zebraphone" not in pipe.vocab  # transform never grows the vocabulary


def test_the_same_layout_at_any_resolution_gives_the_same_grid():
    rng = np.random.default_rng(3)
    words = rng.choice(NOISE, 40).tolist()
    x0, y0 = rng.integers(0, 1200, 40), rng.integers(0, 1600, 40)
    boxes = [(int(a), int(b), int(a) + int(w), int(b) + 20) for a, b, w in zip(x0, y0, rng.integers(10, 70, 40))]
    at_150 = Page(tuple(words), tuple(boxes), 1275, 1650)  # US letter at 150 dpi
    at_300 = Page(tuple(words), tuple(tuple(2 * v for v in b) for b in boxes), 2550, 3300)  # ... at 300 dpi
    assert at_150.bboxes() == at_300.bboxes()
    pipe = LayoutPipeline(grid=(16, 12), slots=4).fit([at_150])
    grids = pipe.transform([at_150, at_300, row(words, at_150.bboxes())])
    assert torch.equal(grids.ids[0], grids.ids[1]) and torch.equal(grids.ids[0], grids.ids[2])
    assert grids.lengths.tolist() == [40, 40, 40]


def test_pages_may_come_from_any_iterable(pipe):
    pages = [ONE_PAGE, row(["alpha"], [[0, 0, 5, 5]])]
    assert same_batch(pipe.transform(iter(pages)), pipe.transform(pages))
    again = LayoutPipeline(grid=(6, 4), slots=2).fit(p for p in pages)
    assert again.vocab.itos == ["<pad>", "<unk>", "alpha", "form", "hello"]


# -- 2. the text layer, shared --------------------------------------------------------------------
def test_the_text_layer_encodes_words_with_the_ids_the_grid_uses():
    pages = random_pages(6, seed=4) + [ONE_PAGE]
    pipe = LayoutPipeline(grid=(32, 32), slots=8).fit(pages)
    assert isinstance(pipe.text, TextPipeline)
    assert pipe.vocab is pipe.text.vocab and pipe.num_embeddings == len(pipe.vocab)
    batch = pipe.transform(pages)
    for i, page in enumerate(pages):
        text_ids = pipe.text.encode([" ".join(page["words"])])[0]
        assert sorted(text_ids) == sorted(batch.ids[i][batch.mask[i]].tolist())
    assert pipe.text.transform(["Form hello"]).ids.tolist() == [[pipe.vocab["form"], pipe.vocab["hello"]]]


def test_the_vocabulary_is_fit_on_the_training_pages_only():
    train_pages = [row(["alpha", "bravo"], [[0, 0, 10, 10]] * 2)]
    test_pages = [row(["alpha", "zebra"], [[0, 0, 10, 10], [500, 500, 510, 510]])]
    pipe = LayoutPipeline(grid=(2, 2), slots=2).fit(train_pages)
    assert pipe.vocab.itos == ["<pad>", "<unk>", "alpha", "bravo"]
    assert placed(pipe.transform(test_pages)) == [(0, 0, 0, pipe.vocab["alpha"]), (1, 1, 0, UNK_ID)]
    assert pipe.vocab.itos == ["<pad>", "<unk>", "alpha", "bravo"]
    assert pipe.fit(test_pages).vocab.itos == ["<pad>", "<unk>", "alpha", "zebra"]  # a refit replaces it


def test_min_freq_counts_every_occurrence_on_every_page():
    box = [[0, 0, 10, 10]]
    pages = [row(["total", "total", "rare", "shared", "Form:"], box * 5), row(["shared", "other", "Form"], box * 3)]
    pipe = LayoutPipeline(text={"min_freq": 2}).fit(pages)
    assert set(pipe.vocab.itos[2:]) == {"total", "shared", "form"}  # ":" once, "rare" and "other" once
    assert pipe.text.min_freq == 2
    capped = LayoutPipeline(text={"max_vocab_size": 3}).fit(pages).vocab  # PAD, UNK and one of the most frequent
    assert len(capped) == 3 and capped.itos[2] in {"total", "shared", "form"}


@pytest.mark.parametrize("text, tokens", [
    (None, {"form", ":", "<url>"}),
    ({"cleaner": {"lowercase": False}}, {"FORM", "Form", ":", "<url>"}),
    ({"tokenizer": "whitespace"}, {"form", "form:", "<url>"}),
    (TextPipeline(cleaner=False, tokenizer="whitespace"), {"FORM", "Form:", "<br/>", "https://x.org/a"}),
], ids=["default", "keep-case", "whitespace", "no-cleaner"])
def test_cleaning_and_tokenizing_apply_per_word(text, tokens):
    page = row(["FORM", "Form:", "<br/>", "https://x.org/a"], [[0, 0, 10, 10]] * 4)
    pipe = LayoutPipeline(grid=(1, 1), text=text).fit([page])
    assert set(pipe.vocab.itos[2:]) == tokens
    assert pipe.transform([page]).lengths.tolist() == [sum(len(pipe.text.analyze(w)) for w in page["words"])]


@pytest.mark.parametrize("option, value, default", [
    ("ngram_range", (1, 2), r"\(1, 1\)"),
    ("ngram_buckets", 100, "0"),
    ("max_length", 20, "None"),
    ("min_length", 3, "1"),
    ("truncation", "pre", "'post'"),
])
@pytest.mark.parametrize("given_as", ["dict", "TextPipeline"])
def test_sequence_options_have_no_meaning_on_a_grid(option, value, default, given_as):
    text = {option: value} if given_as == "dict" else TextPipeline(**{option: value})
    with pytest.raises(ValueError, match=rf"LayoutPipeline: the text pipeline's {re.escape(f'{option}={value!r}')} "
                                         rf"has no meaning on a grid \(cells hold words, not a sequence; .*\); leave "
                                         rf"it at {default}"):
        LayoutPipeline(text=text)


@pytest.mark.parametrize("options, message", [
    ({"grid": (0, 4)}, r"grid must be \(H, W\), two ints >= 1, got \(0, 4\)"),
    ({"grid": (4,)}, r"grid must be \(H, W\), two ints >= 1, got \(4,\)"),
    ({"grid": (4, 4, 4)}, r"grid must be \(H, W\), two ints >= 1, got \(4, 4, 4\)"),
    ({"grid": (4.0, 4)}, r"grid must be \(H, W\), two ints >= 1, got \(4.0, 4\)"),
    ({"grid": (True, 4)}, r"grid must be \(H, W\), two ints >= 1, got \(True, 4\)"),
    ({"grid": 64}, r"grid must be \(H, W\), two ints >= 1, got 64"),
    ({"slots": 0}, r"slots must be an int >= 1, got 0"),
    ({"slots": 2.0}, r"slots must be an int >= 1, got 2.0"),
    ({"slots": True}, r"slots must be an int >= 1, got True"),
])
def test_bad_grid_and_slots_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        LayoutPipeline(**options)


def test_options_are_kept_and_lists_are_accepted():
    pipe = LayoutPipeline(grid=[5, 3], slots=2)
    assert pipe.grid == (5, 3) and pipe.slots == 2 and pipe.shape == (5, 3, 2)
    assert LayoutPipeline().shape == (64, 48, 8)  # the documented defaults
    assert repr(pipe) == "LayoutPipeline(grid=(5, 3), slots=2, unfitted)"
    with pytest.raises(TypeError, match=r"text must be a TextPipeline, a dict of its options or None, got int"):
        LayoutPipeline(text=3)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'bogus'"):
        LayoutPipeline(text={"bogus": 1})


def test_transform_before_fit_says_what_to_call():
    pipe = LayoutPipeline()
    for call in (pipe.transform, pipe.encode, pipe.placement_report, pipe):
        with pytest.raises(RuntimeError, match=r"this LayoutPipeline is not fitted yet: call \.fit\(train_pages\) "
                                               r"first, or LayoutPipeline\.load\(path\)"):
            call([ONE_PAGE])
    with pytest.raises(ValueError, match=r"fit\(\) needs at least one page, got an empty list"):
        pipe.fit([])


NOT_A_PAGE = r"pages\[0\] must be a textkit.Page or a mapping with 'words' and 'bboxes' \(a row of a " \
             r"load_corpus split of pages\), got "


@pytest.mark.parametrize("pages, error, message", [
    ("Form: hello", TypeError, r"pages must be a list of pages, got a single str; wrap it: \[page\]"),
    (Page(("a",), ((0, 0, 1, 1),), 10, 10), TypeError, r"pages must be a list of pages, got a single Page; wrap it"),
    (ONE_PAGE, TypeError, r"pages must be a list of pages, got a single dict; wrap it"),
    (42, TypeError, r"pages must be a list of pages, got int"),
    (["Form: hello"], TypeError, NOT_A_PAGE + "str"),
    ([{"words": ["a"]}], TypeError, NOT_A_PAGE + "dict"),
    ([ONE_PAGE, row(["a", "b"], [[0, 0, 1, 1]])], ValueError, r"pages\[1\] has 2 words but 1 boxes"),
    ([row(["a"], [[0, 0, 1200, 10]])], ValueError, (r"pages\[0\]: bboxes must lie in 0\.\.1000 \(LayoutLM's scale: "
                                                    r"Page\.bboxes\(\) gives them\), got values from 0\.0 to 1200\.0")),
    ([row(["a"], [[-5, 0, 10, 10]])], ValueError, r"pages\[0\]: bboxes must lie in 0\.\.1000 .*from -5\.0 to 10\.0"),
    ([row(["a"], [[0, 0, float("nan"), 10]])], ValueError, r"pages\[0\]: bboxes must lie in 0\.\.1000"),
    # a Page whose boxes run off the page (Page does not check them) is refused at placement
    ([Page(("a",), ((0, 0, 1200, 10),), 1000, 1000)], ValueError, r"pages\[0\]: bboxes must lie in 0\.\.1000 .*1200"),
    ([row([3], [[0, 0, 1, 1]])], TypeError, r"pages\[0\]: .words. must be a list of str, one per box, got list \[3\]"),
])
def test_wrong_pages_are_a_clear_error(pipe, pages, error, message):
    with pytest.raises(error, match=message):
        pipe.transform(pages)
    with pytest.raises(error, match=message):
        LayoutPipeline().fit(pages)


def test_page_checks_its_own_fields_and_labels_must_match():
    with pytest.raises(ValueError, match=r"Page has 2 words but 1 boxes"):
        Page(("a", "b"), ((0, 0, 1, 1),), 10, 10)
    with pytest.raises(ValueError, match=r"page size must be positive, got 0 x 10"):
        Page((), (), 0, 10)
    with pytest.raises(ValueError, match=r"labels has 3 items but pages has 1"):
        LayoutPipeline(grid=(2, 2)).fit([ONE_PAGE]).transform([ONE_PAGE], labels=[0, 1, 2])


def test_words_given_as_one_string_are_refused(pipe):
    with pytest.raises(TypeError, match=r"pages\[0\].*words"):
        pipe.transform([{"words": "ab", "bboxes": [[0, 0, 10, 10], [500, 500, 510, 510]]}])


def test_a_box_that_is_not_four_numbers_is_named(pipe):
    with pytest.raises(ValueError, match=r"pages\[0\].*bboxes"):
        pipe.transform([row(["a"], [[0, 0, 10]])])


def test_an_inverted_box_is_refused(pipe):
    with pytest.raises(ValueError, match=r"pages\[0\]: box 0 \[50.0, 0.0, 10.0, 10.0\] has x0 > x1 or y0 > y1"):
        pipe.transform([row(["a"], [[50, 0, 10, 10]])])


def test_a_given_text_pipeline_is_copied():
    template = TextPipeline(tokenizer="whitespace")
    pipe = LayoutPipeline(text=template).fit([ONE_PAGE])
    assert pipe.text.tokenizer is not None and pipe.vocab is not None
    assert template.vocab is None


def test_a_custom_tokenizer_cannot_be_saved(tmp_path):
    pipe = LayoutPipeline(text=TextPipeline(tokenizer=str.split)).fit([ONE_PAGE])
    assert pipe.transform([ONE_PAGE]).lengths.tolist() == [2]
    with pytest.raises(ValueError, match=r"cannot save a TextPipeline with a custom tokenizer callable"):
        pipe.save(tmp_path / "layout.json")
    assert not list(tmp_path.iterdir())  # nothing half-written


# -- 3. one JSON file -----------------------------------------------------------------------------
def test_save_load_gives_identical_grids(tmp_path):
    pages = random_pages(8, seed=5) + [ONE_PAGE]
    pipe = LayoutPipeline(grid=(9, 7), slots=3, text={"min_freq": 2, "cleaner": {"lowercase": False}}).fit(pages[:5])
    pipe.save(tmp_path / "layout.json")
    data = json.loads((tmp_path / "layout.json").read_text(encoding="utf-8"))
    assert data["format"] == FORMAT == "textkit.LayoutPipeline" and data["version"] == 1
    assert data["grid"] == [9, 7] and data["slots"] == 3 and data["text"]["format"] == "textkit.TextPipeline"
    loaded = LayoutPipeline.load(tmp_path / "layout.json")
    assert (loaded.grid, loaded.slots, loaded.text.min_freq) == ((9, 7), 3, 2)
    assert loaded.vocab == pipe.vocab
    assert same_batch(loaded.transform(pages), pipe.transform(pages))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layout.json"]  # one file, no temporary left


def test_an_unfitted_pipeline_round_trips_unfitted(tmp_path):
    LayoutPipeline(grid=(3, 2), slots=1).save(tmp_path / "layout.json")
    loaded = LayoutPipeline.load(tmp_path / "layout.json")
    assert loaded.vocab is None and loaded.shape == (3, 2, 1)
    assert same_batch(loaded.fit([ONE_PAGE]).transform([ONE_PAGE]),
                      LayoutPipeline(grid=(3, 2), slots=1).fit([ONE_PAGE]).transform([ONE_PAGE]))


@pytest.mark.parametrize("edit, message", [
    (lambda d: {k: v for k, v in d.items() if k != "grid"}, r"is missing the key 'grid'; the file is damaged"),
    (lambda d: {k: v for k, v in d.items() if k != "text"}, r"is missing the key 'text'; the file is damaged"),
    (lambda d: {k: v for k, v in d.items() if k != "version"}, r"is missing the key 'version'; the file is damaged"),
    (lambda d: {**d, "format": "textkit.TextPipeline"}, (r"is not a textkit layout pipeline \(expected \"format\": "
                                                         r"\"textkit.LayoutPipeline\"\)")),
    (lambda d: d["text"], r"is not a textkit layout pipeline"),
    (lambda d: [d], r"is not a textkit layout pipeline"),
    (lambda d: {**d, "version": 99}, r"has layout pipeline format version 99; this textkit .* reads versions up to 1"),
    (lambda d: {**d, "slots": 0}, r"is damaged: slots must be an int >= 1, got 0"),
    (lambda d: {**d, "grid": [64]}, r"is damaged: grid must be \(H, W\)"),
    (lambda d: {**d, "text": {**d["text"], "ngrams": {"range": [1, 2], "buckets": 0}}},
     r"is damaged: LayoutPipeline: the text pipeline's ngram_range=\(1, 2\) has no meaning on a grid"),
    (lambda d: {**d, "text": {k: v for k, v in d["text"].items() if k != "vocab"}},
     r"\(its 'text'\) is missing the key 'vocab'"),
])
def test_a_damaged_file_is_one_clear_error(tmp_path, edit, message):
    path = tmp_path / "layout.json"
    LayoutPipeline(grid=(4, 4)).fit([ONE_PAGE]).save(path)
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))
    with pytest.raises(ValueError, match=message) as info:
        LayoutPipeline.load(path)
    assert str(info.value).startswith(f"layout pipeline file {str(path)!r}")  # the error names the file


def test_files_that_are_not_a_layout_pipeline(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"layout pipeline file '.*nowhere.json' does not exist"):
        LayoutPipeline.load(tmp_path / "nowhere.json")
    (tmp_path / "bad.json").write_text('{"format": "textkit.LayoutPipeline", ')
    with pytest.raises(ValueError, match=r"layout pipeline file '.*bad.json' is not valid JSON: .* at line 1"):
        LayoutPipeline.load(tmp_path / "bad.json")
    TextPipeline().fit(["a text"]).save(tmp_path / "text.json")
    with pytest.raises(ValueError, match=r"is not a textkit layout pipeline"):
        LayoutPipeline.load(tmp_path / "text.json")
    LayoutPipeline().fit([ONE_PAGE]).save(tmp_path / "layout.json")
    with pytest.raises(ValueError, match=r"pipeline file '.*layout.json' is not a textkit pipeline"):
        TextPipeline.load(tmp_path / "layout.json")


# -- 4. the grid model's contract: ids (B, H, W, S) -> logits (B, C) --------------------------------
VOCAB, CLASSES = 50, 3
SMALL_GRID = {"embed_dim": 8, "channels": (8, 12), "regions": (2, 2)}
VARIANTS = [
    {},
    {"coords": False, "regions": (1, 1)},  # the position-blind ablation
    {"bag": False},
    {"kernel_size": 5, "channels": (8, 8, 8)},  # three blocks: two poolings of a 7 x 5 grid (ceil mode)
    {"regions": (3, 5)},  # more regions than the last map has cells
]
VARIANT_IDS = ["default", "blind", "no-bag", "k5-3-blocks", "regions-3x5"]
COUNTS = [9, 0, 1, 30, 5]  # tokens per page; 0 = a page without words
SHAPE = (7, 5, 3)  # odd H and W


def make_grids(counts: list[int], shape=SHAPE, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids on random cells and slots of a (B, H, W, S) grid, PAD elsewhere."""
    gen = torch.Generator().manual_seed(seed)
    H, W, S = shape
    ids = torch.full((len(counts), H * W * S), PAD_ID, dtype=torch.long)
    for i, n in enumerate(counts):
        where = torch.randperm(H * W * S, generator=gen)[:n]
        ids[i, where] = torch.randint(2, VOCAB, (n,), generator=gen)
    return ids.view(len(counts), H, W, S), torch.tensor(counts, dtype=torch.long)


def grid_model(**extra) -> GridCNN:
    torch.manual_seed(0)
    return build_model("grid", vocab_size=VOCAB, num_classes=CLASSES, **{**SMALL_GRID, **extra}).eval()


def test_the_grid_model_reads_pages():
    model = grid_model()
    assert isinstance(model, GridCNN) and model.inputs == "pages" and model.name == "grid"
    assert model.min_length == 1 and isinstance(model.config, GridConfig)
    defaults = GridConfig()
    assert (defaults.coords, defaults.regions, defaults.bag, defaults.kernel_size) == (True, (4, 4), True, 3)


@pytest.mark.parametrize("cfg", VARIANTS, ids=VARIANT_IDS)
def test_shape_and_finite_logits_for_empty_pages(cfg):
    model = grid_model(**cfg)
    ids, lengths = make_grids(COUNTS)
    logits = model(ids, lengths)
    assert logits.shape == (len(COUNTS), CLASSES) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    all_empty = model(torch.zeros(3, *SHAPE, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    assert all_empty.shape == (3, CLASSES) and torch.isfinite(all_empty).all()
    assert torch.allclose(all_empty, all_empty[:1].expand(3, -1))  # nothing on a page: nothing to tell apart
    one_cell = model(torch.full((1, 1, 1, 1), 7), torch.tensor([1]))  # a 1 x 1 grid, smaller than any pooling
    assert one_cell.shape == (1, CLASSES) and torch.isfinite(one_cell).all()


@pytest.mark.parametrize("cfg", VARIANTS, ids=VARIANT_IDS)
def test_extra_pad_slots_never_change_logits(cfg):
    model = grid_model(**cfg)
    ids, lengths = make_grids(COUNTS)
    base = model(ids, lengths)
    for extra in (1, 4):
        wider = F.pad(ids, (0, extra), value=PAD_ID)  # (B, H, W, S + extra)
        assert torch.allclose(model(wider, lengths), base, atol=1e-5), extra
    # the slots are a sum: their order within a cell does not matter either
    assert torch.allclose(model(ids.flip(-1), lengths), base, atol=1e-5)


@pytest.mark.parametrize("cfg", VARIANTS, ids=VARIANT_IDS)
def test_each_page_scores_as_if_alone(cfg):
    model = grid_model(**cfg)
    ids, lengths = make_grids(COUNTS)
    batched = model(ids, lengths)
    for i in range(len(COUNTS)):
        alone = model(ids[i:i + 1], lengths[i:i + 1])
        assert torch.allclose(alone, batched[i:i + 1], atol=1e-5), i
    order = torch.tensor([3, 0, 4, 1, 2])
    assert torch.allclose(model(ids[order], lengths[order]), batched[order], atol=1e-5)


@pytest.mark.parametrize("cfg", VARIANTS, ids=VARIANT_IDS)
def test_pad_embedding_row_is_never_read(cfg):
    model = grid_model(**cfg)
    ids, lengths = make_grids(COUNTS)
    base = model(ids, lengths)
    tables = [m for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))]
    assert tables and all(t.padding_idx == PAD_ID for t in tables)
    with torch.no_grad():
        for table in tables:
            table.weight[PAD_ID] = 1e3
    assert torch.allclose(model(ids, lengths), base, atol=1e-5)


def test_the_pad_row_starts_at_zero_and_gets_no_gradient():
    model = grid_model()
    assert torch.equal(model.embedding.weight[PAD_ID], torch.zeros(8))
    ids, lengths = make_grids([5, 3, 0, 8], seed=2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    model.train()
    F.cross_entropy(model(ids, lengths), torch.tensor([0, 1, 2, 0])).backward()
    assert torch.equal(model.embedding.weight.grad[PAD_ID], torch.zeros(8))
    optimizer.step()
    assert torch.equal(model.embedding.weight[PAD_ID], torch.zeros(8))


def test_the_bag_is_the_mean_embedding_of_the_placed_tokens():
    """bag=True puts the page's words, without their places, beside the conv features: the
    output layer's last E inputs are the mean of the placed tokens' embeddings (zeros for an
    empty page)."""
    model = grid_model()
    ids, lengths = make_grids(COUNTS)
    seen = []
    model.fc.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    with torch.no_grad():
        model(ids, lengths)
        table = model.embedding.weight
        expected = torch.stack([table[page[page != PAD_ID]].sum(0) / max(n, 1) for page, n in zip(ids, COUNTS)])
    assert torch.allclose(seen[0][:, -8:], expected, atol=1e-6)
    assert grid_model(bag=False).fc.in_features == 12 * 2 * 2  # channels[-1] * regions: no bag


def test_wrong_inputs_are_named():
    model = grid_model()
    with pytest.raises(ValueError, match=r"grid: ids must be \(B, H, W, S\) from a LayoutPipeline, got shape \(2, 5\)"):
        model(torch.ones(2, 5, dtype=torch.long), torch.ones(2, dtype=torch.long))  # a text batch
    with pytest.raises(ValueError, match=r"grid: ids must be \(B, H, W, S\) .*got shape \(2, 7, 5\)"):
        model(torch.ones(2, 7, 5, dtype=torch.long), torch.ones(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"grid: ids must be \(B, H, W, S\) .*got shape \(1, 2, 7, 5, 3\)"):
        model(torch.ones(1, 2, 7, 5, 3, dtype=torch.long), torch.ones(1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"lengths must be \(B,\) = \(2,\), got shape \(3,\)"):
        model(torch.ones(2, 7, 5, 3, dtype=torch.long), torch.ones(3, dtype=torch.long))


@pytest.mark.parametrize("cfg", VARIANTS, ids=VARIANT_IDS)
def test_rebuild_from_json_config_restores_the_model(cfg):
    model = grid_model(**cfg)
    saved = json.loads(json.dumps(model.get_config()))
    assert saved == model.get_config()  # JSON-native: tuples came out as lists
    assert saved["name"] == "grid" and isinstance(saved["channels"], list) and isinstance(saved["regions"], list)
    rebuilt = build_model(**saved).eval()
    assert rebuilt.config == model.config and isinstance(rebuilt.config.regions, tuple)
    rebuilt.load_state_dict(model.state_dict())
    ids, lengths = make_grids(COUNTS)
    assert torch.equal(rebuilt(ids, lengths), model(ids, lengths))
    again = build_model("grid", vocab_size=VOCAB, num_classes=CLASSES, **asdict(model.config))
    assert again.config == model.config


@pytest.mark.parametrize("options, message", [
    ({"kernel_size": 4}, r"GridConfig.kernel_size must be odd \(same padding keeps the grid's shape\), got 4"),
    ({"kernel_size": 0}, r"GridConfig.kernel_size must be an int >= 1, got 0"),
    ({"regions": (4,)}, r"GridConfig.regions must be \(rows, columns\), got \(4,\)"),
    ({"regions": 4}, r"GridConfig.regions must be \(rows, columns\), got 4"),
    ({"regions": (2, 2, 2)}, r"GridConfig.regions must be \(rows, columns\), got \(2, 2, 2\)"),
    ({"regions": (0, 2)}, r"GridConfig.regions\[...\] must be an int >= 1, got 0"),
    ({"regions": (2, 1.5)}, r"GridConfig.regions\[...\] must be an int >= 1, got 1.5"),
    ({"channels": ()}, r"GridConfig.channels must be a non-empty tuple of ints, got \(\)"),
    ({"channels": 32}, r"GridConfig.channels must be a non-empty tuple of ints, got 32"),
    ({"channels": (32, 0)}, r"GridConfig.channels\[...\] must be an int >= 1, got 0"),
    ({"embed_dim": 0}, r"GridConfig.embed_dim must be an int >= 1, got 0"),
    ({"coords": "yes"}, r"GridConfig.coords must be True or False, got 'yes'"),
    ({"bag": 1}, r"GridConfig.bag must be True or False, got 1"),
    ({"dropout": 1.0}, r"GridConfig.dropout must be a number in \[0.0, 1.0\), got 1.0"),
])
def test_bad_config_values_are_named(options, message):
    with pytest.raises(ValueError, match=message):
        build_model("grid", vocab_size=VOCAB, num_classes=2, **options)


def test_unknown_config_key_names_the_valid_ones():
    with pytest.raises(TypeError, match=r"unknown config key 'kernel_sizes' for model 'grid' \(did you mean "
                                        r"'kernel_size'\?\); valid keys: embed_dim, channels, kernel_size, coords, "
                                        r"regions, dropout, bag"):
        build_model("grid", vocab_size=VOCAB, num_classes=2, kernel_sizes=(3,))


def test_pretrained_vectors_fill_the_grid_embedding():
    vectors = torch.randn(VOCAB, 6, generator=torch.Generator().manual_seed(3))
    model = build_model("grid", vocab_size=VOCAB, num_classes=2, embeddings=vectors)
    assert model.config.embed_dim == 6  # taken from the vectors: the config rebuilds the model
    assert torch.equal(model.embedding.weight[1:], vectors[1:])
    assert torch.equal(model.embedding.weight[PAD_ID], torch.zeros(6))
    with pytest.raises(ValueError, match=r"grid: embeddings have 10 rows, expected 50 \(vocab_size\)"):
        build_model("grid", vocab_size=VOCAB, num_classes=2, embeddings=vectors[:10])


def test_the_grid_model_overfits_a_small_batch():
    """Default config, 16 random pages on a 16 x 12 x 4 grid, 4 classes: 100% train accuracy
    within 300 Adam steps."""
    ids, lengths = make_grids([int(n) for n in torch.randint(3, 40, (16,), generator=torch.Generator().manual_seed(0))],
                              shape=(16, 12, 4), seed=1)
    labels = torch.arange(16) % 4
    torch.manual_seed(0)
    model = build_model("grid", vocab_size=VOCAB, num_classes=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(300):
        model.train()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(ids, lengths), labels).backward()
        optimizer.step()
        model.apply_constraints()
        if step % 10 == 9:
            model.eval()
            with torch.no_grad():
                accuracy = (model(ids, lengths).argmax(1) == labels).float().mean().item()
            if accuracy == 1.0:
                break
    assert accuracy == 1.0, f"grid reached only {accuracy:.0%} after {step + 1} steps"


# -- 5. position matters, and the options that give it --------------------------------------------
def test_coordinate_channels_hold_each_cells_centre_in_minus_one_to_one():
    coords = coordinate_channels(2, 2, 4, torch.zeros(1))
    assert coords.shape == (2, 2, 2, 4)
    assert torch.allclose(coords[0, 0], torch.tensor([[-0.5] * 4, [0.5] * 4]))  # rows
    assert torch.allclose(coords[1, 1], torch.tensor([[-0.75, -0.25, 0.25, 0.75]] * 2))  # columns


@pytest.mark.parametrize("cfg, blind", [
    ({"coords": False, "regions": (1, 1)}, True),
    ({"coords": True, "regions": (1, 1)}, False),
    ({"coords": False, "regions": (4, 4)}, False),
    ({}, False),  # the default: both
], ids=["blind", "coords-only", "regions-only", "default"])
def test_a_position_blind_model_cannot_see_a_shift_and_each_option_can(cfg, blind):
    """The same block of words 24 rows from the top of a 64-row page, or 40: far from both edges for
    the default three conv blocks (receptive field 18 rows) and shifted by 16, a multiple of their
    total stride (4). Without coordinates and with one global max pool the logits cannot differ
    (the words' mean embedding, the bag, is position-free too); coordinate channels or region
    pooling each make them differ."""
    torch.manual_seed(0)
    model = build_model("grid", vocab_size=VOCAB, num_classes=CLASSES, **cfg).eval()
    block = torch.randint(2, VOCAB, (4, 8, 2), generator=torch.Generator().manual_seed(1))
    ids = torch.zeros(2, 64, 8, 2, dtype=torch.long)
    ids[0, 24:28], ids[1, 40:44] = block, block
    lengths = torch.tensor([64, 64])
    with torch.no_grad():
        high, low = model(ids, lengths)
    if blind:
        assert torch.allclose(high, low, atol=1e-5)
    else:
        assert (high - low).abs().max() > 1e-3


def test_zero_padding_shows_the_page_edges_and_circular_padding_does_not():
    """Words against the top edge, or the same words moved down by 32 rows: a global-pool model without
    coordinates tells them apart through its zero padding (the edge), and with circular padding it
    cannot: the same logits, whatever the weights."""
    block = torch.randint(2, VOCAB, (4, 48, 2), generator=torch.Generator().manual_seed(1))
    ids = torch.zeros(2, 64, 48, 2, dtype=torch.long)
    ids[0, 0:4], ids[1, 32:36] = block, block
    lengths = torch.tensor([192, 192])
    logits = {}
    for padding in ("zeros", "circular"):
        torch.manual_seed(0)
        model = build_model("grid", vocab_size=VOCAB, num_classes=CLASSES, coords=False, regions=(1, 1),
                            padding=padding).eval()
        with torch.no_grad():
            logits[padding] = model(ids, lengths)
    assert (logits["zeros"][0] - logits["zeros"][1]).abs().max() > 1e-3
    assert torch.allclose(logits["circular"][0], logits["circular"][1], atol=1e-5)
    with pytest.raises(ValueError, match=r"GridConfig.padding must be one of \('zeros', 'circular'\), got 'reflect'"):
        build_model("grid", vocab_size=VOCAB, num_classes=CLASSES, padding="reflect")


def make_position_pages(n: int, seed: int) -> tuple[list[Page], list[str]]:
    """Pages of 850 x 1100 units: 15-24 random NOISE words anywhere, and "total" once, in the top
    third ("top") or the bottom third ("bottom") of the page. Both classes hold the same words."""
    rng = np.random.default_rng(seed)
    pages, labels = [], []
    for i in range(n):
        label = ("top", "bottom")[i % 2]
        items = []
        for _ in range(int(rng.integers(15, 25))):
            x, y = rng.uniform(0, 780), rng.uniform(0, 1080)
            items.append((str(rng.choice(NOISE)), (x, y, x + 60, y + 16)))
        low, high = (0, 363) if label == "top" else (737, 1084)
        x, y = rng.uniform(0, 760), rng.uniform(low, high)
        items.append(("total", (x, y, x + 80, y + 16)))
        items.sort(key=lambda item: (item[1][1], item[1][0]))  # reading order: top to bottom, left to right
        words, boxes = zip(*items)
        pages.append(Page(words, boxes, 850, 1100))
        labels.append(label)
    return pages, labels


SMALL_CLF = {"embed_dim": 16, "channels": (16, 16)}  # coords, regions (4, 4) and the bag stay the defaults


def quick_grid(**options) -> TextClassifier:
    defaults = dict(pipeline={"grid": (16, 12), "slots": 4}, model_config=SMALL_CLF, epochs=10, lr=3e-3,
                    batch_size=16, valid_split=0, progress=False, device="cpu", seed=0)
    return TextClassifier("grid", **{**defaults, **options})


@pytest.fixture(scope="module")
def position_task(one_thread):
    train_pages, train_labels = make_position_pages(240, seed=0)
    test_pages, test_labels = make_position_pages(200, seed=100)
    return train_pages, train_labels, test_pages, test_labels


@pytest.fixture(scope="module")
def grid_clf(position_task) -> TextClassifier:
    train_pages, train_labels, _, _ = position_task
    return quick_grid().fit(train_pages, train_labels)


def test_the_task_is_in_the_places_not_in_the_words(position_task):
    train_pages, train_labels, _, _ = position_task
    assert all(page.words.count("total") == 1 for page in train_pages)
    by_class = {label: Counter() for label in ("top", "bottom")}
    for page, label in zip(train_pages, train_labels):
        by_class[label].update(page.words)
        y = page.bboxes()[page.words.index("total")][1]
        assert (y < 333) if label == "top" else (y > 666)
    assert by_class["top"]["total"] == by_class["bottom"]["total"] == 120


def test_the_grid_model_learns_where_a_word_is(grid_clf, position_task):
    _, _, test_pages, test_labels = position_task
    assert grid_clf.evaluate(test_pages, test_labels)["accuracy"] >= 0.95


def test_a_text_model_on_the_same_pages_stays_near_chance(position_task):
    """The words of both classes are drawn alike; only their places differ. (A position-blind
    grid model is not asserted here: on a 16-row grid its receptive field reaches the page
    edges, whose zero padding gives it some position back, seed-dependently; the exact test of
    its blindness is test_a_position_blind_model_cannot_see_a_shift_and_each_option_can.)"""
    train_pages, train_labels, test_pages, test_labels = position_task
    bow = TextClassifier("bow", epochs=10, lr=3e-3, batch_size=16, valid_split=0, progress=False, device="cpu",
                         seed=0).fit([p.text for p in train_pages], train_labels)
    assert bow.evaluate([p.text for p in test_pages], test_labels)["accuracy"] <= 0.65


# -- 6. TextClassifier("grid") end to end ----------------------------------------------------------
def test_predict_proba_and_evaluate_on_pages(grid_clf, position_task):
    _, _, test_pages, test_labels = position_task
    pages = test_pages[:6]
    probs = grid_clf.predict_proba(pages)
    assert probs.shape == (6, 2) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert grid_clf.classes_ == ["bottom", "top"]
    assert grid_clf.predict(pages) == [grid_clf.classes_[i] for i in probs.argmax(axis=1)]
    assert grid_clf.predict_proba([]).shape == (0, 2)
    rows = [{"words": list(p.words), "bboxes": p.bboxes()} for p in pages]  # dataset rows: the same pages
    np.testing.assert_array_equal(grid_clf.predict_proba(rows), probs)
    empty = grid_clf.predict_proba([Page((), (), 850, 1100)])
    assert empty.shape == (1, 2) and np.isfinite(empty).all()
    report = grid_clf.evaluate(test_pages[:10], test_labels[:10])
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(report)
    assert report["labels"] == ["bottom", "top"] and np.array(report["confusion_matrix"]).sum() == 10
    assert isinstance(grid_clf.pipeline_, LayoutPipeline) and grid_clf.pipeline_.grid == (16, 12)
    assert "total" in grid_clf.pipeline_.vocab


def test_save_load_gives_the_same_probabilities(grid_clf, position_task, tmp_path):
    _, _, test_pages, _ = position_task
    grid_clf.save(tmp_path / "clf")
    assert sorted(p.name for p in (tmp_path / "clf").iterdir()) == ["config.json", "model.safetensors",
                                                                    "pipeline.json"]
    assert json.loads((tmp_path / "clf" / "pipeline.json").read_text())["format"] == "textkit.LayoutPipeline"
    config = json.loads((tmp_path / "clf" / "config.json").read_text())
    assert config["model"]["name"] == "grid" and config["model"]["channels"] == [16, 16]
    loaded = TextClassifier.load(tmp_path / "clf", device="cpu")
    assert loaded.reads_pages and isinstance(loaded.pipeline_, LayoutPipeline)
    assert loaded.pipeline_.shape == (16, 12, 4) and loaded.classes_ == grid_clf.classes_
    np.testing.assert_array_equal(loaded.predict_proba(test_pages[:20]), grid_clf.predict_proba(test_pages[:20]))


def test_a_pipeline_that_does_not_match_the_weights_is_refused_at_load(grid_clf, tmp_path, redigest):
    grid_clf.save(tmp_path)
    LayoutPipeline(grid=(16, 12), slots=4).fit([ONE_PAGE]).save(tmp_path / "pipeline.json")
    redigest(tmp_path)  # the digests would name it changed; this is the check behind them
    with pytest.raises(ValueError, match=r"pipeline.json' does not match the weights: its vocabulary"):
        TextClassifier.load(tmp_path)


def test_a_text_pipeline_beside_grid_weights_is_refused_at_load(grid_clf, tmp_path, redigest):
    grid_clf.save(tmp_path)
    text = TextPipeline()
    text.vocab = grid_clf.pipeline_.vocab  # the very vocabulary: only the kind of pipeline is wrong
    text.save(tmp_path / "pipeline.json")
    redigest(tmp_path)
    with pytest.raises(ValueError, match=r"pipeline.json' holds a TextPipeline \(texts\), but the model in "
                                         r"config.json \('grid'\) reads pages; the directory is damaged"):
        TextClassifier.load(tmp_path)


TINY = {"embed_dim": 8, "channels": (8,), "regions": (2, 2)}


def tiny_grid(**options) -> TextClassifier:
    defaults = dict(model_config=TINY, epochs=1, batch_size=8, valid_split=0, progress=False, device="cpu")
    return TextClassifier("grid", **{**defaults, **options})


@pytest.fixture(scope="module")
def few_pages(position_task):
    train_pages, train_labels, _, _ = position_task
    return train_pages[:24], train_labels[:24]


def test_pipeline_as_a_dict_of_layout_options(few_pages):
    clf = tiny_grid(pipeline={"grid": (8, 6), "slots": 2, "text": {"min_freq": 2}}).fit(*few_pages)
    assert isinstance(clf.pipeline, LayoutPipeline) and clf.pipeline.vocab is None
    assert clf.pipeline_.shape == (8, 6, 2) and clf.pipeline_.text.min_freq == 2
    assert clf.model_.vocab_size == clf.pipeline_.num_embeddings


def test_pipeline_as_a_text_pipeline_is_the_text_layer(few_pages):
    text = TextPipeline(tokenizer="whitespace", cleaner={"lowercase": False})
    pages = few_pages[0] + [Page(("Form:",), ((0, 0, 10, 10),), 850, 1100)]
    clf = tiny_grid(pipeline=text).fit(pages, few_pages[1] + ["top"])
    assert isinstance(clf.pipeline_, LayoutPipeline) and clf.pipeline_.shape == (64, 48, 8)  # default grid
    assert "Form:" in clf.pipeline_.vocab  # the whitespace tokenizer, case kept
    assert text.vocab is None  # copied, not fitted in place


def test_pipeline_as_a_layout_pipeline_is_copied_not_fitted_in_place(few_pages):
    template = LayoutPipeline(grid=(6, 5), slots=1)
    clf = tiny_grid(pipeline=template).fit(*few_pages)
    assert template.vocab is None and clf.pipeline_ is not template and clf.pipeline_.shape == (6, 5, 1)
    assert set(clf.predict(few_pages[0][:4])) <= {"bottom", "top"} and template.vocab is None


def test_the_vocabulary_comes_from_the_training_pages_only(few_pages):
    valid = [Page(("zebraphone", "total"), ((0, 0, 10, 10), (0, 900, 10, 910)), 850, 1100)]
    clf = tiny_grid(pipeline={"grid": (8, 6)}).fit(*few_pages, valid=(valid, ["bottom"]))
    assert "total" in clf.pipeline_.vocab and "zebraphone" not in clf.pipeline_.vocab
    assert "valid_accuracy" in clf.history_[-1]


@pytest.mark.parametrize("pipeline, error, message", [
    (3, TypeError, (r"pipeline must be a LayoutPipeline, a dict of its options, a TextPipeline \(its text layer\) "
                    r"or None for model 'grid', which reads pages; got int")),
    ({"grid": (0, 3)}, ValueError, r"grid must be \(H, W\), two ints >= 1, got \(0, 3\)"),
    ({"max_length": 10}, TypeError, r"unexpected keyword argument 'max_length'"),
    (TextPipeline(ngram_range=(1, 2)), ValueError, r"ngram_range=\(1, 2\) has no meaning on a grid"),
])
def test_bad_grid_pipelines_are_refused_at_construction(pipeline, error, message):
    with pytest.raises(error, match=message):
        TextClassifier("grid", pipeline=pipeline)


def test_pages_and_texts_do_not_mix(few_pages, grid_clf):
    pages, labels = few_pages
    with pytest.raises(TypeError, match=r"pipeline must be a TextPipeline, a dict of its options or None for model "
                                        r"'bow', got LayoutPipeline"):
        TextClassifier("bow", pipeline=LayoutPipeline())
    with pytest.raises(ValueError, match=r"GridConfig.kernel_size must be odd"):
        TextClassifier("grid", model_config={"kernel_size": 4})
    with pytest.raises(TypeError, match=r"texts\[0\] must be a str, got Page"):
        TextClassifier("bow", progress=False).fit(pages, labels)
    with pytest.raises(TypeError, match=NOT_A_PAGE + "str"):
        tiny_grid().fit([p.text for p in pages], labels)
    with pytest.raises(TypeError, match=NOT_A_PAGE + "str"):
        grid_clf.predict(["total at the top"])
    with pytest.raises(TypeError, match=r"pages must be a list of pages, got a single Page; wrap it"):
        grid_clf.predict_proba(pages[0])
    with pytest.raises(ValueError, match=r"pages: every one of the 2 training pages cleans to nothing"):
        tiny_grid().fit([Page((), (), 10, 10), Page(("<br/>",), ((0, 0, 1, 1),), 10, 10)], ["a", "b"])


class Crash(Exception):
    pass


def test_resume_after_a_kill_reaches_the_uninterrupted_result(few_pages, tmp_path, monkeypatch):
    options = dict(pipeline={"grid": (8, 6), "slots": 2}, epochs=3, valid_split=0.25, patience=None, lr=3e-3)
    straight = tiny_grid(**options).fit(*few_pages)

    def crash_after_epoch_2(record):
        if record["epoch"] == 2:
            raise Crash

    # TextClassifier.fit gives no epoch hook: the loop it calls gets one, as a kill after epoch 2
    monkeypatch.setattr(classifier_module, "train",
                        lambda *args, **kwargs: train(*args, **{**kwargs, "on_epoch_end": crash_after_epoch_2}))
    with pytest.raises(Crash):
        tiny_grid(**options, out_dir=tmp_path).fit(*few_pages)
    monkeypatch.undo()
    assert load_checkpoint(tmp_path / CHECKPOINT_FILE)["epoch"] == 2
    resumed = tiny_grid(**options, out_dir=tmp_path).fit(*few_pages, resume=True)
    expected, got = straight.model_.state_dict(), resumed.model_.state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    def untimed(history):
        return [{k: v for k, v in r.items() if k not in ("seconds", "tokens_per_s")} for r in history]

    assert untimed(resumed.history_) == untimed(straight.history_) and len(resumed.history_) == 3
    # the same pages placed on another grid are other training data: no silent mix of two runs
    moved = {**options, "pipeline": {"grid": (6, 8), "slots": 2}}
    with pytest.raises(ValueError, match=r"cannot resume .*other training data"):
        tiny_grid(**moved, out_dir=tmp_path).fit(*few_pages, resume=True)


# -- 7. the FARA pages ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fara():
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TEXTKIT_DATA", str(SHARED))
        from textkit.corpora import load_corpus

        return load_corpus("fara_forms")["train"]


@needs_shared
def test_fara_forms_load_as_600_pages_with_words_and_boxes(fara):
    assert len(fara) == 600
    assert set(fara.column_names) == {"words", "bboxes", "page", "text", "label"}
    assert fara.features["label"].names == ["Amendment", "Dissemination_Report", "Short-Form"]
    assert Counter(fara["label"]) == {0: 200, 1: 200, 2: 200}
    first = fara[0]
    assert len(first["words"]) == len(first["bboxes"]) > 0 and first["text"] == " ".join(first["words"])
    boxes = np.concatenate([np.asarray(b).reshape(-1, 4) for b in fara["bboxes"]])
    assert boxes.min() >= 0 and boxes.max() <= 1000
    assert (boxes[:, 0] <= boxes[:, 2]).all() and (boxes[:, 1] <= boxes[:, 3]).all()


@needs_shared
def test_the_default_grid_loses_no_fara_token(fara):
    """The numbers layout.py's module doc quotes: 393,553 tokens; 64 x 48 with 8 slots loses
    none, with 4 slots 257 on 175 pages."""
    pages = list(fara)
    pipe = LayoutPipeline().fit(pages)
    report = pipe.placement_report(pages)
    assert report["tokens"] == 393_553 and report["lost"] == 0 and report["pages_losing"] == 0
    four = LayoutPipeline(slots=4)
    four.text = pipe.text
    report = four.placement_report(pages)
    assert (report["lost"], report["pages_losing"]) == (257, 175)
    assert report["lost_fraction"] < 0.001


@needs_shared
def test_a_short_grid_run_on_fara_scores_well_above_chance(fara):
    """150 training pages (50 per class), 4 epochs on a 32 x 24 grid: well above the 1/3 of chance
    on 150 other pages (0.94-0.99 over seeds 0-4 when this was written)."""
    from textkit.corpora import stratified_split

    names = fara.features["label"].names
    rest, train_part = stratified_split(fara, 0.25, seed=0)
    _, test_part = stratified_split(rest, 1 / 3, seed=1)
    train_pages, test_pages = list(train_part), list(test_part)
    assert len(train_pages) == len(test_pages) == 150
    clf = TextClassifier("grid", pipeline={"grid": (32, 24)}, epochs=4, batch_size=8, valid_split=0, progress=False,
                         device="cpu", seed=0)
    clf.fit(train_pages, [names[p["label"]] for p in train_pages])
    assert clf.evaluate(test_pages, [names[p["label"]] for p in test_pages])["accuracy"] >= 0.8


def test_a_grid_too_large_for_memory_is_refused():
    with pytest.raises(ValueError, match=r"grid=\(1024, 1024\) with slots=8 is 8,388,608 ids per page, more than "
                                         r"1,048,576 \(textkit.layout.MAX_GRID_SLOTS\)"):
        LayoutPipeline(grid=(1024, 1024), slots=8)
