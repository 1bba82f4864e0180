"""Does the place of a word on a page help classify it? Three tables on the FARA forms.

    python scripts/layout_evidence.py                       # all three tables (see "Cost")
    python scripts/layout_evidence.py --tables diagnostic   # one table
    python scripts/layout_evidence.py --quick               # smoke test of the script (~2 min)
    python scripts/layout_evidence.py --device cuda         # the textkit models on a GPU

Data: the 600 OCR'd first pages of ``fara_forms`` (three form types, 200 each; read from
``--data``, default ``../shared/corpora`` beside the repository). Every model reads the same
OCR'd words: the text-only ones (TF-IDF + logistic regression, textkit ``bow`` and ``cnn``)
the words in Tesseract's reading order, the grid model (textkit ``grid``) the same words
placed where they were printed. No pretrained vectors. Every choice is made on a validation
split, never on test: the textkit models early-stop on it (the library's defaults otherwise),
the baseline picks C from 0.1, 1, 10, 100 on it; nothing is refitted on train + valid.

1. **Diagnostic: only position carries the class.** Each seed marks a random half of the
   pages and moves their words, keeping the words and their reading order:
   ``mirror`` flips the page top to bottom (y -> 1000 - y), ``shift`` squeezes every page
   into half its height, the marked half at the bottom, the others at the top (the same local
   layout, only its absolute place differs). The class is "moved or not"; the text is
   identical in both classes, so text-only models can only guess. Rows: the grid model as
   shipped; two ablations of what gives the CNN absolute position: without its coordinate
   channels and with one global max pool instead of 4 x 4 regions (zero padding still shows it
   the page's edges), and that with circular padding too (truly position-blind: a page moved
   by a multiple of 4 rows gives the same logits, so on ``shift`` it can only guess); and
   ``grid, shuffled cells`` (each page's grid cells permuted at random, the same words on the
   same page, so no layout is left: it must fall back to chance). On ``mirror`` even the
   position-blind grid can see the order of lines reversed; ``shift`` keeps every local
   arrangement. Splits: 360 train / 120 valid / 120 test, stratified, per seed.
2. **Full FARA.** The form types, on 360 / 120 / 120 stratified splits per seed, with all
   words and with the title words masked (removed from the page: amendment, dissemination,
   report, short, form and the OMB form numbers, OCR variants included, see ``TITLE``).
3. **Learning curve.** Per seed a fixed test set (100 pages per class) and validation set (20
   per class); from the other 80 per class each draw takes k = 1, 2, 5, 10 labelled pages per
   class; models train on them with early stopping on the validation pages (a generous
   validation set for a few-shot setting: it measures what each model can learn from k pages,
   not how to tune with none). The last column is grid minus the best text-only model of that
   row (by mean), paired over the same draws, ± its standard error.

Chance is 50% on the diagnostic (and the 95% range of a coin on all its test pages is
printed); "met" says whether the issue's targets hold: the grid >= 95% on the diagnostic
with every text-only model and the shuffled grid within that range; the grid >= the best
text-only model on full FARA.

Cost: on this project's 2 CPU cores the default run (3 seeds, 5 draws: 15 per learning-curve
row) took 74 minutes at a load of 1.3-2.5; the diagnostic alone took 1.3 minutes with
``--device cuda`` on an H200. Output: markdown tables on stdout (and ``--md``), every run as
JSON in ``--out``; ``--render`` rebuilds the tables from those files. The committed results are
``scripts/layout_evidence_results.md`` (and ``.json``).
"""
from __future__ import annotations

import argparse
import difflib
import json
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import textkit as tk  # noqa: E402
from textkit.layout import DEFAULT_GRID  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "corpora"
TEXT_MODELS = ("tfidf", "bow", "cnn")
SHOTS = (1, 2, 5, 10)
ABLATIONS = {"grid-global": {"coords": False, "regions": (1, 1)},  # no coordinates, one global max pool
             "grid-blind": {"coords": False, "regions": (1, 1), "padding": "circular"}}  # nor the page's edges
