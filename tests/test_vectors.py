"""Pretrained word vectors: every file format, the OOV policy, coverage and the errors."""
from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

from textkit.models import build_model
from textkit.vectors import load_vectors
from textkit.vocabulary import PAD_ID, UNK_ID, Vocab

VOCAB = Vocab(["<pad>", "<unk>", "the", "cat", "london", "Apple", "zebra"])
FILE = {  # what the vector files below hold (zebra is never in them)
    "the": [0.5, -1.0, 2.0],
    "cat": [1.5, 0.25, -0.75],
    "London": [3.0, 3.0, 3.0],
    "apple": [-2.0, 0.0, 1.0],
    "dog": [9.0, 9.0, 9.0],  # not in the vocabulary
}


def text_lines(entries: dict[str, list[float]]) -> list[str]:
    return [w + " " + " ".join(repr(x) for x in v) for w, v in entries.items()]


def write_text(path, entries=FILE, *, header=True, trailing=""):
    lines = text_lines(entries)
    if header:
        lines.insert(0, f"{len(entries)} {len(next(iter(entries.values())))}")
    path.write_text("".join(line + trailing + "\n" for line in lines), encoding="utf-8")
    return path


def write_binary(path, entries=FILE, *, newline=True, count=None):
    dim = len(next(iter(entries.values())))
    with open(path, "wb") as f:
        f.write(f"{count or len(entries)} {dim}\n".encode())
        for word, vec in entries.items():
            f.write(word.encode("utf-8") + b" " + struct.pack(f"<{dim}f", *vec) + (b"\n" if newline else b""))
    return path


def row(matrix, token):
    return matrix[VOCAB[token]].tolist()


def check_file_rows(matrix, coverage):
    assert matrix.shape == (len(VOCAB), 3) and matrix.dtype == torch.float32
    assert row(matrix, "the") == FILE["the"]
    assert row(matrix, "cat") == FILE["cat"]
    assert row(matrix, "london") == FILE["London"]  # lowercase fallback, file -> vocab
    assert row(matrix, "Apple") == FILE["apple"]  # lowercase fallback, vocab -> file
    assert torch.equal(matrix[PAD_ID], torch.zeros(3))
    assert (coverage.total, coverage.found, coverage.found_lowercase, coverage.dim) == (5, 4, 2, 3)
    assert coverage.vectors_read == 5
    assert coverage.missing_examples == ("zebra",)
    assert coverage.fraction == pytest.approx(0.8)


@pytest.mark.parametrize("format", ["auto", "word2vec"])
def test_word2vec_text_with_header(tmp_path, format):
    matrix, coverage = load_vectors(write_text(tmp_path / "w2v.txt"), VOCAB, format=format)
    check_file_rows(matrix, coverage)


@pytest.mark.parametrize("format", ["auto", "glove"])
def test_glove_without_header(tmp_path, format):
    matrix, coverage = load_vectors(write_text(tmp_path / "glove.txt", header=False), VOCAB, format=format)
    check_file_rows(matrix, coverage)


def test_fasttext_vec_with_trailing_spaces_and_crlf(tmp_path):
    path = write_text(tmp_path / "wiki.vec", trailing=" \r")
    check_file_rows(*load_vectors(path, VOCAB, format="fasttext"))
    check_file_rows(*load_vectors(path, VOCAB))


@pytest.mark.parametrize("name", ["vectors.bin", "vectors.dat"])  # .dat: auto must sniff, not trust the name
@pytest.mark.parametrize("newline", [True, False])
def test_word2vec_binary(tmp_path, name, newline):
    path = write_binary(tmp_path / name, newline=newline)
    check_file_rows(*load_vectors(path, VOCAB))
    check_file_rows(*load_vectors(path, VOCAB, format="word2vec-binary"))


def test_gzipped_files(tmp_path):
    for plain in (write_text(tmp_path / "a.txt"), write_binary(tmp_path / "b.bin")):
        packed = tmp_path / (plain.name + ".gz")
        packed.write_bytes(gzip.compress(plain.read_bytes()))
        check_file_rows(*load_vectors(packed, VOCAB))


def test_exact_match_beats_an_earlier_lowercase_one(tmp_path):
    entries = {"Cat": [7.0, 7.0, 7.0], "cat": [1.0, 2.0, 3.0], "CAT": [8.0, 8.0, 8.0]}
    matrix, coverage = load_vectors(write_text(tmp_path / "v.txt", entries), VOCAB)
    assert row(matrix, "cat") == [1.0, 2.0, 3.0]
    assert coverage.found_lowercase == 0


def test_without_lowercase_fallback_case_must_match(tmp_path):
    matrix, coverage = load_vectors(write_text(tmp_path / "v.txt"), VOCAB, lowercase_fallback=False)
    assert coverage.found == 2 and coverage.found_lowercase == 0
    assert set(coverage.missing_examples) == {"london", "Apple", "zebra"}


def test_oov_policy_uniform_is_seeded_and_bounded(tmp_path):
    path = write_text(tmp_path / "v.txt")
    a, _ = load_vectors(path, VOCAB, seed=1)
    b, _ = load_vectors(path, VOCAB, seed=1)
    c, _ = load_vectors(path, VOCAB, seed=2)
    missing = [UNK_ID, VOCAB["zebra"]]
    assert torch.equal(a, b)
    assert not torch.equal(a[missing], c[missing])
    assert a[missing].abs().max() <= 0.25 and a[missing].abs().min() > 0
    wide, _ = load_vectors(path, VOCAB, scale=2.0)
    assert wide[missing].abs().max() > 0.25
    zeros, _ = load_vectors(path, VOCAB, oov="zeros")
    assert torch.equal(zeros[missing], torch.zeros(2, 3))
    assert torch.equal(zeros[VOCAB["the"]], a[VOCAB["the"]])


