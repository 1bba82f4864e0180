"""The model contract (models/base.py), checked for every registered model, plus each model's own promises."""
from __future__ import annotations

import itertools
import json
import time
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import textkit
from textkit.models import MODELS, build_model
from textkit.models.pooling import (
    AttentionPooling,
    final_hidden,
    last_state,
    lengths_to_mask,
    masked_max,
    masked_mean,
)
from textkit.vocabulary import PAD_ID

VOCAB, CLASSES = 50, 3
# Small but non-default where it matters: kernel sizes that differ from 3,4,5 catch a
# hard-coded minimum length.
SMALL = {
    "bow": {"embed_dim": 16},
    "cnn": {"embed_dim": 16, "kernel_sizes": (2, 4), "num_filters": 8},
    "rnn": {"embed_dim": 16, "hidden_dim": 12},
}
RNN_VARIANTS = [
    {"cell": cell, "bidirectional": bidir, "pooling": pooling}
    for cell, bidir, pooling in itertools.product(("lstm", "gru"), (True, False), ("last", "max", "mean", "attention"))
]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: tiny models, shared cores


def make_batch(lengths: list[int], *, width: int | None = None, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Post-padded random ids (never PAD inside a row) as the padding step would make them."""
    gen = torch.Generator().manual_seed(seed)
    T = width or max(max(lengths), 1)
    ids = torch.full((len(lengths), T), PAD_ID, dtype=torch.long)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(2, VOCAB, (n,), generator=gen)
    return ids, torch.tensor(lengths, dtype=torch.long)


def small_model(name: str, **extra) -> nn.Module:
    torch.manual_seed(0)
    return build_model(name, vocab_size=VOCAB, num_classes=CLASSES, **{**SMALL[name], **extra}).eval()


# The (B, T) contract is the text models'; the grid model's (B, H, W, S) one is in test_layout.py.
TEXT_MODELS = [name for name, model in MODELS.items() if model.inputs == "text"]
ALL_MODELS = [(name, {}) for name in TEXT_MODELS] + [("rnn", v) for v in RNN_VARIANTS] + [
    ("bow", {"hidden_dim": 8}),
    ("bow", {"pooling": "sqrt", "distinct": True}),
    ("cnn", {"embedding_mode": "multichannel"}),
    ("cnn", {"wide": True}),
    ("rnn", {"num_layers": 2}),
]
ALL_IDS = [f"{name}-" + "-".join(map(str, cfg.values())) if cfg else name for name, cfg in ALL_MODELS]
# Lengths 0 (empty text), 1 (shorter than every CNN kernel here) and 3 (between kernels 2 and 4).
LENGTHS = [7, 0, 1, 3, 12, 5]


def test_registry_is_the_documented_one():
    assert set(MODELS) == {"bow", "cnn", "rnn", "grid"}
    assert TEXT_MODELS == ["bow", "cnn", "rnn"] and MODELS["grid"].inputs == "pages"
    assert textkit.build_model is build_model


@pytest.mark.filterwarnings("ignore:cnn embedding_mode")
@pytest.mark.parametrize("name,cfg", ALL_MODELS, ids=ALL_IDS)
def test_shape_and_finite_logits_for_empty_rows(name, cfg):
    model = small_model(name, **cfg)
    ids, lengths = make_batch(LENGTHS)
    logits = model(ids, lengths)
    assert logits.shape == (len(LENGTHS), CLASSES)
    assert logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    all_empty = model(torch.zeros(3, 1, dtype=torch.long), torch.zeros(3, dtype=torch.long))
    assert torch.isfinite(all_empty).all()


@pytest.mark.filterwarnings("ignore:cnn embedding_mode")
@pytest.mark.parametrize("name,cfg", ALL_MODELS, ids=ALL_IDS)
def test_empty_row_pools_to_zero_features(name, cfg):
    """An empty text carries no evidence: its pooled features are zeros, so it scores
    as the output head's bias (base.py's contract)."""
    model = small_model(name, **cfg)
    ids, lengths = make_batch([0, 4])
    with torch.no_grad():
        zeros = torch.zeros(1, model.fc.in_features if name != "bow" else model.config.embed_dim)
        head = model.fc(model.hidden(zeros)) if name == "bow" else model.fc(zeros)
        assert torch.allclose(model(ids, lengths)[:1], head, atol=1e-6)


@pytest.mark.filterwarnings("ignore:cnn embedding_mode")
@pytest.mark.parametrize("name,cfg", ALL_MODELS, ids=ALL_IDS)
def test_extra_pad_columns_never_change_logits(name, cfg):
    model = small_model(name, **cfg)
    for width in (None, 2):  # T=2 is below the CNN's largest kernel (4): its own-padding path
        lengths = LENGTHS if width is None else [min(n, width) for n in LENGTHS]
        ids, lens = make_batch(lengths, width=width)
        base = model(ids, lens)
        for extra in (1, 6):
            wider = F.pad(ids, (0, extra), value=PAD_ID)  # (B, T + extra)
            assert torch.allclose(model(wider, lens), base, atol=1e-5), (width, extra)


@pytest.mark.filterwarnings("ignore:cnn embedding_mode")
@pytest.mark.parametrize("name,cfg", ALL_MODELS, ids=ALL_IDS)
def test_each_row_scores_as_if_alone(name, cfg):
    """Batch composition, row order (packing sorts) and the batch's T never leak into a row."""
    model = small_model(name, **cfg)
    ids, lengths = make_batch(LENGTHS)
    batched = model(ids, lengths)
    for i, n in enumerate(LENGTHS):
        alone = model(ids[i : i + 1, : max(n, 1)], lengths[i : i + 1])
        assert torch.allclose(alone, batched[i : i + 1], atol=1e-5), (i, n)


