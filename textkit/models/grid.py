"""A 2-D CNN over a page's layout grid: where a word was printed can decide the class.

::

    ids (B, H, W, S) ─► EmbeddingBag over each cell's S slots (sum, PAD left out) ─► (B·H·W, E)
      ─► view (B, H, W, E) ─► permute (B, E, H, W) ─► + 2 coordinate channels (B, E+2, H, W)
      ─► per block: Conv2d(k, same padding) + GroupNorm(1) + ReLU (B, F, h, w) ─► MaxPool2d(2) between blocks
      ─► AdaptiveMaxPool2d(regions) (B, F, rh, rw) ─► flatten (B, F·rh·rw)
      ─► + the page's mean token embedding (B, E) ─► Dropout ─► Linear ─► (B, C)

The ids come from :class:`textkit.layout.LayoutPipeline`: token ids placed on an ``H x W`` grid
of the page with ``S`` slots per cell (``lengths`` counts the tokens placed; an empty cell holds
PAD only). Empty cells embed to zero vectors, like the zero padding of the convolutions, so
the blank margin of a page and the space outside it look alike.

Absolute position is the point ("this word *at the top*"), and a CNN ending in a global max
pool cannot see it: it answers the same wherever a pattern sits. Two things give it back:

* ``coords=True`` appends two channels holding each cell's row and column scaled to [-1, 1]
  (CoordConv, Liu et al. 2018), so a filter can fire for "this word, near the top";
* ``regions=(rh, rw)`` max-pools each of ``rh x rw`` page regions apart and keeps them apart
  in the flattened features, so the output layer weighs "seen in the top band" separately
  from "seen at the bottom". ``regions=(1, 1)`` is the global max pool.

Zero padding gives a third, unasked way: a filter that overlaps the border sees the zeros
beyond the page, which a mostly empty grid's normalized features do not look like, so a CNN
finds the page's edges (Islam et al. 2020, "How much position information do convolutional
neural networks encode?"). ``coords=False, regions=(1, 1)`` therefore still tells a page's
top from its bottom; ``padding="circular"`` on top of them (the page as a torus) is the truly
position-blind ablation: moved by a multiple of 4 rows, a page gives the very same logits.
scripts/layout_evidence.py measures all three on real pages.

``bag=True`` adds the page's words without their places: the mean of its token embeddings
(fastText's view of the page) beside the convolutional features, so evidence that is in the
words alone need not survive three convolutions to reach the output. On two 360/120/120
splits of the FARA forms it lifted test accuracy from 95.8 and 99.2 to 99.2 and 100.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..vocabulary import PAD_ID
from .base import (
    TextModel,
    check_bool,
    check_choice,
    check_count,
    check_float,
    check_int,
    check_kernel,
    copy_pretrained_,
    exporting,
)

PADDINGS = ("zeros", "circular")


@dataclass
class GridConfig:
    """Grid-CNN hyperparameters."""

    embed_dim: int = 32
    channels: tuple[int, ...] = (32, 64, 64)  # output channels of each conv block
    kernel_size: int = 3
    coords: bool = True  # two coordinate channels (row, column in [-1, 1])
    regions: tuple[int, int] = (4, 4)  # page regions pooled apart; (1, 1) = global max pool
    dropout: float = 0.3
    bag: bool = True  # also the mean of every token embedding of the page (its words, position-free)
    padding: str = "zeros"  # the convolutions' padding: "zeros", or "circular" (the page as a torus)

    def __post_init__(self) -> None:
        for name in ("channels", "regions"):
            if isinstance(getattr(self, name), list):  # JSON gives lists back
                setattr(self, name, tuple(getattr(self, name)))
        if not isinstance(self.channels, tuple) or not self.channels:
            raise ValueError(f"GridConfig.channels must be a non-empty tuple of ints, got {self.channels!r}")
        check_count("GridConfig", "channels", self.channels)
        for c in self.channels:
            check_int("GridConfig", "channels[...]", c, 1)
        if not isinstance(self.regions, tuple) or len(self.regions) != 2:
            raise ValueError(f"GridConfig.regions must be (rows, columns), got {self.regions!r}")
        for r in self.regions:
            check_int("GridConfig", "regions[...]", r, 1)
        check_int("GridConfig", "embed_dim", self.embed_dim, 1)
        check_kernel("GridConfig", "kernel_size", self.kernel_size)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"GridConfig.kernel_size must be odd (same padding keeps the grid's shape), "
                             f"got {self.kernel_size}")
        check_bool("GridConfig", "coords", self.coords)
        check_bool("GridConfig", "bag", self.bag)
        check_choice("GridConfig", "padding", self.padding, PADDINGS)
        check_float("GridConfig", "dropout", self.dropout, 0.0, 1.0, high_open=True)


class GridCNN(TextModel):
    """2-D CNN over a layout grid, with coordinate channels and region pooling."""

    name = "grid"
    inputs = "pages"
    config_class = GridConfig

    def __init__(self, vocab_size: int, num_classes: int, config: GridConfig,
                 embeddings: torch.Tensor | None = None) -> None:
        super().__init__(vocab_size, num_classes, config)
        # sum over a cell's slots in one fused op, without a (B, H, W, S, E) tensor; padding_idx
        # leaves PAD out of the sum whatever its row holds
        self.embedding = nn.EmbeddingBag(vocab_size, config.embed_dim, mode="sum", padding_idx=PAD_ID)
        if embeddings is not None:
            copy_pretrained_(self.embedding.weight, embeddings, what="grid")
        channels = [config.embed_dim + (2 if config.coords else 0), *config.channels]
        # Each page's feature maps normalized on their own (GroupNorm with one group): without a norm, training
        # sat on a plateau for 3-5 epochs on the FARA forms (a mostly empty grid gives small, badly scaled
        # activations); BatchNorm fixed that but failed with the few pages per batch of a few-shot run (valid
        # accuracy 0.45-0.55 from 1 page per class, against 0.65-0.90 with this norm, whose statistics do not
        # depend on the batch)
        self.convs = nn.ModuleList(nn.Conv2d(c_in, c_out, config.kernel_size, padding=config.kernel_size // 2,
                                             padding_mode=config.padding, bias=False)
                                   for c_in, c_out in zip(channels, channels[1:]))
        self.norms = nn.ModuleList(nn.GroupNorm(1, c) for c in config.channels)
        self.dropout = nn.Dropout(config.dropout)
        rh, rw = config.regions
        self.fc = nn.Linear(config.channels[-1] * rh * rw + (config.embed_dim if config.bag else 0), num_classes)

    @classmethod
    def count_parameters(cls, vocab_size: int, num_classes: int, config: GridConfig) -> int:
        E, k = config.embed_dim, config.kernel_size
        channels = [E + (2 if config.coords else 0), *config.channels]
        convs = sum(c_in * c_out * k * k for c_in, c_out in zip(channels, channels[1:]))  # no bias
        norms = sum(2 * c for c in config.channels)  # GroupNorm's weight and bias
        features = config.channels[-1] * config.regions[0] * config.regions[1] + (E if config.bag else 0)
        return vocab_size * E + convs + norms + features * num_classes + num_classes

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``ids (B, H, W, S)``, ``lengths (B,)`` -> logits ``(B, C)``."""
        if ids.dim() != 4:
            raise ValueError(f"grid: ids must be (B, H, W, S) from a LayoutPipeline, got shape {tuple(ids.shape)}")
        if lengths.shape != ids.shape[:1]:
            raise ValueError(f"lengths must be (B,) = ({ids.shape[0]},), got shape {tuple(lengths.shape)}")
        B, H, W, S = ids.shape
        if exporting():  # ONNX has no EmbeddingBag: the same sum of slots as a lookup
            x = F.embedding(ids.reshape(B * H * W, S), self.embedding.weight).sum(1)
        else:
            x = self.embedding(ids.reshape(B * H * W, S))  # (B·H·W, E): each cell's slots summed
        x = x.view(B, H, W, -1)  # (B, H, W, E)
        bag = x.sum(dim=(1, 2)) / lengths.clamp(min=1).unsqueeze(1).to(x.dtype) if self.config.bag else None  # (B, E)
        x = x.permute(0, 3, 1, 2)  # (B, E, H, W)
        if self.config.coords:
            x = torch.cat([x, coordinate_channels(B, H, W, x)], dim=1)  # (B, E+2, H, W)
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            if i:
                x = F.max_pool2d(x, 2, ceil_mode=True)  # (B, F, ceil(h/2), ceil(w/2))
            x = F.relu(norm(conv(x)))  # (B, F, h, w)
        pool = fixed_adaptive_max_pool2d if exporting() else F.adaptive_max_pool2d
        x = pool(x, self.config.regions).flatten(1)  # (B, F, rh, rw) -> (B, F·rh·rw)
        if bag is not None:
            x = torch.cat([x, bag], dim=1)  # (B, F·rh·rw + E)
        return self.fc(self.dropout(x))  # (B, C)


