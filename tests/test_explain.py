"""textkit.explain: a token's score is its share in the prediction; a planted word that decides
the class must come out on top, for every text model; bad requests are one line."""
from __future__ import annotations

import json
import random

import numpy as np
import pytest

from textkit import TextClassifier
from textkit.explain import to_html

pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, shared cores
FILLER = ("the a of and to in is it that was for on with as his they be at one have this from or had by "
          "word but what some we can out other were all there when up use your how said an each she").split()
PLANTED = {"pos": "zebra", "neg": "walrus"}


def planted(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Texts of random filler words with one planted word, which alone decides the label."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = rng.choices(FILLER, k=rng.randint(6, 14))
        words.insert(rng.randrange(len(words) + 1), PLANTED[label])
        texts.append(" ".join(words))
        labels.append(label)
    return texts, labels


@pytest.fixture(scope="module")
def fitted(one_thread) -> dict[str, TextClassifier]:
    """Each text model trained to the planting rule (no early stopping: a plateau in accuracy is not the end)."""
    texts, labels = planted(400, seed=0)
    return {model: TextClassifier(model, epochs=15, lr=1e-2, patience=None, device="cpu", progress=False, seed=0)
            .fit(texts, labels) for model in ("bow", "cnn", "rnn")}


@pytest.mark.parametrize("model", ["bow", "cnn", "rnn"])
def test_the_planted_word_gets_the_top_score(fitted, model):
    clf = fitted[model]
    texts, labels = planted(20, seed=1)
    found = clf.explain(texts)
    assert [e.label for e in found] == labels  # the models learnt the rule
    for explanation, label in zip(found, labels):
        words = [(t, s) for t, s in zip(explanation.tokens, explanation.scores) if " " not in t]
        top = max(words, key=lambda ts: ts[1])[0]
        assert top == PLANTED[label], (model, explanation.text, words)
        assert explanation.target == label and len(explanation.scores) == len(explanation.tokens)
    # for the other class, the planted word speaks against it
    other = clf.explain([texts[0]], target="pos" if labels[0] == "neg" else "neg")[0]
    scores = dict(zip(other.tokens, other.scores))
    assert scores[PLANTED[labels[0]]] < 0


def test_bad_requests_are_one_line(fitted):
    clf = fitted["cnn"]
    with pytest.raises(ValueError, match=r"class 'maybe' is not one of the classifier's classes \['neg', 'pos'\]"):
        clf.explain(["zebra"], target="maybe")
    with pytest.raises(ValueError, match=r"text 1 \('<br />'\) has no tokens after cleaning: nothing to explain"):
        clf.explain(["zebra the", "<br />"])
    with pytest.raises(RuntimeError, match="not fitted"):
        TextClassifier("bow").explain(["zebra"])
    short = TextClassifier("bow", pipeline={"max_length": 5}, epochs=1, progress=False, device="cpu")
    short.fit(*planted(40, seed=2))
    with pytest.raises(ValueError, match=r"text 0 has \d+ tokens, more than the model reads \(max_length=5\)"):
        short.explain(["the a of and to in zebra"])


def test_the_html_report_highlights_the_words_and_escapes_them(fitted):
    found = fitted["cnn"].explain(["the <b>zebra</b> of it"])
    page = to_html(found)
    assert page.startswith("<!doctype html>") and "<script" not in page and "http" not in page  # self-contained
    assert "text: the &lt;b&gt;zebra&lt;/b&gt; of it" in page and "<b>zebra" not in page  # escaped, never markup
    zebra = next(part for part in page.split("<span")[1:] if ">zebra</span>" in part)
    assert "rgba(22,163,74,1.00)" in zebra  # the top word: full-strength green


def test_cli_explain_prints_json_lines_and_writes_the_page(fitted, tmp_path, capsys):
    from textkit.cli import main

    fitted["bow"].save(tmp_path / "model")
    html = tmp_path / "why.html"
    assert main(["explain", str(tmp_path / "model"), "the zebra was here", "walrus and the sea",
                 "--html", str(html), "--threads", "1"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["label"] for line in lines] == ["pos", "neg"] and set(lines[0]) >= {"tokens", "scores",
                                                                                   "probabilities", "target"}
    assert "zebra" in html.read_text(encoding="utf-8")
    assert main(["explain", str(tmp_path / "model"), "zebra", "--target", "nope"]) == 2
    assert "--target 'nope' is not one of the model's classes: neg, pos" in capsys.readouterr().err


def test_on_a_page_the_cell_that_decides_gets_the_top_score_and_the_report_draws_the_boxes():
    """The layout task of test_layout: a page is "top" or "bottom" by where its word 'total' is;
    the words are drawn alike for both classes. On a "top" page the cell holding 'total' must
    explain it (a word sharing that cell shares its score). On a "bottom" page, taking 'total'
    out need not change the answer (no 'total' at the top reads as bottom too): ablation scores
    what a prediction needs, so only the top pages are asserted."""
    from test_layout import make_position_pages, quick_grid

    train_pages, train_labels = make_position_pages(240, seed=0)
    clf = quick_grid().fit(train_pages, train_labels)
    pages, labels = make_position_pages(10, seed=7)
    found = clf.explain(pages)
    assert [e.label for e in found] == labels
    assert labels.count("top") >= 3
    for explanation, page in zip(found, pages):
        assert explanation.tokens == list(page.words) and len(explanation.boxes) == len(page.words)
        if explanation.label == "top":
            total = explanation.scores[page.words.index("total")]
            assert total == max(explanation.scores) > 0, list(zip(page.words, explanation.scores))
    page = to_html([found[labels.index("top")]])
    assert "class='page'" in page
    total = next(part for part in page.split("<span")[1:] if ">total</span>" in part)
    assert "left:" in total and "top:" in total and "rgba(22,163,74,1.00)" in total


def _chromium() -> str | None:
    import shutil

    return next((shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(name)), None)


@pytest.mark.skipif(_chromium() is None, reason="no headless Chromium (.ci/run installs the chromium package)")
def test_the_report_renders_in_a_real_browser_with_the_planted_word_highlighted(fitted, tmp_path):
    """Rendered by headless Chromium, the report shows one full-strength green box (the planted
    word, the text's top score) with the word's dark glyphs inside it."""
    import subprocess

    from PIL import Image

    found = fitted["cnn"].explain(["the zebra was in the sea"])
    assert max(zip(found[0].scores, found[0].tokens))[1] == "zebra"
    page = tmp_path / "report.html"
    page.write_text(to_html(found), encoding="utf-8")
    shot = tmp_path / "report.png"
    done = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=900,500", f"--screenshot={shot}", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert shot.exists(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    green = (np.abs(pixels - np.array([22, 163, 74])).sum(axis=-1) <= 6)  # the top score's background
    rows, cols = np.nonzero(green)
    assert len(rows) > 200  # a box, not a stray pixel
    top, bottom, left, right = rows.min(), rows.max(), cols.min(), cols.max()
    assert right - left > bottom - top > 10  # one word's box: wider than tall, a line high
    box = pixels[top:bottom + 1, left:right + 1]
    glyphs = (box.sum(axis=-1) < 200).sum()  # the dark text of "zebra" drawn on the green
    assert glyphs > 20 and green[top:bottom + 1, left:right + 1].mean() > 0.5