@pytest.mark.filterwarnings("ignore:cnn embedding_mode")
@pytest.mark.parametrize("name,cfg", ALL_MODELS, ids=ALL_IDS)
def test_pad_embedding_row_is_never_read(name, cfg):
    model = small_model(name, **cfg)
    ids, lengths = make_batch(LENGTHS)
    base = model(ids, lengths)
    tables = [m for m in model.modules() if isinstance(m, (nn.Embedding, nn.EmbeddingBag))]
    assert tables and all(t.padding_idx == PAD_ID for t in tables)
    with torch.no_grad():
        for table in tables:
            table.weight[PAD_ID] = 1e3
    assert torch.allclose(model(ids, lengths), base, atol=1e-5)


@pytest.mark.parametrize("name", TEXT_MODELS)
def test_every_model_overfits_a_small_batch(name):
    """Default configs, 16 examples, 4 classes: 100% train accuracy within 300 Adam steps."""
    torch.manual_seed(0)
    lengths = [int(n) for n in torch.randint(3, 12, (16,))]
    ids, lens = make_batch(lengths, seed=1)
    labels = torch.arange(16) % 4
    model = build_model(name, vocab_size=VOCAB, num_classes=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for step in range(300):
        model.train()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(ids, lens), labels).backward()
        optimizer.step()
        model.apply_constraints()
        if step % 10 == 9:
            model.eval()
            with torch.no_grad():
                accuracy = (model(ids, lens).argmax(1) == labels).float().mean().item()
            if accuracy == 1.0:
                break
    assert accuracy == 1.0, f"{name} reached only {accuracy:.0%} after {step + 1} steps"


# -- config, registry, rebuild -----------------------------------------------------
@pytest.mark.filterwarnings("ignore:cnn embedding_mode")
@pytest.mark.parametrize("name,cfg", ALL_MODELS, ids=ALL_IDS)
def test_rebuild_from_json_config_restores_the_model(name, cfg):
    model = small_model(name, **cfg)
    saved = json.loads(json.dumps(model.get_config()))
    assert saved == model.get_config()  # JSON-native: no tuples to turn into lists
    rebuilt = build_model(**saved).eval()
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    rebuilt.load_state_dict(model.state_dict())
    ids, lengths = make_batch(LENGTHS)
    assert torch.equal(rebuilt(ids, lengths), model(ids, lengths))
    # The other documented form: the name and sizes, plus the config dataclass.
    again = build_model(name, vocab_size=VOCAB, num_classes=CLASSES, **asdict(model.config))
    assert again.config == model.config