# the form titles and control numbers, and OCR's variants of them (letters only, lower case)
TITLE = ("amendment", "dissemination", "report", "short", "form")
TITLE_STEMS = ("amend", "dissem", "report", "short", "form")
FORM_NUMBER = re.compile(r"1105|000[46]|0013")


# ---------------------------------------------------------------- data

def load_pages(data: Path) -> tuple[list[dict], list[str], list[str]]:
    """-> (pages as {"words", "bboxes"}, their texts, their form types)."""
    corpus = tk.load_corpus("fara_forms", data_dir=data / "fara_forms")["train"]
    names = corpus.features["label"].names
    pages = [{"words": w, "bboxes": b} for w, b in zip(corpus["words"], corpus["bboxes"])]
    return pages, corpus["text"], [names[i] for i in corpus["label"]]


_title_cache: dict[str, bool] = {}


def is_title_word(word: str) -> bool:
    if word not in _title_cache:
        letters = re.sub(r"[^a-z]", "", word.lower())
        _title_cache[word] = bool(FORM_NUMBER.search(word)) or (len(letters) >= 3 and (
            any(stem in letters for stem in TITLE_STEMS)
            or any(difflib.SequenceMatcher(None, letters, t).ratio() >= 0.75 for t in TITLE)))
    return _title_cache[word]


def mask_titles(page: dict) -> dict:
    keep = [i for i, w in enumerate(page["words"]) if not is_title_word(w)]
    return {"words": [page["words"][i] for i in keep], "bboxes": [page["bboxes"][i] for i in keep]}


def text_of(page: dict) -> str:
    return " ".join(page["words"])


def mirror(page: dict) -> dict:
    """Top to bottom: y -> 1000 - y (the words and their reading order unchanged)."""
    return {"words": page["words"], "bboxes": [[x0, 1000 - y1, x1, 1000 - y0] for x0, y0, x1, y1 in page["bboxes"]]}


