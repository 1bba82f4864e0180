"""scripts/layout_evidence.py: the page transforms the diagnostic rests on, the title mask, the
splits, and the verdicts its tables print (the runs themselves take an hour: not here)."""
import sys
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import layout_evidence as E  # noqa: E402  (scripts/ is not a package)

PAGE = {"words": ["AMENDMENT", "to", "Registration", "Statement", "Washington"],
        "bboxes": [[100, 20, 300, 40], [310, 20, 330, 40], [340, 20, 500, 40], [100, 900, 300, 950], [0, 0, 1000, 1000]]}


def cells(page, grid=(64, 48)):
    """Each word's grid cell (row, column), as LayoutPipeline places a one-token word."""
    H, W = grid
    return [(min(int((y0 + y1) / 2 * H / 1000), H - 1), min(int((x0 + x1) / 2 * W / 1000), W - 1))
            for x0, y0, x1, y1 in page["bboxes"]]


def test_mirror_keeps_the_words_and_flips_every_box_top_to_bottom():
    flipped = E.mirror(PAGE)
    assert flipped["words"] == PAGE["words"]
    assert flipped["bboxes"][0] == [100, 960, 300, 980] and flipped["bboxes"][3] == [100, 50, 300, 100]
    assert E.mirror(flipped) == PAGE


def test_squeeze_moves_the_same_layout_by_exactly_32_grid_rows():
    top, bottom = E.squeeze(PAGE, bottom=False), E.squeeze(PAGE, bottom=True)
    assert top["words"] == bottom["words"] == PAGE["words"]
    assert [(r + 32, c) for r, c in cells(top)] == cells(bottom)  # only the absolute place differs
    assert max(r for r, _ in cells(top)) < 32 <= min(r for r, _ in cells(bottom))


def test_shuffle_cells_keeps_the_words_and_cellmates_and_scatters_the_cells():
    rng = np.random.default_rng(0)
    page = {"words": [f"w{i}" for i in range(200)],
            "bboxes": [[x, y, x + 10, y + 10] for x, y in np.random.default_rng(1).integers(0, 990, (200, 2)).tolist()]}
    page["words"].append("twin")
    page["bboxes"].append(list(page["bboxes"][0]))  # shares word 0's cell
    shuffled = E.shuffle_cells(page, rng)
    assert shuffled["words"] == page["words"]
    before, after = cells(page), cells(shuffled)
    assert after[-1] == after[0]  # cell-mates stay together
    assert sum(a == b for a, b in zip(before, after)) < 10  # almost every word moved
    assert len(set(after)) == len(set(before))  # a permutation of cells: no two cells merged


def test_the_title_mask_takes_the_form_titles_and_their_ocr_variants_only():
    for word in ("AMENDMENT", "Amendmcnt", "DISSEMINATION", "Disseminatlon", "REPORT", "Short-Form", "FORM",
                 "1105-0006", "1105-0013"):
        assert E.is_title_word(word), word
    for word in ("Washington", "Registration", "Statement", "agent", "Act", "1938", "the"):
        assert not E.is_title_word(word), word
    assert E.mask_titles(PAGE) == {"words": PAGE["words"][1:], "bboxes": PAGE["bboxes"][1:]}


def test_stratified_parts_are_disjoint_and_balanced():
    labels = ["a"] * 200 + ["b"] * 200 + ["c"] * 200
    parts = E.stratified(labels, {"test": 100, "valid": 20, "pool": 80}, np.random.default_rng(0))
    assert sum(map(len, parts.values())) == 600 and len(set().union(*map(set, parts.values()))) == 600
    assert all(Counter(labels[i] for i in rows) == {c: n for c in "abc"}
               for rows, n in zip(parts.values(), (100, 20, 80)))
    again = E.stratified(labels, {"test": 100, "valid": 20, "pool": 80}, np.random.default_rng(0))
    assert again == parts


def diagnostic_records(accuracy: dict[str, float]) -> list[dict]:
    return [{"table": "diagnostic", "transform": "shift", "seed": seed, "model": model, "accuracy": acc,
             "n_test": 120} for seed in range(3) for model, acc in accuracy.items()]


def test_the_diagnostic_verdict_needs_the_grid_high_and_text_and_shuffled_at_chance():
    good = {"tfidf": 0.51, "bow": 0.49, "cnn": 0.52, "grid": 0.99, "grid-global": 0.99, "grid-blind": 0.5,
            "grid-shuffled": 0.5}
    assert "shuffled grid 50.0: met" in E.diagnostic_table(diagnostic_records(good))
    for model, acc in (("grid", 0.9), ("cnn", 0.6), ("grid-shuffled", 0.6)):
        assert "NOT met" in E.diagnostic_table(diagnostic_records({**good, model: acc})), model


def test_full_and_curve_tables_pair_the_grid_with_the_best_text_model():
    records = [{"table": "full", "masked": masked, "seed": seed, "model": model, "accuracy": acc, "n_test": 120}
               for masked in (False, True) for seed in range(3)
               for model, acc in {"tfidf": 0.99, "bow": 0.6, "cnn": 0.98, "grid": 0.99 + 0.005 * seed}.items()]
    table = E.full_table(records)
    assert "| all | 99.0 ± 0.0 | 60.0 ± 0.0 | 98.0 ± 0.0 | 99.5 ± 0.5 | +0.5 ± 0.3 (vs tfidf) | yes |" in table
    curve = [{**r, "table": "curve", "k": 1, "draw": r["seed"]} for r in records]
    assert "| titles masked | 1 | 99.0 ± 0.0 | 60.0 ± 0.0 | 98.0 ± 0.0 | 99.5 ± 0.5 | +0.5 ± 0.3 (vs tfidf) |" \
        in E.curve_table(curve)