def fixed_adaptive_max_pool2d(x: torch.Tensor, regions: tuple[int, int]) -> torch.Tensor:
    """``F.adaptive_max_pool2d`` as the max over fixed windows (torch's: rows floor(i*h/r) to
    ceil((i+1)*h/r)), which ONNX exports; the grid's size is fixed, so the windows are too."""
    h, w = x.shape[-2:]
    rows = [(i * h // regions[0], -(-(i + 1) * h // regions[0])) for i in range(regions[0])]
    cols = [(j * w // regions[1], -(-(j + 1) * w // regions[1])) for j in range(regions[1])]
    return torch.stack([torch.stack([x[..., r0:r1, c0:c1].amax(dim=(-2, -1)) for c0, c1 in cols], dim=-1)
                        for r0, r1 in rows], dim=-2)  # (B, F, rh, rw)


def coordinate_channels(B: int, H: int, W: int, like: torch.Tensor) -> torch.Tensor:
    """``(B, 2, H, W)``: each cell's row and column, scaled to [-1, 1] (cell centres)."""
    rows = (torch.arange(H, device=like.device, dtype=like.dtype) + 0.5) * (2 / H) - 1  # (H,)
    cols = (torch.arange(W, device=like.device, dtype=like.dtype) + 0.5) * (2 / W) - 1  # (W,)
    grid = torch.stack([rows[:, None].expand(H, W), cols[None, :].expand(H, W)])  # (2, H, W)
    return grid.unsqueeze(0).expand(B, -1, -1, -1)