def test_min_length_follows_the_largest_kernel():
    assert small_model("bow").min_length == 1
    assert small_model("rnn").min_length == 1
    assert build_model("cnn", vocab_size=VOCAB, num_classes=2).min_length == 5
    assert small_model("cnn", kernel_sizes=[2, 7]).min_length == 7
    assert small_model("cnn", kernel_sizes=[2, 7], wide=True).min_length == 1  # pads inside the conv


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ValueError, match=r"unknown model 'cnnn' \(did you mean 'cnn'\?\); choices: bow, cnn, rnn, grid"):
        build_model("cnnn", vocab_size=VOCAB, num_classes=2)
    with pytest.raises(ValueError, match=r"unknown model 'transformer'; choices: bow, cnn, rnn, grid"):
        build_model("transformer", vocab_size=VOCAB, num_classes=2)


def test_unknown_config_key_names_itself_and_the_valid_ones():
    with pytest.raises(
        TypeError,
        match=r"unknown config key 'kernel_size' for model 'cnn' \(did you mean 'kernel_sizes'\?\); "
        r"valid keys: embed_dim, kernel_sizes, num_filters, dropout, max_norm, embedding_mode, wide",
    ):
        build_model("cnn", vocab_size=VOCAB, num_classes=2, kernel_size=3)
    with pytest.raises(TypeError, match=r"unknown config key 'bidirectinal' for model 'rnn' \(did you mean 'bidirectional'"):
        build_model("rnn", vocab_size=VOCAB, num_classes=2, bidirectinal=False)


@pytest.mark.parametrize(
    "name,options,message",
    [
        ("cnn", {"dropout": 1.5}, r"CNNConfig.dropout must be a number in \[0.0, 1.0\), got 1.5"),
        ("cnn", {"kernel_sizes": ()}, r"CNNConfig.kernel_sizes must be a non-empty tuple of ints, got \(\)"),
        ("cnn", {"kernel_sizes": (3, 0)}, r"CNNConfig.kernel_sizes\[...\] must be an int >= 1, got 0"),
        ("cnn", {"embedding_mode": "static-ish"}, r"CNNConfig.embedding_mode must be one of \('rand', 'static', "),
        ("cnn", {"max_norm": 0}, r"CNNConfig.max_norm must be > 0 or None, got 0"),
        ("cnn", {"wide": "yes"}, r"CNNConfig.wide must be True or False, got 'yes'"),
        ("rnn", {"cell": "transformer"}, r"RNNConfig.cell must be one of \('lstm', 'gru'\), got 'transformer'"),
        ("rnn", {"pooling": "min"}, r"RNNConfig.pooling must be one of \('last', 'max', 'mean', 'attention'\)"),
        ("rnn", {"bidirectional": 1}, r"RNNConfig.bidirectional must be True or False, got 1"),
        ("rnn", {"num_layers": 0}, r"RNNConfig.num_layers must be an int >= 1, got 0"),
        ("bow", {"embed_dim": 2.5}, r"BOWConfig.embed_dim must be an int >= 1, got 2.5"),
        ("bow", {"hidden_dim": 0}, r"BOWConfig.hidden_dim must be an int >= 1, got 0"),
        ("bow", {"pooling": "max"}, r"BOWConfig.pooling must be one of"),
    ],
)
def test_bad_config_values_are_named(name, options, message):
    with pytest.raises(ValueError, match=message):
        build_model(name, vocab_size=VOCAB, num_classes=2, **options)


def test_bad_sizes_are_named():
    with pytest.raises(ValueError, match=r"build_model: vocab_size must be an int >= 2, got 1"):
        build_model("bow", vocab_size=1, num_classes=2)
    with pytest.raises(ValueError, match=r"build_model: num_classes must be an int >= 1, got 0"):
        build_model("bow", vocab_size=VOCAB, num_classes=0)


def test_bad_inputs_are_named():
    model = small_model("bow")
    with pytest.raises(ValueError, match=r"ids must be \(B, T\), got shape \(5,\)"):
        model(torch.ones(5, dtype=torch.long), torch.ones(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"lengths must be \(B,\) = \(2,\), got shape \(3,\)"):
        model(torch.ones(2, 4, dtype=torch.long), torch.ones(3, dtype=torch.long))


# -- pretrained embeddings -----------------------------------------------------------
def vectors(dim: int = 6, rows: int = VOCAB) -> torch.Tensor:
    v = torch.randn(rows, dim, generator=torch.Generator().manual_seed(3))
    v[PAD_ID] = 0
    return v


def one_step(model: nn.Module) -> None:
    ids, lengths = make_batch([5, 3, 4, 2], seed=2)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=0.1)
    model.train()
    F.cross_entropy(model(ids, lengths), torch.tensor([0, 1, 0, 1])).backward()
    optimizer.step()


