"""Stage 4, id lists -> ``Batch``: shapes, dtypes, truncation, min/max length, empty
input, mask, device moves, and pad_ragged == pad_blocks == pad_sequences == a naive reference."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

import textkit
from textkit.padding import collate, pad_blocks, pad_ragged, pad_sequences
from textkit.vocabulary import PAD_ID


def test_pads_after_each_row_to_the_longest():
    ids, lengths = pad_sequences([[5, 6, 7], [8], [9, 10]])
    assert ids.tolist() == [[5, 6, 7], [8, PAD_ID, PAD_ID], [9, 10, PAD_ID]]
    assert lengths.tolist() == [3, 1, 2]
    assert ids.dtype == np.int64 and lengths.dtype == np.int64


def test_collate_gives_int64_tensors():
    batch = collate([[5, 6, 7], [8]], labels=[1, 0])
    assert isinstance(batch, textkit.Batch)
    assert batch.ids.dtype == torch.int64 and batch.lengths.dtype == torch.int64
    assert batch.labels.dtype == torch.int64 and batch.labels.tolist() == [1, 0]
    assert batch.ids.shape == (2, 3) and batch.lengths.shape == (2,) and len(batch) == 2
    assert collate([[5]]).labels is None


def test_empty_list_of_sequences():
    ids, lengths = pad_sequences([])
    assert ids.shape == (0, 1) and lengths.shape == (0,)
    assert ids.dtype == np.int64 and lengths.dtype == np.int64
    batch = collate([], labels=[])
    assert batch.ids.shape == (0, 1) and len(batch) == 0 and batch.mask.shape == (0, 1)


def test_empty_rows_have_length_zero():
    ids, lengths = pad_sequences([[], [5, 6], []])
    assert ids.tolist() == [[0, 0], [5, 6], [0, 0]]
    assert lengths.tolist() == [0, 2, 0]


@pytest.mark.parametrize("min_length, width", [(1, 1), (5, 5)])
def test_all_rows_empty_still_has_a_time_axis(min_length, width):
    ids, lengths = pad_sequences([[], []], min_length=min_length)
    assert ids.shape == (2, width) and not ids.any() and lengths.tolist() == [0, 0]


def test_min_length_raises_t_but_not_lengths():
    ids, lengths = pad_sequences([[5, 6], [7]], min_length=5)
    assert ids.tolist() == [[5, 6, 0, 0, 0], [7, 0, 0, 0, 0]]
    assert lengths.tolist() == [2, 1]
    ids, _ = pad_sequences([[1] * 8], min_length=5)
    assert ids.shape == (1, 8)  # a floor, not a cap


@pytest.mark.parametrize("longest", range(0, 7))
def test_a_kernel_5_cnn_never_sees_fewer_than_5_steps(longest):
    batch = collate([[3] * longest, [4]], min_length=5)
    assert batch.ids.shape[1] >= 5
    embedded = nn.Embedding(10, 4, padding_idx=PAD_ID)(batch.ids).transpose(1, 2)  # (B, E, T)
    assert nn.Conv1d(4, 2, kernel_size=5)(embedded).shape == (2, 2, batch.ids.shape[1] - 4)


def test_truncation_post_keeps_the_start():
    ids, lengths = pad_sequences([[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]], max_length=3)
    assert ids.tolist() == [[1, 2, 3], [6, 7, 0], [8, 9, 10]]
    assert lengths.tolist() == [3, 2, 3]


def test_truncation_pre_keeps_the_end():
    ids, lengths = pad_sequences([[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]], max_length=3, truncation="pre")
    assert ids.tolist() == [[3, 4, 5], [6, 7, 0], [8, 9, 10]]  # still post-padded
    assert lengths.tolist() == [3, 2, 3]


def test_max_length_does_not_pad_short_batches_up():
    ids, _ = pad_sequences([[1, 2], [3]], max_length=50)
    assert ids.shape == (2, 2)


def test_custom_pad_id():
    ids, _ = pad_sequences([[5, 6], [7]], pad_id=-1)
    assert ids.tolist() == [[5, 6], [7, -1]]


@pytest.mark.parametrize("options, match", [
    (dict(min_length=5, max_length=3), r"min_length \(5\) must not exceed max_length \(3\)"),
    (dict(truncation="end"), r"truncation must be one of \('post', 'pre'\), got 'end'"),
    (dict(truncation="POST"), r"truncation must be one of .*got 'POST'"),
    (dict(max_length=0), r"max_length must be a positive int or None, got 0"),
    (dict(max_length=2.5), r"max_length must be a positive int or None, got 2\.5"),
    (dict(min_length=0), r"min_length must be an int from 1 to 65,536 \(textkit.padding.MAX_MIN_LENGTH\), got 0"),
    (dict(min_length=None), r"min_length must be an int from 1 to 65,536 \(textkit.padding.MAX_MIN_LENGTH\), got None"),
])
def test_bad_options(options, match):
    with pytest.raises(ValueError, match=match):
        pad_sequences([[1, 2]], **options)
    with pytest.raises(ValueError, match=match):
        pad_ragged(np.array([1, 2]), np.array([2]), **options)


def test_mask_marks_real_tokens():
    batch = collate([[5, 6, 7], [8], []], min_length=4)
    assert batch.mask.dtype == torch.bool
    assert batch.mask.tolist() == [[True, True, True, False], [True, False, False, False], [False] * 4]
    assert torch.equal(batch.mask, batch.ids != PAD_ID)


def test_batch_is_immutable():
    batch = collate([[1]])
    with pytest.raises(dataclasses.FrozenInstanceError):
        batch.ids = torch.zeros(1, 1)


def test_to_moves_every_tensor_and_keeps_missing_labels():
    batch = collate([[5, 6], [7]], labels=[1, 0])
    moved = batch.to("meta")  # a real device change without a GPU
    assert moved.ids.device.type == moved.lengths.device.type == moved.labels.device.type == "meta"
    assert moved.ids.shape == (2, 2)
    same = batch.to("cpu")
    assert torch.equal(same.ids, batch.ids) and torch.equal(same.labels, batch.labels)
    assert collate([[1]]).to("meta").labels is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="pin_memory needs CUDA")
def test_pin_memory_and_cuda_copy():
    batch = collate([[5, 6], [7]], labels=[1, 0]).pin_memory()
    assert batch.ids.is_pinned() and batch.lengths.is_pinned() and batch.labels.is_pinned()
    assert collate([[1]]).pin_memory().labels is None
    on_gpu = batch.to("cuda", non_blocking=True)
    assert on_gpu.ids.is_cuda and on_gpu.mask.is_cuda
    assert on_gpu.ids.cpu().tolist() == [[5, 6], [7, 0]]


# -- property: pad_ragged == pad_blocks == pad_sequences == the obvious loop -----------------------
def reference(rows, max_length, min_length, truncation, pad_id=PAD_ID):
    kept = [r if max_length is None or len(r) <= max_length
            else (r[:max_length] if truncation == "post" else r[len(r) - max_length:]) for r in rows]
    width = max([len(k) for k in kept] + [min_length])
    return [k + [pad_id] * (width - len(k)) for k in kept], [len(k) for k in kept], width


def test_pad_ragged_equals_pad_sequences_on_random_inputs():
    rng = np.random.default_rng(12345)
    for _ in range(300):
        rows = [rng.integers(2, 1000, size=rng.integers(0, 13)).tolist() for _ in range(rng.integers(0, 9))]
        max_length = None if rng.random() < 0.3 else int(rng.integers(1, 11))
        min_length = int(rng.integers(1, (max_length or 10) + 1))
        truncation = str(rng.choice(["post", "pre"]))
        options = dict(max_length=max_length, min_length=min_length, truncation=truncation)

        expected_ids, expected_lengths, width = reference(rows, **options)
        ids, lengths = pad_sequences(rows, **options)
        flat = np.array([i for r in rows for i in r], dtype=np.int64)
        ragged_ids, ragged_lengths = pad_ragged(flat, np.array([len(r) for r in rows]), **options)
        cuts = sorted(rng.integers(0, len(rows) + 1, size=rng.integers(0, 4)).tolist())  # rows in blocks
        blocks = [rows[i:j] for i, j in zip([0, *cuts], [*cuts, len(rows)])]
        block_ids, block_lengths = pad_blocks([np.array([len(r) for r in b], dtype=np.int64) for b in blocks],
                                              (np.array([i for r in b for i in r], dtype=np.int64) for b in blocks),
                                              **options)

        assert ids.shape == ragged_ids.shape == block_ids.shape == (len(rows), width), options
        assert ids.tolist() == ragged_ids.tolist() == block_ids.tolist() == expected_ids, (rows, options)
        assert lengths.tolist() == ragged_lengths.tolist() == block_lengths.tolist() == expected_lengths, \
            (rows, options)


def test_a_min_length_that_would_pad_every_batch_to_gigabytes_is_refused():
    """A damaged pipeline.json saying min_length=10**9 would allocate gigabytes for every batch."""
    from textkit.pipeline import TextPipeline

    with pytest.raises(ValueError, match=r"min_length must be an int from 1 to 65,536 \(textkit.padding.MAX_MIN_LENGTH\), "
                                         r"got 1000000000"):
        TextPipeline(min_length=10**9)
