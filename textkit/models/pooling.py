"""Masked reductions over time: ``(B, T, D)`` + mask ``(B, T)`` -> ``(B, D)``.

Every function here reads only positions where ``mask`` is True, so pads (whatever their
values, even inf or NaN) never reach the result, and a row with no real position (an
empty text) gives zeros, never NaN or -inf.
"""
from __future__ import annotations

import torch
from torch import nn


def lengths_to_mask(lengths: torch.Tensor, max_len: int) -> torch.Tensor:
    """``lengths (B,)`` -> ``(B, max_len)`` bool, True on the first ``lengths[i]`` positions."""
    steps = torch.arange(max_len, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)  # (B, T)


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``x (B, T, D)`` over the True positions of ``mask (B, T)`` -> ``(B, D)``."""
    # masked_fill rather than x * mask: 0 * inf would be NaN.
    total = x.masked_fill(~mask.unsqueeze(-1), 0.0).sum(dim=1)  # (B, D)
    count = mask.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1); empty rows divide 0 by 1
    return total / count.to(x.dtype)


def masked_max(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Max of ``x (B, T, D)`` over the True positions of ``mask (B, T)`` -> ``(B, D)``."""
    filled = x.masked_fill(~mask.unsqueeze(-1), float("-inf"))  # (B, T, D)
    best = filled.max(dim=1).values  # (B, D); -inf on empty rows
    # torch.where, not best * flag: -inf * 0 is NaN. The gradient into an empty row's
    # -inf slots is zero, because masked_fill blocks it.
    return torch.where(mask.any(dim=1, keepdim=True), best, torch.zeros_like(best))


def last_state(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x[i, lengths[i] - 1]`` for each row of ``x (B, T, D)`` -> ``(B, D)``; zeros when empty.

    For the outputs of a forward-running RNN over post-padded input; for a bidirectional RNN
    use :func:`final_hidden` (the backward direction ends at position 0, not here).
    """
    index = (lengths - 1).clamp(min=0)  # (B,)
    index = index.view(-1, 1, 1).expand(-1, 1, x.shape[-1])  # (B, 1, D)
    last = x.gather(1, index).squeeze(1)  # (B, D)
    return last.masked_fill((lengths == 0).unsqueeze(-1), 0.0)


def final_hidden(h_n: torch.Tensor, bidirectional: bool) -> torch.Tensor:
    """Top layer's final state from an RNN's ``h_n (layers * dirs, B, H)`` -> ``(B, dirs * H)``.

    ``h_n`` is laid out layer-major, direction-minor, so the top layer's forward state is
    ``h_n[-2]`` and its backward state ``h_n[-1]`` (which has read the row right to left,
    ending at its first token). With packed input both stop at each row's true length.
    """
    if bidirectional:
        return torch.cat([h_n[-2], h_n[-1]], dim=-1)  # (B, 2H)
    return h_n[-1]  # (B, H)


class AttentionPooling(nn.Module):
    """Additive attention pooling (Yang et al., 2016): a learned, masked weighted mean.

    ``score_t = v . tanh(W x_t + b)``; the softmax runs over real positions only.
    """

    def __init__(self, dim: int, attention_dim: int | None = None) -> None:
        super().__init__()
        attention_dim = attention_dim or dim
        self.project = nn.Linear(dim, attention_dim)
        self.score = nn.Linear(attention_dim, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x (B, T, D)``, ``mask (B, T)`` -> ``(B, D)``."""
        scores = self.score(torch.tanh(self.project(x))).squeeze(-1)  # (B, T)
        # The dtype's lowest finite value, not -inf: a row with no real position would
        # make softmax(-inf, ..., -inf) NaN. Pads then get weight exp(min - max) = 0 in a
        # real row, and uniform weight in an empty one, over values zeroed just below.
        scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        weights = torch.softmax(scores, dim=1)  # (B, T)
        # masked_fill, not x * mask: 0 * a NaN/inf pad would leak into the sum.
        values = x.masked_fill(~mask.unsqueeze(-1), 0.0)  # (B, T, D)
        return torch.bmm(weights.unsqueeze(1).to(values.dtype), values).squeeze(1)  # (B, D)