def test_unk_vector_from_the_file_is_used_but_not_counted(tmp_path):
    path = write_text(tmp_path / "v.txt", {**FILE, "<unk>": [0.0, 1.0, 0.0]})
    matrix, coverage = load_vectors(path, VOCAB)
    assert matrix[UNK_ID].tolist() == [0.0, 1.0, 0.0]
    assert coverage.total == 5 and coverage.found == 4


def test_glove_token_with_spaces_and_nbsp(tmp_path):
    vocab = Vocab(["<pad>", "<unk>", ". . .", "a\xa0b"])
    path = tmp_path / "glove.txt"
    path.write_text(". . . 1.0 2.0\na\xa0b 3.0 4.0\n", encoding="utf-8")
    matrix, coverage = load_vectors(path, vocab, format="glove")
    assert matrix[2:].tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert coverage.found == 2


def test_coverage_report_reads_well(tmp_path):
    _, coverage = load_vectors(write_text(tmp_path / "w2v.txt"), VOCAB)
    assert str(coverage) == (
        "found 4 of 5 vocabulary tokens (80.0%) in w2v.txt (dim 3, 2 by lowercase); missing e.g. 'zebra'"
    )


def test_matrix_feeds_a_static_cnn(tmp_path):
    matrix, _ = load_vectors(write_text(tmp_path / "v.txt"), VOCAB)
    model = build_model("cnn", vocab_size=len(VOCAB), num_classes=2, embedding_mode="static", embeddings=matrix)
    assert model.config.embed_dim == 3
    assert torch.equal(model.embedding.weight, matrix)


# -- errors --------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"word vector file not found: .*nope\.vec"):
        load_vectors(tmp_path / "nope.vec", VOCAB)


def test_line_with_too_few_values_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("3 3\nthe 1 2 3\ncat 1 2\nzebra 1 2 3\n")
    with pytest.raises(ValueError, match=r"bad\.txt, line 3: expected 3 values after the word, got 2"):
        load_vectors(path, VOCAB)


def test_line_with_too_many_values_names_file_and_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("the 1 2\ncat 1 2\ndog 1 2 3\n")  # GloVe: the first line sets dim 2
    with pytest.raises(ValueError, match=r"bad\.txt, line 3: expected 2 values after the word, got 3"):
        load_vectors(path, VOCAB)


def test_value_that_is_not_a_number(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("the 1 2\ncat 1 x2\n")
    with pytest.raises(ValueError, match=r"bad\.txt, line 2: 'x2' is not a number"):
        load_vectors(path, VOCAB)


def test_truncated_binary_file(tmp_path):
    path = write_binary(tmp_path / "cut.bin")
    path.write_bytes(path.read_bytes()[:-7])  # cut into the last vector
    with pytest.raises(ValueError, match=r"cut\.bin: binary file is truncated: the header promises 5 vectors of dim 3, "
                       r"but the file ends inside vector 5 \('dog'\)"):
        load_vectors(path, VOCAB)
    short = write_binary(tmp_path / "short.bin", count=6)  # the header promises one more
    with pytest.raises(ValueError, match=r"ends inside vector 6"):
        load_vectors(short, VOCAB)


def test_header_expected_but_missing(tmp_path):
    with pytest.raises(ValueError, match=r"line 1: expected a header 'count dim', got 'the 0.5 -1.0 2.0\\n' "
                       r"\(GloVe files have no header: use format='glove'\)"):
        load_vectors(write_text(tmp_path / "glove.txt", header=False), VOCAB, format="word2vec")


def test_fasttext_bin_model_is_refused(tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(struct.pack("<ii", 793712314, 12) + b"\0" * 64)
    with pytest.raises(ValueError, match=r"model\.bin is a fastText \.bin model, not a vector file; use the \.vec"):
        load_vectors(path, VOCAB)


def test_empty_file_and_bad_options(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty\.txt: the file is empty"):
        load_vectors(empty, VOCAB)
    path = write_text(tmp_path / "v.txt")
    with pytest.raises(ValueError, match=r"format must be one of \('auto', 'word2vec', 'fasttext', 'glove', 'word2vec-binary'\), got 'txt'"):
        load_vectors(path, VOCAB, format="txt")
    with pytest.raises(ValueError, match=r"oov must be one of \('uniform', 'zeros'\), got 'normal'"):
        load_vectors(path, VOCAB, oov="normal")
    with pytest.raises(ValueError, match=r"scale must be a number > 0 for oov='uniform', got 0"):
        load_vectors(path, VOCAB, scale=0)


def test_binary_reader_refills_across_chunks(tmp_path, monkeypatch):
    """Words and vectors that straddle the reader's buffer refills still come out whole."""
    import textkit.vectors as vectors_module

    monkeypatch.setattr(vectors_module, "_CHUNK", 5)
    rng = np.random.default_rng(0)
    entries = {f"w{i}": rng.normal(size=3).astype(np.float32).tolist() for i in range(40)}
    entries["cat"] = FILE["cat"]
    matrix, coverage = load_vectors(write_binary(tmp_path / "v.bin", entries), VOCAB)
    assert row(matrix, "cat") == FILE["cat"] and coverage.vectors_read == 41
