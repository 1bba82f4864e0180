"""Stage 3, ``list[str] -> list[int]``: PAD=0, UNK=1, ordering, limits, specials, OOV,
encode/decode, JSON round trip, bad input."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import textkit
from textkit.vocabulary import PAD_ID, PAD_TOKEN, UNK_ID, UNK_TOKEN, Vocab, hash_ngrams

ROWS = [["b", "a", "b", "c"], ["a", "d", "b"], ["e"]]  # b:3, a:2, c:1, d:1, e:1


def test_pad_and_unk_ids_are_fixed():
    assert (PAD_ID, UNK_ID) == (0, 1)
    assert (textkit.PAD_ID, textkit.UNK_ID) == (0, 1)
    vocab = Vocab.build(ROWS)
    assert vocab.itos[:2] == [PAD_TOKEN, UNK_TOKEN] == ["<pad>", "<unk>"]
    assert vocab[PAD_TOKEN] == PAD_ID and vocab[UNK_TOKEN] == UNK_ID


def test_order_is_frequency_desc_then_token():
    assert Vocab.build(ROWS).itos == ["<pad>", "<unk>", "b", "a", "c", "d", "e"]
    # input order does not matter: same counts, same ids
    assert Vocab.build(reversed([list(reversed(r)) for r in ROWS])) == Vocab.build(ROWS)


def test_min_freq():
    assert Vocab.build(ROWS, min_freq=2).itos == ["<pad>", "<unk>", "b", "a"]
    assert Vocab.build(ROWS, min_freq=4).itos == ["<pad>", "<unk>"]


@pytest.mark.parametrize("min_freq", [0, -1, 1.5, "2", None])
def test_bad_min_freq(min_freq):
    with pytest.raises(ValueError, match=rf"min_freq must be an int >= 1, got {min_freq!r}"):
        Vocab.build(ROWS, min_freq=min_freq)


def test_max_size_counts_pad_unk_and_specials():
    assert Vocab.build(ROWS, max_size=4).itos == ["<pad>", "<unk>", "b", "a"]
    assert len(Vocab.build(ROWS, max_size=4, specials=["<cls>"])) == 4
    assert Vocab.build(ROWS, max_size=4, specials=["<cls>"]).itos == ["<pad>", "<unk>", "<cls>", "b"]
    assert Vocab.build(ROWS, max_size=2).itos == ["<pad>", "<unk>"]
    assert len(Vocab.build(ROWS, max_size=100)) == 7  # a cap, not a target


@pytest.mark.parametrize("max_size, specials, match", [
    (1, (), r"max_size must be an int >= 2 \(PAD, UNK and 0 specials\), got 1"),
    (3, ("<cls>", "<sep>"), r"max_size must be an int >= 4 \(PAD, UNK and 2 specials\), got 3"),
    (5.0, (), r"max_size must be an int >= 2 .*got 5\.0"),
])
def test_bad_max_size(max_size, specials, match):
    with pytest.raises(ValueError, match=match):
        Vocab.build(ROWS, max_size=max_size, specials=specials)


def test_specials_come_right_after_pad_and_unk():
    vocab = Vocab.build(ROWS + [["<sep>"]], specials=["<cls>", "<sep>", "<pad>", "<unk>"])
    assert vocab.itos == ["<pad>", "<unk>", "<cls>", "<sep>", "b", "a", "c", "d", "e"]
    assert vocab.itos.count("<sep>") == 1  # a special seen in the text is not added twice
    with pytest.raises(ValueError, match=r"must be unique; repeated: \['<cls>'\]"):
        Vocab.build(ROWS, specials=["<cls>", "<cls>"])


def test_oov_maps_to_unk():
    vocab = Vocab.build(ROWS)
    assert vocab["zzz"] == UNK_ID
    assert vocab.encode(["a", "zzz", "b", ""]) == [3, UNK_ID, 2, UNK_ID]
    assert "zzz" not in vocab and "a" in vocab


def test_encode_decode_round_trip():
    vocab = Vocab.build(ROWS)
    tokens = ["e", "a", "b", "d", "c"]
    ids = vocab.encode(tokens)
    assert ids == [6, 3, 2, 5, 4]
    assert vocab.decode(ids) == tokens
    assert vocab.decode(np.array(ids)) == tokens      # numpy ints
    assert vocab.decode(torch.tensor(ids)) == tokens  # tensor elements
    assert vocab.decode([PAD_ID, UNK_ID]) == ["<pad>", "<unk>"]
    assert vocab.encode(iter(tokens)) == ids          # any iterable of tokens
    assert vocab.encode([]) == [] and vocab.decode([]) == []


@pytest.mark.parametrize("bad_id", [7, 100, -1])
def test_decode_out_of_range_names_the_id(bad_id):
    with pytest.raises(IndexError, match=rf"id {bad_id} is out of range for a vocabulary of size 7"):
        Vocab.build(ROWS).decode([2, bad_id])


def test_a_bare_string_is_not_a_token_list():
    vocab = Vocab.build(ROWS)
    with pytest.raises(TypeError, match=r"Vocab.encode expects a list of tokens, got a str 'abc'"):
        vocab.encode("abc")
    with pytest.raises(TypeError, match=r"token_lists\[1\] is a str 'a text'"):
        Vocab.build([["a"], "a text"])
    with pytest.raises(TypeError, match=r"Vocab.build expects a list of token lists, got a str"):
        Vocab.build("abc")


def test_json_round_trip():
    vocab = Vocab.build(ROWS + [["café", "東京", "😀", "a b"]], specials=["<cls>"])
    text = vocab.to_json()
    assert "café" in text and "東京" in text  # readable, not \\u-escaped
    assert json.loads(text) == {"type": "Vocab", "tokens": vocab.itos}
    restored = Vocab.from_json(text)
    assert restored == vocab and restored.itos == vocab.itos
    assert restored.encode(["東京", "zzz"]) == vocab.encode(["東京", "zzz"])
    assert Vocab.from_dict(vocab.to_dict()) == vocab


@pytest.mark.parametrize("data", [
    {"tokens": ["<pad>", "<unk>"]},
    {"type": "Vectors", "tokens": ["<pad>", "<unk>"]},
    {"type": "Vocab", "tokens": "<pad> <unk>"},
    ["<pad>", "<unk>"],
    None,
])
def test_from_dict_refuses_other_data(data):
    with pytest.raises(ValueError, match=r"expected a Vocab dict \{'type': 'Vocab', 'tokens': \[\.\.\.\]\}, got"):
        Vocab.from_dict(data)


def test_from_json_refuses_broken_json():
    with pytest.raises(ValueError):  # json.JSONDecodeError is a ValueError
        Vocab.from_json('{"type": "Vocab", "tokens": ["<pad>", ')


@pytest.mark.parametrize("tokens, match", [
    ([], r"must start with '<pad>', '<unk>' \(PAD_ID=0, UNK_ID=1\), got \[\]"),
    (["<unk>", "<pad>", "a"], r"must start with .*got \['<unk>', '<pad>'\]"),
    (["a", "b"], r"must start with .*got \['a', 'b'\]"),
    ("<pad><unk>", r"must start with"),
    (["<pad>", "<unk>", ""], r"tokens\[2\] must be a non-empty str, got ''"),
    (["<pad>", "<unk>", "a", 5], r"tokens\[3\] must be a non-empty str, got 5"),
    (["<pad>", "<unk>", "a", "b", "a"], r"must be unique; repeated: \['a'\]"),
])
def test_bad_constructor_input(tokens, match):
    with pytest.raises(ValueError, match=match):
        Vocab(tokens)


def test_table_behaviour():
    vocab = Vocab.build(ROWS)
    assert len(vocab) == 7 and list(vocab) == vocab.itos
    vocab.itos.append("x")  # a copy
    assert len(vocab) == 7
    assert Vocab(["<pad>", "<unk>", "x"]) == Vocab(("<pad>", "<unk>", "x"))
    assert Vocab(["<pad>", "<unk>", "x"]) != Vocab(["<pad>", "<unk>", "y"])
    assert "size=7" in repr(vocab)


def test_from_counts_equals_build():
    from collections import Counter

    counts = Counter(t for row in ROWS for t in row)
    assert Vocab.from_counts(counts, min_freq=1, max_size=5) == Vocab.build(ROWS, max_size=5)


def test_hash_ngrams_range_and_pinned_values():
    # crc32: the same on every machine, process and Python version (hash() is salted)
    assert hash_ngrams(["good movie", "a b"], buckets=1000, offset=10) == [513, 309]
    assert hash_ngrams([], buckets=1000, offset=10) == []
    many = hash_ngrams([f"w{i} w{i + 1}" for i in range(500)], buckets=7, offset=100)
    assert min(many) >= 100 and max(many) < 107 and len(set(many)) == 7