def test_cnn_static_embedding_stays_frozen():
    v = vectors()
    model = build_model("cnn", vocab_size=VOCAB, num_classes=2, embedding_mode="static", embeddings=v)
    assert model.config.embed_dim == 6  # taken from the vectors, so the config rebuilds it
    assert torch.equal(model.embedding.weight, v)
    conv_before = model.convs[0].weight.detach().clone()
    one_step(model)
    assert not model.embedding.weight.requires_grad
    assert torch.equal(model.embedding.weight, v)
    assert not torch.equal(model.convs[0].weight, conv_before)  # the rest did train


def test_cnn_non_static_fine_tunes_the_vectors():
    v = vectors()
    model = build_model("cnn", vocab_size=VOCAB, num_classes=2, embedding_mode="non-static", embeddings=v)
    assert torch.equal(model.embedding.weight, v)
    one_step(model)
    assert not torch.equal(model.embedding.weight, v)
    assert torch.equal(model.embedding.weight[PAD_ID], torch.zeros(6))  # padding_idx: no gradient


def test_cnn_multichannel_has_one_frozen_and_one_trained_channel():
    v = vectors()
    model = build_model("cnn", vocab_size=VOCAB, num_classes=2, embedding_mode="multichannel", embeddings=v)
    assert model.convs[0].in_channels == 2 * 6
    assert torch.equal(model.static_embedding.weight, v) and torch.equal(model.embedding.weight, v)
    one_step(model)
    assert torch.equal(model.static_embedding.weight, v)
    assert not torch.equal(model.embedding.weight, v)


def test_cnn_embedding_mode_and_vectors_must_agree():
    with pytest.raises(ValueError, match=r"embedding_mode='rand' ignores pretrained embeddings; use 'non-static'"):
        build_model("cnn", vocab_size=VOCAB, num_classes=2, embeddings=vectors())
    with pytest.warns(UserWarning, match=r"cnn embedding_mode='static' freezes an embedding but no `embeddings`"):
        build_model("cnn", vocab_size=VOCAB, num_classes=2, embedding_mode="static")
    with pytest.raises(ValueError, match=r"cnn: embeddings have dimension 6, but embed_dim is 8"):
        build_model("cnn", vocab_size=VOCAB, num_classes=2, embedding_mode="static", embeddings=vectors(), embed_dim=8)
    with pytest.raises(ValueError, match=r"rnn: embeddings have 10 rows, expected 50 \(vocab_size\)"):
        build_model("rnn", vocab_size=VOCAB, num_classes=2, embeddings=vectors(rows=10))


def test_bow_and_rnn_take_vectors_and_can_freeze_them():
    v = vectors()
    rnn = build_model("rnn", vocab_size=VOCAB, num_classes=2, embeddings=v, freeze_embeddings=True)
    one_step(rnn)
    assert torch.equal(rnn.embedding.weight, v)
    # bow: the word vectors fill the first rows; the hashed n-gram rows after them keep their init.
    bow = build_model("bow", vocab_size=VOCAB + 30, num_classes=2, embeddings=v)
    assert torch.equal(bow.embedding.weight[:VOCAB], v)
    assert bow.embedding.weight[VOCAB:].abs().max() <= 1 / 6
    one_step(bow)
    assert not torch.equal(bow.embedding.weight[:VOCAB], v)


def test_cnn_max_norm_clips_output_rows():
    model = small_model("cnn", max_norm=3.0)
    with torch.no_grad():
        model.fc.weight.normal_()
        model.fc.weight[0] *= 10 / model.fc.weight[0].norm()  # too long: clipped to 3
        model.fc.weight[1] *= 1 / model.fc.weight[1].norm()  # short enough: untouched
    row1 = model.fc.weight[1].clone()
    model.apply_constraints()
    norms = model.fc.weight.detach().norm(dim=1)
    assert norms.max() <= 3.0 + 1e-5
    assert norms[0].item() == pytest.approx(3.0, rel=1e-4)
    assert torch.equal(model.fc.weight[1], row1)

    unconstrained = small_model("cnn", max_norm=None)
    with torch.no_grad():
        unconstrained.fc.weight.mul_(1000)
    before = unconstrained.fc.weight.clone()
    unconstrained.apply_constraints()
    assert torch.equal(unconstrained.fc.weight, before)