def squeeze(page: dict, bottom: bool) -> dict:
    """The page in half its height, in the top or the bottom half."""
    off = 500 if bottom else 0
    return {"words": page["words"], "bboxes": [[x0, off + y0 // 2, x1, off + y1 // 2] for x0, y0, x1, y1 in page["bboxes"]]}


def shuffle_cells(page: dict, rng: np.random.Generator, grid: tuple[int, int] = DEFAULT_GRID) -> dict:
    """Each grid cell's words moved to another cell, a random permutation per page: the page keeps
    its words (cell-mates stay together), the layout is gone."""
    H, W = grid
    target = rng.permutation(H * W)
    boxes = []
    for x0, y0, x1, y1 in page["bboxes"]:
        row = min(int((y0 + y1) / 2 * H / 1000), H - 1)
        col = min(int((x0 + x1) / 2 * W / 1000), W - 1)
        r, c = divmod(int(target[row * W + col]), W)
        boxes.append([c * 1000 // W, r * 1000 // H, (c + 1) * 1000 // W - 1, (r + 1) * 1000 // H - 1])
    return {"words": page["words"], "bboxes": boxes}


def stratified(labels: list[str], sizes: dict[str, int], rng: np.random.Generator) -> dict[str, list[int]]:
    """Indices per part (``sizes``: part -> count per class), each class shuffled, in part order."""
    parts: dict[str, list[int]] = {part: [] for part in sizes}
    for c in sorted(set(labels)):
        rows = rng.permutation([i for i, y in enumerate(labels) if y == c]).tolist()
        start = 0
        for part, n in sizes.items():
            parts[part] += rows[start:start + n]
            start += n
    return {part: sorted(rows) for part, rows in parts.items()}


# ---------------------------------------------------------------- models

def run_model(model: str, train: tuple, valid: tuple, test: tuple, args, seed: int, few: bool = False) -> float:
    """Test accuracy of ``model`` trained on ``train`` (inputs, labels), chosen on ``valid``."""
    if model == "tfidf":
        return run_tfidf(train, valid, test)
    name, config = ("grid", ABLATIONS[model]) if model in ABLATIONS else (model.split("-")[0], {})
    # few labelled pages make one batch an epoch: more epochs, and patience to match
    options = {"epochs": 60, "patience": 15} if few else {}
    # recipe=None: the library defaults the committed results were made with (they predate textkit.recipes)
    clf = tk.TextClassifier(name, recipe=None, model_config=config, seed=seed, device=args.device, progress=False,
                            **options)
    clf.fit(*train, valid=valid)
    return clf.evaluate(*test)["accuracy"]


def run_tfidf(train: tuple, valid: tuple, test: tuple) -> float:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
    x_train = vec.fit_transform(train[0])
    best = None
    for C in (0.1, 1.0, 10.0, 100.0):
        clf = LogisticRegression(C=C, max_iter=2000).fit(x_train, train[1])
        score = clf.score(vec.transform(valid[0]), valid[1])
        if best is None or score > best[0]:
            best = (score, clf)
    return float(best[1].score(vec.transform(test[0]), test[1]))


def inputs_for(model: str, pages: list[dict]) -> list:
    return pages if model.startswith("grid") else [text_of(p) for p in pages]


def evaluate_split(models, pages, labels, parts, args, seed, few=False, shuffled_rng=None) -> dict[str, float]:
    out = {}
    for model in models:
        these = pages
        if model == "grid-shuffled":
            these = [shuffle_cells(p, shuffled_rng) for p in pages]
        data = {part: (inputs_for(model, [these[i] for i in rows]), [labels[i] for i in rows])
                for part, rows in parts.items()}
        started = time.perf_counter()
        out[model] = run_model(model, data["train"], data["valid"], data["test"], args, seed, few)
        log(f"    {model:<14} {100 * out[model]:6.1f}  ({time.perf_counter() - started:.0f} s)")
    return out


# ---------------------------------------------------------------- the three experiments

def diagnostic(pages, args) -> list[dict]:
    records = []
    models = [*TEXT_MODELS, "grid", "grid-global", "grid-blind", "grid-shuffled"]
    for transform in ("mirror", "shift"):
        for seed in range(args.seeds):
            rng = np.random.default_rng([seed, 1])
            moved = np.zeros(len(pages), dtype=bool)
            moved[rng.permutation(len(pages))[: len(pages) // 2]] = True
            if transform == "mirror":
                data = [mirror(p) if m else p for p, m in zip(pages, moved)]
            else:
                data = [squeeze(p, bottom=bool(m)) for p, m in zip(pages, moved)]
            labels = ["moved" if m else "kept" for m in moved]
            parts = stratified(labels, {"train": 180, "valid": 60, "test": 60}, rng)
            log(f"diagnostic {transform}, seed {seed}")
            scores = evaluate_split(models, data, labels, parts, args, seed, shuffled_rng=np.random.default_rng([seed, 2]))
            records += [{"table": "diagnostic", "transform": transform, "seed": seed, "model": m, "accuracy": a,
                         "n_test": len(parts["test"])} for m, a in scores.items()]
    return records


def full(pages, labels, args) -> list[dict]:
    records = []
    for masked in (False, True):
        data = [mask_titles(p) for p in pages] if masked else pages
        for seed in range(args.seeds):
            parts = stratified(labels, {"train": 120, "valid": 40, "test": 40}, np.random.default_rng([seed, 3]))
            log(f"full FARA, {'titles masked' if masked else 'all words'}, seed {seed}")
            scores = evaluate_split([*TEXT_MODELS, "grid"], data, labels, parts, args, seed)
            records += [{"table": "full", "masked": masked, "seed": seed, "model": m, "accuracy": a,
                         "n_test": len(parts["test"])} for m, a in scores.items()]
    return records


def curve(pages, labels, args) -> list[dict]:
    records = []
    masked_pages = [mask_titles(p) for p in pages]
    for seed in range(args.seeds):
        fixed = stratified(labels, {"test": 100, "valid": 20, "pool": 80}, np.random.default_rng([seed, 4]))
        pool_labels = [labels[i] for i in fixed["pool"]]
        for k in args.shots:
            for draw in range(args.draws):
                rng = np.random.default_rng([seed, 5, k, draw])
                train = [fixed["pool"][i] for i in stratified(pool_labels, {"train": k}, rng)["train"]]
                parts = {"train": train, "valid": fixed["valid"], "test": fixed["test"]}
                for masked in (False, True):
                    log(f"curve k={k}, draw {draw}, seed {seed}, {'titles masked' if masked else 'all words'}")
                    scores = evaluate_split([*TEXT_MODELS, "grid"], masked_pages if masked else pages, labels,
                                            parts, args, seed * 1000 + draw, few=True)
                    records += [{"table": "curve", "k": k, "draw": draw, "seed": seed, "masked": masked, "model": m,
                                 "accuracy": a, "n_test": len(fixed["test"])} for m, a in scores.items()]
    return records


# ---------------------------------------------------------------- tables

def mean_sd(values: list[float]) -> str:
    if not values:
        return "–"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * statistics.fmean(values):.1f} ± {100 * sd:.1f}"


def paired(a: list[float], b: list[float]) -> str:
    diff = [x - y for x, y in zip(a, b)]
    se = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else 0.0
    return f"{100 * statistics.fmean(diff):+.1f} ± {100 * se:.1f}"


def pick(records, **where) -> list[float]:
    return [r["accuracy"] for r in records if all(r.get(k) == v for k, v in where.items())]


def chance_band(records, transform) -> float:
    """Half-width (%) of a fair coin's 95% range over all the diagnostic's test pages of a transform."""
    n = sum(r["n_test"] for r in records if r["table"] == "diagnostic" and r["transform"] == transform
            and r["model"] == "grid")
    return 100 * 1.96 * (0.25 / max(n, 1)) ** 0.5


def diagnostic_table(records) -> str:
    rows = [r for r in records if r["table"] == "diagnostic"]
    if not rows:
        return ""
    transforms = [t for t in ("mirror", "shift") if any(r["transform"] == t for r in rows)]
    lines = ["| model | " + " | ".join(f"{t}: test accuracy %" for t in transforms) + " |",
             "|---" * (len(transforms) + 1) + "|"]
    names = {"tfidf": "TF-IDF + LR (text)", "bow": "textkit bow (text)", "cnn": "textkit cnn (text)",
             "grid": "textkit grid", "grid-global": "grid without coordinates, one global pool (ablation)",
             "grid-blind": "grid, position-blind: that and circular padding (ablation)",
             "grid-shuffled": "grid, shuffled cells (control)"}
    for model, name in names.items():
        lines.append(f"| {name} | " + " | ".join(mean_sd(pick(rows, transform=t, model=model)) for t in transforms)
                     + " |")
    verdicts = []
    for t in transforms:
        band = chance_band(records, t)
        def pooled(model):  # accuracy over every test page of the transform
            return 100 * statistics.fmean(pick(rows, transform=t, model=model))
        text_ok = all(abs(pooled(m) - 50) <= band for m in TEXT_MODELS)
        met = pooled("grid") >= 95 and text_ok and abs(pooled("grid-shuffled") - 50) <= band
        verdicts.append(f"{t}: chance 50 ± {band:.1f} (a coin's 95% range over the {t} test pages); grid "
                        f"{pooled('grid'):.1f}, text-only models {'all' if text_ok else 'NOT all'} within that range, "
                        f"shuffled grid {pooled('grid-shuffled'):.1f}: {'met' if met else 'NOT met'}")
    seeds = len({r["seed"] for r in rows})
    return "\n".join(lines) + f"\n\nmean ± sd over {seeds} seeds. " + "; ".join(verdicts) + "."


def full_table(records) -> str:
    rows = [r for r in records if r["table"] == "full"]
    if not rows:
        return ""
    lines = ["| words | " + " | ".join(TEXT_MODELS) + " | grid | grid − best text (paired ± se) | met |",
             "|---" * (len(TEXT_MODELS) + 4) + "|"]
    for masked in (False, True):
        cells = [mean_sd(pick(rows, masked=masked, model=m)) for m in (*TEXT_MODELS, "grid")]
        best = max(TEXT_MODELS, key=lambda m: statistics.fmean(pick(rows, masked=masked, model=m)))
        grid, other = pick(rows, masked=masked, model="grid"), pick(rows, masked=masked, model=best)
        met = "yes" if statistics.fmean(grid) >= statistics.fmean(other) else "NO"
        lines.append(f"| {'titles masked' if masked else 'all'} | " + " | ".join(cells)
                     + f" | {paired(grid, other)} (vs {best}) | {met} |")
    seeds = len({r["seed"] for r in rows})
    return "\n".join(lines) + f"\n\ntest accuracy %, mean ± sd over {seeds} seeds (360 / 120 / 120 pages)."


def curve_table(records) -> str:
    rows = [r for r in records if r["table"] == "curve"]
    if not rows:
        return ""
    lines = ["| words | pages per class | " + " | ".join(TEXT_MODELS) + " | grid | grid − best text (paired ± se) |",
             "|---" * (len(TEXT_MODELS) + 4) + "|"]
    for masked in (False, True):
        for k in sorted({r["k"] for r in rows}):
            def accs(model):
                ordered = sorted((r for r in rows if r["masked"] == masked and r["k"] == k and r["model"] == model),
                                 key=lambda r: (r["seed"], r["draw"]))
                return [r["accuracy"] for r in ordered]
            best = max(TEXT_MODELS, key=lambda m: statistics.fmean(accs(m)))
            lines.append(f"| {'titles masked' if masked else 'all'} | {k} | "
                         + " | ".join(mean_sd(accs(m)) for m in (*TEXT_MODELS, "grid"))
                         + f" | {paired(accs('grid'), accs(best))} (vs {best}) |")
    n = len({(r["seed"], r["draw"]) for r in rows})
    return "\n".join(lines) + (f"\n\ntest accuracy % on 300 pages, mean ± sd over {n} draws; the last column pairs "
                               f"the grid with the row's best text-only model on the same draws.")


def render(records) -> str:
    parts = [("Diagnostic: only position carries the class", diagnostic_table(records)),
             ("Full FARA: the three form types", full_table(records)),
             ("Learning curve: few labelled pages", curve_table(records))]
    return "\n\n".join(f"### {title}\n\n{table}" for title, table in parts if table)


# ---------------------------------------------------------------- main

def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("TEXTKIT_DATA", DEFAULT_DATA)))
    parser.add_argument("--tables", nargs="+", choices=("diagnostic", "full", "curve"),
                        default=["diagnostic", "full", "curve"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--draws", type=int, default=5, help="draws per seed and k (learning curve)")
    parser.add_argument("--shots", type=int, nargs="+", default=list(SHOTS))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="1 seed, 2 draws, k = 1 and 5: a smoke test")
    parser.add_argument("--out", type=Path, help="write every run as JSON here")
    parser.add_argument("--md", type=Path, help="write the tables here too")
    parser.add_argument("--render", type=Path, nargs="+", help="only render tables from these --out files")
    args = parser.parse_args(argv)
    if args.render:
        runs = [run for path in args.render for run in json.loads(path.read_text()).get("runs", [])] or \
            [json.loads(path.read_text()) for path in args.render]
        records = [r for run in runs for r in run["records"]]
        print(render(records))
        return 0
    if args.quick:
        args.seeds, args.draws, args.shots = 1, 2, [1, 5]
    if args.threads:
        torch.set_num_threads(args.threads)
    started = time.perf_counter()
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    pages, _, labels = load_pages(args.data)
    records = []
    if "diagnostic" in args.tables:
        records += diagnostic(pages, args)
    if "full" in args.tables:
        records += full(pages, labels, args)
    if "curve" in args.tables:
        records += curve(pages, labels, args)
    wall = time.perf_counter() - started
    tables = render(records)
    machine = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
               f"{torch.__version__}, {torch.get_num_threads()} threads, device {args.device}; load average "
               f"{' '.join(f'{x:.2f}' for x in load) if load else '?'} at the start; {wall / 60:.1f} min")
    command = "python scripts/layout_evidence.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"{tables}\n\n`{command.strip()}` ({machine})")
    if args.md:
        args.md.write_text(f"{tables}\n\n`{command.strip()}` ({machine})\n", encoding="utf-8")
    if args.out:
        args.out.write_text(json.dumps({"command": command.strip(), "machine": machine, "records": records},
                                       indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
