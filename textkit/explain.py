"""Why a prediction: a score per token (per grid cell for pages) for one class, the same way for
every model.

::

    found = clf.explain(["the plot was dull but the acting great"])      # or target="pos"
    found[0].label, found[0].probabilities       # the prediction
    list(zip(found[0].tokens, found[0].scores))  # each token's share in it
    Path("why.html").write_text(to_html(found))  # the words highlighted, self-contained

A token's score is how much the probability of the class falls when that token is taken out
of the text (its id replaced by PAD, which every model ignores): Captum's ``FeatureAblation``
over the ids the model reads, one feature per id. Positive: the token speaks for the class;
negative: against it. The tokens are the pipeline's own (cleaned, lower-cased, n-grams
included for a model that reads them), one score each, in the order the model reads them.
Occlusion rather than gradients, so the contract holds for every model alike (a bag of
embeddings has no per-token activations to attribute through, and ids have no gradient).

For the layout model (pages) the feature is a grid cell: every token the ``LayoutPipeline``
placed in it is taken out at once (empty cells are one feature, which changes nothing). Each of
the page's words gets the score of the cell its centre fell in, and ``boxes`` holds the words'
``[x0, y0, x1, y1]`` (0-1000 of the page), so the HTML page draws the heat over the page's
word boxes.
"""
from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Hashable, Sequence

import numpy as np
import torch

if TYPE_CHECKING:
    from .classifier import TextClassifier

ABLATIONS_PER_PASS = 64  # texts with one token removed, run through the model at once


@dataclass
class Explanation:
    """One text's prediction and each of its tokens' score for ``target``."""

    text: str
    label: Hashable  # the predicted class
    target: Hashable  # the class the scores are for
    probabilities: dict[str, float]  # class (as str) -> probability
    tokens: list[str]  # a text's tokens, or a page's words
    scores: list[float]  # fall in the target's probability without that token (the word's cell)
    boxes: list[list[float]] | None = None  # pages: each word's [x0, y0, x1, y1], 0-1000

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(clf: TextClassifier, texts: Sequence[str], target: Hashable | None = None) -> list[Explanation]:
    """Explain ``clf``'s prediction for each text (or the class ``target`` for all of them)."""
    try:
        from captum.attr import FeatureAblation
    except ImportError:
        raise ImportError("explain needs Captum, an optional extra: pip install 'textkit[explain]' "
                          "(or: pip install captum)") from None

    if clf.model_ is None:
        raise RuntimeError("explain: this TextClassifier is not fitted: fit or load one first")
    if clf.multi_label:
        raise ValueError("explain scores one class at a time: multi_label classifiers have no explanations yet")
    texts = clf._check_inputs(texts, "pages" if clf.reads_pages else "texts")
    if target is not None and target not in clf.classes_:
        raise ValueError(f"explain: class {target!r} is not one of the classifier's classes {clf.classes_!r:.200}")
    pipeline, model = clf.pipeline_, clf.model_.eval()
    device = next(model.parameters()).device

    def probabilities(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model(ids, lengths).float(), dim=-1)

    ablation = FeatureAblation(probabilities)
    if clf.reads_pages:
        return [_explain_page(clf, ablation, probabilities, page, i, target, device) for i, page in enumerate(texts)]
    found = []
    for i, text in enumerate(texts):
        tokens = pipeline.analyze(text)
        if not tokens:
            raise ValueError(f"explain: text {i} ({text[:40]!r}) has no tokens after cleaning: nothing to explain")
        limit = pipeline.max_length
        if limit is not None and len(tokens) > limit:
            raise ValueError(f"explain: text {i} has {len(tokens):,} tokens, more than the model reads "
                             f"(max_length={limit:,}); the prediction ignores the rest, so explain a shorter text")
        batch = pipeline.transform([text])
        ids, lengths = batch.ids.to(device), batch.lengths.to(device)
        with torch.no_grad():
            probs = probabilities(ids, lengths)[0].cpu().numpy()
        label = clf.classes_[int(np.argmax(probs))]
        goal = label if target is None else target
        with torch.no_grad():
            scores = ablation.attribute(ids, baselines=0, target=clf.classes_.index(goal),
                                        additional_forward_args=(lengths,),
                                        perturbations_per_eval=ABLATIONS_PER_PASS)[0, :len(tokens)]
        found.append(Explanation(text=text, label=label, target=goal,
                                 probabilities={str(c): float(p) for c, p in zip(clf.classes_, probs)},
                                 tokens=list(tokens), scores=[float(s) for s in scores.cpu()]))
    return found