@pytest.mark.parametrize("k", [2, 3])
def test_cnn_wide_is_narrow_over_k_minus_1_pads_at_each_end(k):
    """A wide convolution scores a text exactly as a narrow one scores the same text with k-1
    zero tokens written at both ends: each token, the first included, fills all k slots of a
    window. One kernel size, so the narrow model has no smaller kernel to see extra all-pad
    windows."""
    wide = small_model("cnn", kernel_sizes=(k,), wide=True)
    narrow = small_model("cnn", kernel_sizes=(k,))
    narrow.load_state_dict(wide.state_dict())  # Conv1d padding is not a weight: same parameters
    ids, lengths = make_batch([1, 4, 9])
    framed = torch.full((3, ids.shape[1] + 2 * (k - 1)), PAD_ID, dtype=torch.long)
    framed[:, k - 1 : k - 1 + ids.shape[1]] = ids
    # the narrow model reads pads at the front as real zero tokens: the PAD row is zero
    assert torch.allclose(wide(ids, lengths), narrow(framed, lengths + 2 * (k - 1)), atol=1e-6)
    # which is not what the narrow model makes of the bare text
    assert not torch.allclose(wide(ids, lengths), narrow(ids, lengths))


@pytest.mark.parametrize("name", ["bow", "rnn"])
def test_apply_constraints_is_a_no_op_elsewhere(name):
    model = small_model(name)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.apply_constraints()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


# -- model-specific ------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_bidirectional_last_joins_forward_end_and_backward_start(cell):
    model = small_model("rnn", cell=cell, bidirectional=True, pooling="last")
    ids, lengths = make_batch([6], width=9)  # three pads the RNN must not run over
    H = model.config.hidden_dim
    with torch.no_grad():
        outputs, _ = model.rnn(model.embedding(ids[:, :6]))  # (1, 6, 2H), no padding at all
        expected = torch.cat([outputs[0, 5, :H], outputs[0, 0, H:]])  # forward at the end, backward at the start
        assert torch.allclose(model(ids, lengths)[0], model.fc(expected), atol=1e-5)


def test_rnn_accepts_int32_lengths():
    model = small_model("rnn")
    ids, lengths = make_batch([4, 2])
    # pack_padded_sequence wants int64 CPU lengths; int32 from another loader must still work.
    assert torch.allclose(model(ids, lengths.int()), model(ids, lengths))


def test_bow_mean_ignores_pads_and_handles_ngram_ids():
    model = build_model("bow", vocab_size=1000, num_classes=2, embed_dim=4).eval()
    ids = torch.tensor([[2, 999, 500, PAD_ID], [7, PAD_ID, PAD_ID, PAD_ID]])  # 999, 500: hashed n-gram ids
    lengths = torch.tensor([3, 1])
    table = model.embedding.weight
    expected = torch.stack([table[[2, 999, 500]].mean(0), table[7]])  # (B, E)
    assert torch.allclose(model(ids, lengths), model.fc(expected), atol=1e-6)
    model.config.pooling = "sqrt"  # sum / sqrt(length): L2-normalised bag, as TF-IDF uses
    expected = torch.stack([table[[2, 999, 500]].sum(0) / 3 ** 0.5, table[7]])
    assert torch.allclose(model(ids, lengths), model.fc(expected), atol=1e-6)


def test_bow_distinct_counts_each_id_once_per_text():
    model = build_model("bow", vocab_size=10, num_classes=2, embed_dim=3, distinct=True, pooling="sqrt").eval()
    ids = torch.tensor([[5, 3, 5, 5, 3, PAD_ID], [4, 4, PAD_ID, PAD_ID, PAD_ID, PAD_ID], [PAD_ID] * 6])
    lengths = torch.tensor([5, 2, 0])
    table = model.embedding.weight
    expected = torch.stack([(table[3] + table[5]) / 2 ** 0.5, table[4], torch.zeros(3)])
    assert torch.allclose(model(ids, lengths), model.fc(expected), atol=1e-6)


