r"""The MNIST denoising auto-encoder of the paper's Table 1 (appendix D.1), layer for layer.

=====  ========================================================  ===============
 in    layer (TensorFlow notation of the table)                   out
=====  ========================================================  ===============
28x28x1    Conv(5, 5, 1, 32)-Stride(2, 2)-'SAME'-Relu             14x14x32
14x14x32   Conv(5, 5, 32, 64)-Stride(2, 2)-'SAME'-Relu            7x7x64
7x7x64     Conv(5, 5, 64, 128)-Stride(2, 2)-'VALID'-Relu          2x2x128
2x2x128    Conv(2, 2, 128, 64)-Stride(1, 1)-'VALID'-None          1x1x64
1x1x64     Conv_trans(3, 3, 64, 128)-Stride(1, 1)-'VALID'-Relu    3x3x128
3x3x128    Conv_trans(5, 5, 128, 64)-Stride(1, 1)-'VALID'-Relu    7x7x64
7x7x64     Conv_trans(5, 5, 64, 32)-Stride(2, 2)-'SAME'-Relu      14x14x32
14x14x32   Conv_trans(5, 5, 32, 1)-Stride(2, 2)-'SAME'-Sigmoid    28x28x1
=====  ========================================================  ===============

PyTorch padding. 'VALID' is ``padding=0``. For the stride-2 5x5 'SAME' layers PyTorch's symmetric
``padding=2`` gives TensorFlow's output sizes (28 -> 14 -> 7 with ``floor((n + 4 - 5) / 2) + 1``), and the
transposed ones use ``padding=2, output_padding=1`` (``(n - 1) * 2 - 4 + 5 + 1 = 2 n``: 7 -> 14 -> 28).
TensorFlow pads these layers asymmetrically (1 before, 2 after), so the sampling grid is shifted by one
pixel relative to TensorFlow's; the sizes, the receptive fields and the parameter count are identical and
it makes no difference when training from scratch (there are no published weights to load). Every layer
has a bias: 620,609 parameters in all.

The bottleneck is a 64-vector (1x1x64, no activation), the output a sigmoid in ``(0, 1)``.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["DAE", "DAE_LAYER_SHAPES", "DAE_PARAMETERS"]

DAE_PARAMETERS = 620_609
# (C, H, W) after each of the eight rows of Table 1 (after its activation).
DAE_LAYER_SHAPES = (
    (32, 14, 14),
    (64, 7, 7),
    (128, 2, 2),
    (64, 1, 1),
    (128, 3, 3),
    (64, 7, 7),
    (32, 14, 14),
    (1, 28, 28),
)


class DAE(nn.Module):
    """Table 1's denoising auto-encoder for 28 x 28 grey images (MNIST).

    ``forward(x)`` takes ``(*batch, 28, 28)`` or ``(*batch, 1, 28, 28)`` and returns the same shape, values
    in ``(0, 1)``. ``encoder`` maps ``(N, 1, 28, 28)`` to the ``(N, 64, 1, 1)`` code, ``decoder`` back.
    Each of ``encoder`` and ``decoder`` is an ``nn.Sequential`` of four ``nn.Sequential(conv, activation)``
    blocks, one per row of the table (the code layer has ``nn.Identity`` as its activation).
    """

    IMAGE_SIZE = 28

    def __init__(self):
        super().__init__()

        def block(layer: nn.Module, act: nn.Module) -> nn.Sequential:
            return nn.Sequential(layer, act)

        self.encoder = nn.Sequential(
            block(nn.Conv2d(1, 32, 5, stride=2, padding=2), nn.ReLU()),  # 28 -> 14, 'SAME'
            block(nn.Conv2d(32, 64, 5, stride=2, padding=2), nn.ReLU()),  # 14 -> 7, 'SAME'
            block(nn.Conv2d(64, 128, 5, stride=2, padding=0), nn.ReLU()),  # 7 -> 2, 'VALID'
            block(nn.Conv2d(128, 64, 2, stride=1, padding=0), nn.Identity()),  # 2 -> 1, 'VALID', no activation
        )
        self.decoder = nn.Sequential(
            block(nn.ConvTranspose2d(64, 128, 3, stride=1, padding=0), nn.ReLU()),  # 1 -> 3, 'VALID'
            block(nn.ConvTranspose2d(128, 64, 5, stride=1, padding=0), nn.ReLU()),  # 3 -> 7, 'VALID'
            block(nn.ConvTranspose2d(64, 32, 5, stride=2, padding=2, output_padding=1), nn.ReLU()),  # 7 -> 14
            block(nn.ConvTranspose2d(32, 1, 5, stride=2, padding=2, output_padding=1), nn.Sigmoid()),  # 14 -> 28
        )

    @property
    def config(self) -> dict:
        """The constructor arguments (none: Table 1 fixes every layer), recorded by ``ppsolve.train`` so that
        ``load_denoiser`` rebuilds the model as ``DAE(**config)``."""
        return {}

    @property
    def layers(self) -> list[nn.Sequential]:
        """The eight (layer, activation) blocks in the order of Table 1's rows."""
        return list(self.encoder) + list(self.decoder)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.IMAGE_SIZE
        if x.ndim < 2 or tuple(x.shape[-2:]) != (n, n):
            raise ValueError(f"DAE: expected (*batch, 28, 28) or (*batch, 1, 28, 28), got {tuple(x.shape)}")
        shape = x.shape
        # Both layouts flatten the same way: a channel axis of 1 is just one more batch axis of size 1.
        out = self.decoder(self.encoder(x.reshape(-1, 1, n, n)))
        return out.reshape(shape)