def _explain_page(clf, ablation, probabilities, page, i: int, target, device) -> Explanation:
    from .layout import page_words
    from .pages import BBOX_SCALE

    words, boxes = page_words(page, f"pages[{i}]")
    batch = clf.pipeline_.transform([page])
    if not int(batch.lengths[0]):
        raise ValueError(f"explain: page {i} has no tokens on the grid after cleaning: nothing to explain")
    ids, lengths = batch.ids.to(device), batch.lengths.to(device)
    H, W, _ = clf.pipeline_.shape
    used = (ids[0] != 0).any(dim=-1).reshape(-1)  # (H * W,) cells holding a token
    feature = torch.full((H * W,), int(used.sum()), dtype=torch.long, device=device)  # empty cells: one feature
    feature[used] = torch.arange(int(used.sum()), device=device)
    mask = feature.reshape(1, H, W, 1).expand_as(ids)
    with torch.no_grad():
        probs = probabilities(ids, lengths)[0].cpu().numpy()
        label = clf.classes_[int(np.argmax(probs))]
        goal = label if target is None else target
        cells = ablation.attribute(ids, baselines=0, target=clf.classes_.index(goal), feature_mask=mask,
                                   additional_forward_args=(lengths,),
                                   perturbations_per_eval=ABLATIONS_PER_PASS)[0, :, :, 0].cpu().numpy()  # (H, W)
    cy, cx = (boxes[:, 1] + boxes[:, 3]) / 2, (boxes[:, 0] + boxes[:, 2]) / 2
    row = np.minimum((cy * H / BBOX_SCALE).astype(np.int64), H - 1)
    col = np.minimum((cx * W / BBOX_SCALE).astype(np.int64), W - 1)
    return Explanation(text=" ".join(words), label=label, target=goal,
                       probabilities={str(c): float(p) for c, p in zip(clf.classes_, probs)},
                       tokens=list(words), scores=[float(v) for v in cells[row, col]],
                       boxes=[[float(v) for v in box] for box in boxes])


def to_html(explanations: Sequence[Explanation], title: str = "textkit: why these predictions") -> str:
    """A self-contained page: per text, its prediction and probabilities, the text as given, its
    tokens (the words the model read) on a green
    (for the class) or red (against) background as strong as the score, and the n-grams'
    scores below them. No script, no external file."""
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             "<style>body{font:16px/1.9 system-ui,sans-serif;margin:2em;max-width:60em;color:#222}"
             ".text{border:1px solid #ddd;border-radius:6px;padding:1em;margin:1em 0}"
             ".tok{padding:.15em .25em;margin:0 .05em;border-radius:3px}"
             ".probs{font-size:13px;color:#555}.ngrams{font-size:13px;margin-top:.5em}"
             ".page{position:relative;width:600px;height:776px;border:1px solid #999;margin-top:.5em;"
             "background:#fff;overflow:hidden}.page .tok{position:absolute;padding:0;margin:0;font-size:9px;"
             "line-height:1;white-space:nowrap;overflow:hidden}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p class='probs'>Green: the word speaks for the class explained, red: "
             "against it; the stronger the colour, the more the class's probability falls without it.</p>"]
    for found in explanations:
        peak = max((abs(s) for s in found.scores), default=0.0) or 1.0
        words = [(t, s) for t, s in zip(found.tokens, found.scores) if " " not in t]
        grams = [(t, s) for t, s in zip(found.tokens, found.scores) if " " in t]
        probs = ", ".join(f"{html.escape(c)} {p:.3f}" for c, p in
                          sorted(found.probabilities.items(), key=lambda kv: -kv[1]))
        parts.append(f"<div class='text'><div><b>predicted {html.escape(str(found.label))}</b>; scores for "
                     f"<b>{html.escape(str(found.target))}</b></div><div class='probs'>{probs}</div>")
        if found.boxes is not None:  # a page: each word where it was printed, with its cell's heat
            parts.append("<div class='page'>")
            parts.extend(_placed(token, score, peak, box) for token, score, box in
                         zip(found.tokens, found.scores, found.boxes))
            parts.append("</div></div>")
            continue
        parts.append(f"<div class='probs'>text: {html.escape(found.text[:500])}</div><div>")
        parts.extend(_span(token, score, peak) for token, score in words)
        parts.append("</div>")
        if grams:
            top = sorted(grams, key=lambda ts: -abs(ts[1]))[:10]
            parts.append("<div class='ngrams'>n-grams: " + " ".join(_span(t, s, peak) for t, s in top) + "</div>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def _span(token: str, score: float, peak: float, place: str = "") -> str:
    strength = min(1.0, abs(score) / peak)
    colour = (22, 163, 74) if score > 0 else (220, 38, 38)
    return (f"<span class='tok' title='{score:+.4f}' style='{place}background:rgba({colour[0]},{colour[1]},"
            f"{colour[2]},{strength:.2f})'>{html.escape(token)}</span>")


def _placed(word: str, score: float, peak: float, box: list[float]) -> str:
    """A word at its box on a 600 x 776 page (US letter's shape; boxes are 0-1000 of each side)."""
    x0, y0, x1, y1 = box
    place = (f"left:{x0 * 0.6:.1f}px;top:{y0 * 0.776:.1f}px;width:{max(x1 - x0, 1) * 0.6:.1f}px;"
             f"height:{max(y1 - y0, 1) * 0.776:.1f}px;")
    return _span(word, score, peak, place)
