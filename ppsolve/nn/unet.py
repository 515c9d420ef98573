r"""A small noise-conditional U-Net denoiser (DRUNet style), the ``natural-gray`` prior.

``x_hat = v - f(v, sigma)``: the noise is predicted by a U-Net (Ronneberger et al., 2015) in the form DRUNet
uses for plug-and-play restoration (Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser
Prior", TPAMI 2021): the noise standard deviation ``sigma`` enters as a constant extra input channel; each
level has ``blocks`` residual blocks ``h + conv(relu(conv(h)))``; a ``2 x 2`` convolution of stride 2 goes
down a level, a ``2 x 2`` transposed convolution of stride 2 comes back up, and skips are added. No batch
normalisation and no biases (bias-free networks generalise across noise levels, Mohan et al., ICLR 2020),
so the network is the same map in training and in evaluation.

Why a U-Net and not a plain DnCNN: the lower levels work on ``1/4`` and ``1/16`` of the pixels, so at the
cost per pixel of the dilated 7-layer DnCNN of 48 channels (``ppsolve.nn.dncnn``) the default U-Net has 5x
the parameters and a 51 x 51 window (the comparison, measured, is in ``docs/zoo.md``).

Shapes: ``(*batch, H, W)`` grey images (``channels=1``) or ``(*batch, C, H, W)``. ``multiple =
2^(levels - 1)``: an image whose size is not a multiple of it is padded at the bottom and right by repeating
its last row / column, and the output is cropped back. The map is equivariant to translations by multiples of
``multiple``; ``receptive_radius`` bounds how far an output pixel looks (``ppsolve.patches`` uses both for
exact tiling).
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from .._validate import int_tuple, positive_int
from ._layout import image_batch, noise_level_map

__all__ = ["SigmaUNet"]


class _ResBlock(nn.Module):
    """``h + conv(relu(conv(h)))``, two bias-free 3 x 3 convolutions; the second starts near zero."""

    def __init__(self, width: int):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        nn.init.kaiming_normal_(self.conv1.weight, nonlinearity="relu")
        nn.init.normal_(self.conv2.weight, std=1e-3)

    def forward(self, h):
        return h + self.conv2(F.relu(self.conv1(h)))


def _blocks(width: int, count: int) -> nn.Sequential:
    return nn.Sequential(*[_ResBlock(width) for _ in range(count)])


class SigmaUNet(nn.Module):
    """Noise-conditional residual U-Net denoiser ``forward(v, sigma) = v - f(v, sigma)``.

    Parameters
    ----------
    channels : image channels (1: grey, inputs may omit the channel axis).
    widths : feature width of each level, finest first (``len(widths)`` levels; default ``(32, 64, 128)``).
    blocks : residual blocks per level on the way down, at the bottom, and on the way up.

    ``sigma``: a float, or one value per image of the batch.
    """

    def __init__(self, channels: int = 1, widths=(32, 64, 128), blocks: int = 1):
        super().__init__()
        widths = int_tuple(widths, "SigmaUNet widths", minimum=1)
        self.channels = positive_int(channels, "SigmaUNet channels")
        self.widths, self.blocks = widths, positive_int(blocks, "SigmaUNet blocks")
        self.head = nn.Conv2d(self.channels + 1, widths[0], 3, padding=1, bias=False)
        nn.init.kaiming_normal_(self.head.weight, nonlinearity="linear")
        self.down_blocks = nn.ModuleList(_blocks(w, self.blocks) for w in widths[:-1])
        self.downs = nn.ModuleList(nn.Conv2d(a, b, 2, stride=2, bias=False) for a, b in zip(widths, widths[1:]))
        self.bottom = _blocks(widths[-1], self.blocks)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(b, a, 2, stride=2, bias=False)
                                 for a, b in zip(widths, widths[1:]))
        self.up_blocks = nn.ModuleList(_blocks(w, self.blocks) for w in widths[:-1])
        self.tail = nn.Conv2d(widths[0], self.channels, 3, padding=1, bias=False)
        nn.init.normal_(self.tail.weight, std=1e-3)  # the residual starts near 0: the identity map

    @property
    def config(self) -> dict:
        return {"channels": self.channels, "widths": list(self.widths), "blocks": self.blocks}

    @property
    def multiple(self) -> int:
        """Image sizes the levels divide evenly; the map commutes with translations by multiples of it."""
        return 2 ** (len(self.widths) - 1)

    @property
    def receptive_radius(self) -> int:
        """How far (in pixels, any direction) an output pixel's inputs lie: each 3 x 3 convolution at
        level ``l`` reaches ``2^l`` pixels further, each 2 x 2 step down from level ``l`` another ``2^l``; a
        step up adds nothing (a coarse pixel's four children lie inside its own footprint).
        ``tests/test_nn.py`` checks it against the support of the gradient, over every phase."""
        radius = 2  # head and tail
        for level in range(len(self.widths)):
            convs = 2 * self.blocks * (1 if level == len(self.widths) - 1 else 2)
            radius += convs * 2 ** level
            if level < len(self.widths) - 1:
                radius += 2 ** level  # the step down
        return radius

    def forward(self, v: torch.Tensor, sigma) -> torch.Tensor:
        t = image_batch(v, self.channels, type(self).__name__)
        H, W = t.shape[-2:]
        m = self.multiple
        if H % m or W % m:
            t = F.pad(t, (0, -W % m, 0, -H % m), mode="replicate")
        h = self.head(torch.cat([t, noise_level_map(t, sigma)], dim=1))
        skips = []
        for blocks, down in zip(self.down_blocks, self.downs):
            h = blocks(h)
            skips.append(h)
            h = down(h)
        h = self.bottom(h)
        for up, blocks, skip in zip(reversed(self.ups), reversed(self.up_blocks), reversed(skips)):
            h = blocks(up(h) + skip)
        out = t - self.tail(h)
        return out[..., :H, :W].reshape(v.shape)
