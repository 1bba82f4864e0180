"""Why a prediction: a score per token for one class, the same way for every text model.

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
    tokens: list[str]
    scores: list[float]  # fall in the target's probability without that token

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
    if clf.reads_pages or clf.multi_label:
        raise ValueError("explain scores the tokens of texts with one label each; the layout grid and "
                         "multi_label classifiers have no explanations yet")
    texts = clf._check_inputs(texts, "texts")
    if target is not None and target not in clf.classes_:
        raise ValueError(f"explain: class {target!r} is not one of the classifier's classes {clf.classes_!r:.200}")
    pipeline, model = clf.pipeline_, clf.model_.eval()
    device = next(model.parameters()).device

    def probabilities(ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.softmax(model(ids, lengths).float(), dim=-1)

    ablation = FeatureAblation(probabilities)
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


def to_html(explanations: Sequence[Explanation], title: str = "textkit: why these predictions") -> str:
    """A self-contained page: per text, its prediction and probabilities, the text as given, its
    tokens (the words the model read) on a green
    (for the class) or red (against) background as strong as the score, and the n-grams'
    scores below them. No script, no external file."""
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             "<style>body{font:16px/1.9 system-ui,sans-serif;margin:2em;max-width:60em;color:#222}"
             ".text{border:1px solid #ddd;border-radius:6px;padding:1em;margin:1em 0}"
             ".tok{padding:.15em .25em;margin:0 .05em;border-radius:3px}"
             ".probs{font-size:13px;color:#555}.ngrams{font-size:13px;margin-top:.5em}</style></head><body>",
             f"<h1>{html.escape(title)}</h1><p class='probs'>Green: the word speaks for the class explained, red: "
             "against it; the stronger the colour, the more the class's probability falls without it.</p>"]
    for found in explanations:
        peak = max((abs(s) for s in found.scores), default=0.0) or 1.0
        words = [(t, s) for t, s in zip(found.tokens, found.scores) if " " not in t]
        grams = [(t, s) for t, s in zip(found.tokens, found.scores) if " " in t]
        probs = ", ".join(f"{html.escape(c)} {p:.3f}" for c, p in
                          sorted(found.probabilities.items(), key=lambda kv: -kv[1]))
        parts.append(f"<div class='text'><div><b>predicted {html.escape(str(found.label))}</b>; scores for "
                     f"<b>{html.escape(str(found.target))}</b></div><div class='probs'>{probs}</div>"
                     f"<div class='probs'>text: {html.escape(found.text[:500])}</div><div>")
        parts.extend(_span(token, score, peak) for token, score in words)
        parts.append("</div>")
        if grams:
            top = sorted(grams, key=lambda ts: -abs(ts[1]))[:10]
            parts.append("<div class='ngrams'>n-grams: " + " ".join(_span(t, s, peak) for t, s in top) + "</div>")
        parts.append("</div>")
    parts.append("</body></html>")
    return "".join(parts)


def _span(token: str, score: float, peak: float) -> str:
    strength = min(1.0, abs(score) / peak)
    colour = (22, 163, 74) if score > 0 else (220, 38, 38)
    return (f"<span class='tok' title='{score:+.4f}' style='background:rgba({colour[0]},{colour[1]},{colour[2]},"
            f"{strength:.2f})'>{html.escape(token)}</span>")