@pytest.mark.parametrize("distinct", [False, True])
def test_bow_trains_on_the_kept_ids_only_with_the_same_outputs_and_gradient(distinct):
    """Under autograd the ids go in flattened: a long text's pads and repeats cost no gradient rows."""
    model = build_model("bow", vocab_size=50, num_classes=3, embed_dim=4, distinct=distinct, pooling="sqrt",
                        sparse=True)
    ids = torch.tensor([[5, 3, 5, 5, 3, 9, 9, 9], [4, 4, 7, PAD_ID, PAD_ID, PAD_ID, PAD_ID, PAD_ID],
                        [PAD_ID] * 8])
    lengths = torch.tensor([8, 3, 0])
    with torch.no_grad():
        padded = model(ids, lengths)  # no gradient: the padded (B, T) form
    logits = model(ids, lengths)
    assert torch.allclose(logits, padded, atol=1e-6)
    logits.sum().backward()
    grad = model.embedding.weight.grad
    assert grad.is_sparse and grad._nnz() == (5 if distinct else 11)  # {3, 5, 9} and {4, 7}, or every real id
    table = model.embedding.weight.detach().clone().requires_grad_()
    rows = [[5, 3, 9], [4, 7], []] if distinct else [[5, 3, 5, 5, 3, 9, 9, 9], [4, 4, 7], []]
    pooled = torch.stack([table[r].sum(0) / max(len(r), 1) ** 0.5 for r in rows])
    model.fc(pooled).sum().backward()
    assert torch.allclose(grad.to_dense(), table.grad, atol=1e-6)


def test_bow_sparse_gradients_train_with_sparse_adam():
    torch.manual_seed(0)
    model = build_model("bow", vocab_size=VOCAB, num_classes=2, sparse=True)
    ids, lengths = make_batch([5, 3, 4, 2], seed=2)
    labels = torch.tensor([0, 1, 0, 1])
    dense = [p for n, p in model.named_parameters() if not n.startswith("embedding")]
    optimizers = [torch.optim.SparseAdam([model.embedding.weight], lr=0.05), torch.optim.Adam(dense, lr=0.05)]
    for _ in range(60):
        for opt in optimizers:
            opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(ids, lengths), labels).backward()
        assert model.embedding.weight.grad.is_sparse
        for opt in optimizers:
            opt.step()
    assert (model(ids, lengths).argmax(1) == labels).all()


