"""``textkit quickstart``: the README's tour on the bundled TREC corpus, real shapes and a short training."""
from __future__ import annotations

import argparse
import time
from typing import Any

from .common import (
    MESSY_EXAMPLE,
    MODELS,
    PAGE_MODELS,
    SPLITS,
    say,
    split_lists,
)

# ---------------------------------------------------------------- quickstart


def cmd_quickstart(args: argparse.Namespace) -> int:
    import torch

    from .. import TextClassifier, TextPipeline
    from ..corpora import get_card, load_corpus
    from ..documents import parse_layout_text
    from ..formats import ReadOptions
    from ..layout import LayoutPipeline
    from ..models import MODELS as REGISTERED, build_model

    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    card = get_card("trec")
    corpus = load_corpus("trec", seed=args.seed)  # bundled with the package: no TEXTKIT_DATA, no network
    (train_texts, train_labels), (valid_texts, valid_labels), (test_texts, test_labels) = (
        split_lists(corpus[s]) for s in SPLITS)
    say(f"1. data     load_corpus('trec'): {card.title}")
    say(f"           {corpus['train'].info.description}")
    say(f"           train {len(train_texts):,} / valid {len(valid_texts):,} (10% of train, stratified, seed "
        f"{args.seed}) / test {len(test_texts):,}; classes {', '.join(corpus['train'].features['label'].names)}")
    say(f"           e.g. {train_labels[0]}: {train_texts[0]!r}")

    pipe = TextPipeline().fit(train_texts)  # vocabulary from train only
    say("\n2. text     one messy string through the pipeline (stages 1-3)")
    say(f"           raw       {MESSY_EXAMPLE!r}")
    say(f"           clean     {pipe.cleaner(MESSY_EXAMPLE)!r}")
    say(f"           tokenize  {pipe.analyze(MESSY_EXAMPLE)}")
    say(f"           index     {pipe.encode([MESSY_EXAMPLE])[0]}   (vocabulary of {len(pipe.vocab):,} from "
        f"train; 0 = <pad>, 1 = <unk>)")

    batch = pipe.transform(train_texts[:4])
    say("\n3. pad      pipe.transform(4 train questions) -> Batch (stage 4)")
    say(f"           ids      {_shape(batch.ids)} {batch.ids.dtype}   row 0: {batch.ids[0].tolist()}")
    say(f"           lengths  {_shape(batch.lengths)} {batch.lengths.dtype}   {batch.lengths.tolist()}")

    # the same questions as a page: a line is a row, a character a column (format layout-text)
    page = parse_layout_text("\n".join(train_texts[:4]).encode(), "4 train questions", ReadOptions())[0]
    layout = LayoutPipeline(text=pipe)  # the same cleaner, tokenizer and vocabulary
    grid = layout.transform([page])
    say(f"\n3b. page    the 4 questions as a page (line = row, character = column) -> LayoutPipeline(grid="
        f"{layout.grid}, slots={layout.slots}) -> GridBatch")
    say(f"           ids      {_shape(grid.ids)} {grid.ids.dtype}   (B, H, W, S): page, row, column, slot")
    say(f"           lengths  {_shape(grid.lengths)} {grid.lengths.dtype}   {grid.lengths.tolist()} tokens placed")
    for row in range(grid.ids.shape[1]):
        cells = [(col, layout.vocab.itos[int(i)]) for col in range(grid.ids.shape[2])
                 for i in grid.ids[0, row, col] if i]
        if cells:
            shown = " ".join(f"{col}:{token}" for col, token in cells[:8])
            say(f"           row {row:>2}   {shown}{' ...' if len(cells) > 8 else ''}   (column:token)")

    say("\n4. models   what each model does with (ids, lengths): shapes from forward hooks on these batches")
    torch.manual_seed(args.seed)
    for name in MODELS:
        model = build_model(name, vocab_size=pipe.num_embeddings, num_classes=len(card.classes)).eval()
        doc = (REGISTERED[name].__doc__ or "").strip().splitlines()[0]
        say(f"   {name}  {type(model).__name__}: {doc}")
        for line in _layer_shapes(model, grid if name in PAGE_MODELS else batch):
            say(f"           {line}")

    from ..threads import torch_threads

    with torch_threads(args.threads) as threads:  # measured now, before the training starts
        say(f"\n5. train    TextClassifier({args.model!r}, recipe='trec', model_config={{'members': {args.members}}}, "
            f"epochs={args.epochs}, seed={args.seed}) on train (the settings validated on TREC for this model, "
            f"textkit.recipes, with {args.members} member(s): --members), early stopping on valid, then evaluate "
            f"on test ({threads} CPU thread(s), --threads; one line per epoch on stderr)")
        clf = TextClassifier(args.model, recipe="trec", model_config={"members": args.members}, epochs=args.epochs,
                             seed=args.seed, device=args.device, threads=threads, progress=args.progress)
        clf.fit(train_texts, train_labels, valid=(valid_texts, valid_labels))
        scores = clf.evaluate(test_texts, test_labels)
    reference = card.references.get("CNN-rand")
    say(f"           test ({len(test_texts)} questions): accuracy {scores['accuracy']:.4f}, "
        f"macro-F1 {scores['macro_f1']:.4f}")
    if reference is not None:
        say(f"           published: CNN-rand accuracy {reference / 100:.3f}, from {card.reference_source}")
    say(f"           reproduce: textkit quickstart --model {args.model} --epochs {args.epochs} --seed {args.seed} "
        f"--members {args.members}; "
        f"the full recipe: textkit train --corpus trec --model {args.model} --out runs/trec")
    say(f"\ndone in {time.perf_counter() - args.started:.0f} s (since the command started)")
    return 0


def _shape(value: Any) -> str:
    """A tensor, PackedSequence or tuple of them, as its shapes."""
    import torch
    from torch.nn.utils.rnn import PackedSequence

    if isinstance(value, PackedSequence):
        return f"packed{tuple(value.data.shape)}"
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(_shape(v) for v in value) + ")"
    return type(value).__name__


def _layer_shapes(model, batch) -> list[str]:
    """Run ``model`` on ``batch`` with a forward hook on every leaf layer; one line per call."""
    import torch
    from torch import nn

    quiet = (nn.Dropout, nn.ReLU, nn.Identity, nn.Tanh)
    lines: list[str] = []
    hooks = []
    for name, module in model.named_modules():
        if list(module.children()) or isinstance(module, quiet):
            continue

        def hook(module, inputs, output, name=name):
            inputs = inputs[0] if len(inputs) == 1 else inputs
            lines.append(f"{name:<17} {type(module).__name__:<13} {_shape(inputs)} -> {_shape(output)}")

        hooks.append(module.register_forward_hook(hook))
    try:
        with torch.no_grad():
            logits = model(batch.ids, batch.lengths)
    finally:
        for handle in hooks:
            handle.remove()
    lines.append(f"{'= logits':<31} {_shape(logits)}")
    return lines