# -- pooling -------------------------------------------------------------------------
def poisoned(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``x`` with inf and NaN written over every pad: a pooling that reads one shows it."""
    x = x.clone()
    x[~mask] = float("nan")
    x[~mask & (torch.arange(x.shape[1]) % 2 == 0)] = float("inf")
    return x


def test_masked_mean_and_max_read_only_real_positions():
    x = torch.arange(24, dtype=torch.float32).view(3, 4, 2).requires_grad_()
    mask = lengths_to_mask(torch.tensor([2, 0, 4]), 4)
    bad = poisoned(x, mask)
    mean, best = masked_mean(bad, mask), masked_max(bad, mask)
    assert torch.equal(mean, torch.tensor([[1.0, 2.0], [0.0, 0.0], [19.0, 20.0]]))
    assert torch.equal(best, torch.tensor([[2.0, 3.0], [0.0, 0.0], [22.0, 23.0]]))
    (mean.sum() + best.sum()).backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[1].abs().sum() == 0 and x.grad[0, 2:].abs().sum() == 0


def test_last_state_and_final_hidden():
    x = torch.arange(24, dtype=torch.float32).view(3, 4, 2)
    assert torch.equal(last_state(x, torch.tensor([2, 0, 4])), torch.tensor([[2.0, 3.0], [0.0, 0.0], [22.0, 23.0]]))
    h_n = torch.arange(4 * 3 * 2, dtype=torch.float32).view(4, 3, 2)  # 2 layers x 2 directions
    assert torch.equal(final_hidden(h_n, bidirectional=True), torch.cat([h_n[2], h_n[3]], dim=-1))
    assert torch.equal(final_hidden(h_n, bidirectional=False), h_n[3])


def test_attention_pooling_is_a_masked_weighted_mean():
    torch.manual_seed(0)
    pool = AttentionPooling(2, 5)
    x = torch.randn(3, 4, 2)
    mask = lengths_to_mask(torch.tensor([2, 0, 1]), 4)
    out = pool(poisoned(x, mask), mask)
    assert torch.isfinite(out).all()
    assert torch.equal(out[1], torch.zeros(2))
    assert torch.allclose(out[2], x[2, 0])  # one real position takes all the weight
    assert torch.allclose(out[0], pool(x[:1, :2], lengths_to_mask(torch.tensor([2]), 2))[0])


# -- sizes: counted from the config, limited before anything is allocated (issue #13) --------------
SIZE_VARIANTS = [(name, {}) for name in MODELS] + [("rnn", v) for v in RNN_VARIANTS] + [
    ("bow", {"hidden_dim": 8, "sparse": True}),
    ("cnn", {"embedding_mode": "multichannel", "kernel_sizes": (1, 2, 7)}),
    ("cnn", {"wide": True, "num_filters": 5}),
    ("rnn", {"num_layers": 3, "cell": "gru", "hidden_dim": 7}),
    ("rnn", {"num_layers": 2, "bidirectional": False, "pooling": "attention"}),
    ("grid", {"coords": False, "bag": False, "regions": (2, 3), "channels": (4, 6), "kernel_size": 5}),
]


@pytest.mark.filterwarnings("ignore:cnn embedding_mode")
@pytest.mark.parametrize("name,cfg", SIZE_VARIANTS, ids=[f"{n}-{'-'.join(map(str, c.values()))}" for n, c in SIZE_VARIANTS])
def test_count_parameters_is_what_the_built_model_holds(name, cfg):
    from textkit.models import count_parameters

    model = build_model(name, vocab_size=VOCAB, num_classes=CLASSES, **cfg)
    assert count_parameters(name, vocab_size=VOCAB, num_classes=CLASSES, **cfg) == \
        sum(t.numel() for t in model.state_dict().values())


@pytest.mark.parametrize("name, options", [
    ("bow", {"embed_dim": 1_000_000_000}),  # what a hand-edited config.json asked for: 172 GB
    ("cnn", {"num_filters": 10**7}),
    ("rnn", {"hidden_dim": 10**6}),
    ("grid", {"channels": (32, 10**7)}),
])
def test_a_model_past_the_parameter_limit_is_refused_before_allocating(name, options):
    key, value = next(iter(options.items()))
    shown = f"({', '.join(map(str, value))})" if isinstance(value, tuple) else str(value)
    with pytest.raises(ValueError, match=rf"build_model: model '{name}' would have [\d,]+ parameters \([\d,.]+ GiB "
                                         rf"as float32\), more than max_parameters=1,073,741,824 .*{key}="
                                         + shown.replace("(", r"\(").replace(")", r"\)")):
        build_model(name, vocab_size=VOCAB, num_classes=CLASSES, **options)


def test_the_parameter_limit_can_be_set_per_call():
    from textkit.models import count_parameters

    size = count_parameters("bow", vocab_size=VOCAB, num_classes=CLASSES, embed_dim=16)
    assert size == VOCAB * 16 + 16 * CLASSES + CLASSES
    assert build_model("bow", vocab_size=VOCAB, num_classes=CLASSES, embed_dim=16, max_parameters=size)
    with pytest.raises(ValueError, match=rf"would have {size:,} parameters .* more than max_parameters={size - 1:,}"):
        build_model("bow", vocab_size=VOCAB, num_classes=CLASSES, embed_dim=16, max_parameters=size - 1)


@pytest.mark.parametrize("name, options, message", [
    ("rnn", {"num_layers": 1_000_000}, r"RNNConfig.num_layers must be an int <= 64 "
                                       r"\(textkit.models.base.MAX_LAYERS\), got 1000000"),
    ("cnn", {"kernel_sizes": (3, 10**8)}, r"CNNConfig.kernel_sizes\[...\] must be an int <= 1024"),
    ("cnn", {"kernel_sizes": (3,) * 65}, r"CNNConfig.kernel_sizes must have at most 64 entries .*got 65"),
    ("grid", {"channels": (8,) * 65}, r"GridConfig.channels must have at most 64 entries"),
    ("grid", {"kernel_size": 2049}, r"GridConfig.kernel_size must be an int <= 1024"),
])
def test_sizes_that_are_few_parameters_but_huge_work_are_limited(name, options, message):
    # a million LSTM layers of width 1 is 16M parameters, and minutes of construction; a CNN
    # kernel 10**8 wide pads every batch to 10**8 columns
    started = time.perf_counter()
    with pytest.raises(ValueError, match=message):
        build_model(name, vocab_size=VOCAB, num_classes=CLASSES, embed_dim=1, **options)
    assert time.perf_counter() - started < 1


def test_num_classes_is_limited():
    with pytest.raises(ValueError, match=r"build_model: num_classes must be an int <= 100000 "
                                         r"\(textkit.models.base.MAX_CLASSES\), got 100001"):
        build_model("bow", vocab_size=VOCAB, num_classes=100_001, embed_dim=1)


# -- members=k: averaged models (models/ensemble.py) -----------------------------------------------
@pytest.mark.parametrize("name", ["bow", "cnn", "rnn"])
def test_averaged_model_is_the_mean_of_its_members_and_rebuilds_from_its_config(name):
    from textkit.models import count_parameters

    model = build_model(name, vocab_size=VOCAB, num_classes=CLASSES, members=3, **SMALL[name])
    ids, lengths = torch.randint(2, VOCAB, (4, 7)), torch.tensor([7, 5, 1, 3])
    model.eval()
    each = torch.stack([member(ids, lengths) for member in model.members])  # (3, B, C)
    assert not torch.allclose(each[0], each[1])  # each member has its own initialisation
    assert torch.allclose(model(ids, lengths), each.mean(0))
    model.train()
    assert model(ids, lengths).shape == (3, 4, CLASSES)  # one output per member, for one loss each
    config = json.loads(json.dumps(model.get_config()))
    assert config["members"] == 3 and config["name"] == name and model.name == name
    again = build_model(**config)
    again.load_state_dict(model.state_dict())
    assert count_parameters(name, vocab_size=VOCAB, num_classes=CLASSES, members=3, **SMALL[name]) == \
        sum(t.numel() for t in model.state_dict().values()) == \
        3 * count_parameters(name, vocab_size=VOCAB, num_classes=CLASSES, **SMALL[name])


def test_each_member_trains_as_its_own_run_would():
    """Summed losses and per-member clipping: member 0 of an averaged pair ends exactly where the
    same model, started from the same weights and trained alone on the same batches, ends."""
    from textkit.training import TrainConfig, train

    g = torch.Generator().manual_seed(0)
    rows = [torch.randint(2, VOCAB, (int(n),), generator=g).tolist() for n in torch.randint(1, 9, (40,), generator=g)]
    labels = [i % CLASSES for i in range(40)]
    config = TrainConfig(epochs=3, batch_size=8, lr=0.05, clip_norm=0.5, device="cpu", progress=False, seed=1)
    pair = build_model("bow", vocab_size=VOCAB, num_classes=CLASSES, members=2, embed_dim=16)
    alone = build_model("bow", vocab_size=VOCAB, num_classes=CLASSES, embed_dim=16)
    alone.load_state_dict(pair.members[0].state_dict())
    train(pair, (rows, labels), config=config)
    train(alone, (rows, labels), config=config)
    for name, value in alone.state_dict().items():
        assert torch.allclose(pair.members[0].state_dict()[name], value, atol=1e-6), name
    assert not torch.allclose(pair.members[0].fc.weight, pair.members[1].fc.weight)


@pytest.mark.parametrize("members", [0, 33, 2.0, True])
def test_bad_members_are_named(members):
    with pytest.raises(ValueError, match=rf"cnn: members must be an int from 1 to 32 .*got {members!r}"):
        build_model("cnn", vocab_size=VOCAB, num_classes=CLASSES, members=members)


def test_members_count_against_the_parameter_limit():
    from textkit.models import count_parameters

    one = count_parameters("bow", vocab_size=VOCAB, num_classes=CLASSES, embed_dim=16)
    assert build_model("bow", vocab_size=VOCAB, num_classes=CLASSES, embed_dim=16, members=2, max_parameters=2 * one)
    with pytest.raises(ValueError, match=rf"2 members of model 'bow' would have {2 * one:,} parameters "
                                         rf"\({one:,} each\), more than max_parameters={2 * one - 1:,}"):
        build_model("bow", vocab_size=VOCAB, num_classes=CLASSES, embed_dim=16, members=2, max_parameters=2 * one - 1)
