r"""The conditional pixel-shuffle denoising auto-encoder (cPSDAE) ``G(v, y)`` of Tables 2 and 3.

``forward(v, y)``:

1. pixel-unshuffle ``v`` ``(*batch, C, H, W)`` by ``r = factor`` to ``(*batch, C r^2, H/r, W/r)`` (the
   paper's "periodical pixel shuffling"; PyTorch calls this direction ``pixel_unshuffle``, same channel
   order as ``ppsolve.operators.PixelUnshuffle``), so that ``v`` is at the scale of the measurement ``y``;
2. encoder: ``Conv(4x4)-'SAME'-BatchNorm-ReLU`` blocks, ``C r^2 -> 128 -> 64 -> 32`` channels, stride 1;
3. concatenate ``y`` ``(*batch, y_channels, H/r, W/r)`` in the channel axis (``32 + y_channels``);
4. decoder: the same blocks, ``-> 64 -> 128``, then a last conv ``-> C r^2`` (see ``output``);
5. pixel-shuffle back to ``(*batch, C, H, W)``.

Any ``H, W`` divisible by ``r`` work (every conv keeps the size). Presets: ``CPSDAE.table2()`` (CUB-200-2011:
``r = 4``, 256x256x3 -> 64x64x48) and ``CPSDAE.table3()`` (CelebA: ``r = 2``, 64x64x3 -> 32x32x12, as the
table's first row says; the prose's "128x128x3 -> 32x32x48" contradicts the table). Both with a
3-channel ``y``; pass ``y_channels=1`` for a grey ``y`` (joint super-resolution and colorization), which may
then also be given without its channel axis, ``(*batch, H/r, W/r)``. With ``channels=1`` the same holds for
``v`` (and the output).

'SAME' with an even kernel. TensorFlow pads a stride-1 ``k x k`` 'SAME' convolution by ``(k - 1) // 2``
before and ``k // 2`` after -- for the tables' 4x4 kernels 1 pixel top/left, 2 bottom/right. PyTorch's
``padding=`` is symmetric only, so each conv here is a :class:`SameConv2d`: ``F.pad`` with that
asymmetric zero padding, then the convolution with ``padding=0``. With ``batch_norm=True`` the convs that
are followed by BatchNorm have no bias (BatchNorm's shift replaces it).

``output``: the last row of both tables is ``Conv(4, 4, 128, C r^2)-'SAME'-Batch_Norm-Relu``.

``"table"``
    Faithful: conv, BatchNorm, ReLU. The output is non-negative -- fine for images in ``[0, 1]`` -- but
    BatchNorm on the output re-normalises each channel's batch statistics, so in training mode the
    reconstruction of one image depends on the rest of the batch, and a dead ReLU unit gives zero output
    and zero gradient for its pixel.
``"linear"``
    The last conv is plain (with bias): ``G(v, y) = shuffle(conv(h))``.
``"residual"`` (the default)
    ``"linear"`` plus a skip connection from the input: ``G(v, y) = v + shuffle(conv(h))``. The network
    predicts the correction ``x - v``. This matches what the operator approximates, the proximal map
    ``x = F^{-1}(v) = v - dR(x)`` (eq. 7): the identity plus a correction that is small when ``v`` is
    already close to the image prior, as it is in late ADMM iterations. In training on ``(x + n, y)`` the
    target residual is ``-n``, zero-mean and unbounded in sign, which a ReLU output cannot represent. Residual
    learning of this kind (DnCNN and successors) trains faster and more stably than predicting the image
    directly, and with the skip the network starts near the identity instead of near a random map.

Use ``output="table"`` for a literal reproduction of the tables.
"""
from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import positive_int

__all__ = ["CPSDAE", "OUTPUTS", "SameConv2d"]

OUTPUTS = ("table", "linear", "residual")


class SameConv2d(nn.Conv2d):
    """Stride-1 convolution with TensorFlow's 'SAME' zero padding, also for even kernels.

    Pads ``(k - 1) // 2`` before and ``k // 2`` after in each spatial axis (4x4: 1 before, 2 after), then
    convolves with ``padding=0``; the output has the input's spatial size.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True):
        super().__init__(in_channels, out_channels, kernel_size, stride=1, padding=0, bias=bias)
        kh, kw = self.kernel_size
        self.same_padding = ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2)  # F.pad order: left, right, top, bottom

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.same_padding))

    def extra_repr(self) -> str:
        return super().extra_repr() + f", same_padding={self.same_padding}"


class CPSDAE(nn.Module):
    """``G(v, y)``: the conditional pixel-shuffle denoising auto-encoder (Tables 2-3). See the module notes.

    Parameters
    ----------
    factor: the pixel-shuffle scale ``r`` (``v`` is ``r`` times the size of ``y`` in each spatial axis).
    channels: ``C``, the channels of ``v`` and of the output.
    y_channels: the channels of the condition ``y`` (3 in the tables, 1 for a grey ``y``).
    encoder: output channels of the encoder convs (Tables 2-3: ``(128, 64, 32)``).
    decoder: output channels of the decoder convs before the last one (``(64, 128)``).
    kernel_size: of every conv (4 in the tables; 'SAME' padding).
    batch_norm: BatchNorm after every conv but (unless ``output="table"``) the last.
    output: ``"table"``, ``"linear"`` or ``"residual"`` (default; see the module notes).
    """

    def __init__(
        self,
        factor: int,
        channels: int = 3,
        y_channels: int = 3,
        encoder=(128, 64, 32),
        decoder=(64, 128),
        kernel_size: int = 4,
        batch_norm: bool = True,
        output: str = "residual",
    ):
        super().__init__()
        self.factor = positive_int(factor, "factor")
        self.channels = positive_int(channels, "channels")
        self.y_channels = positive_int(y_channels, "y_channels")
        kernel_size = positive_int(kernel_size, "kernel_size")
        encoder = tuple(positive_int(c, "encoder channels") for c in encoder)
        decoder = tuple(positive_int(c, "decoder channels") for c in decoder)
        if not encoder:
            raise ValueError("encoder: expected at least one conv")
        if output not in OUTPUTS:
            raise ValueError(f"output: expected one of {OUTPUTS}, got {output!r}")
        self.output = output
        self.batch_norm = bool(batch_norm)
        self.kernel_size = kernel_size
        self.encoder_channels, self.decoder_channels = encoder, decoder

        def block(cin: int, cout: int, norm: bool) -> nn.Sequential:
            layers = [SameConv2d(cin, cout, kernel_size, bias=not norm)]
            if norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.ReLU())
            return nn.Sequential(*layers)

        width = self.channels * self.factor**2
        self.unshuffle = nn.PixelUnshuffle(self.factor)
        chans = (width,) + encoder
        self.encoder = nn.Sequential(*(block(a, b, self.batch_norm) for a, b in pairwise(chans)))
        chans = (encoder[-1] + self.y_channels,) + decoder
        self.decoder = nn.Sequential(*(block(a, b, self.batch_norm) for a, b in pairwise(chans)))
        if output == "table":
            self.head = block(chans[-1], width, self.batch_norm)
        else:
            self.head = SameConv2d(chans[-1], width, kernel_size, bias=True)
        self.shuffle = nn.PixelShuffle(self.factor)
        if output == "residual":
            # start as the identity G(v, y) = v: with PyTorch's default initialisation the first correction
            # has a standard deviation of about 0.4, twice the training noise, and the early steps are
            # spent unlearning it
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @property
    def config(self) -> dict:
        """The constructor arguments, JSON-able (channel tuples as lists): ``CPSDAE(**net.config)`` builds the
        same architecture. ``ppsolve.train`` records it, and ``load_denoiser`` rebuilds the model from it."""
        return {
            "factor": self.factor,
            "channels": self.channels,
            "y_channels": self.y_channels,
            "encoder": list(self.encoder_channels),
            "decoder": list(self.decoder_channels),
            "kernel_size": self.kernel_size,
            "batch_norm": self.batch_norm,
            "output": self.output,
        }

    # -- presets -----------------------------------------------------------------------------------------
    @classmethod
    def table2(cls, **kwargs) -> CPSDAE:
        """Table 2 (CUB-200-2011): ``factor=4``, 256x256x3 -> 64x64x48, ``y`` 64x64x3. Keywords override."""
        kwargs = {"factor": 4, "channels": 3, "y_channels": 3, **kwargs}
        return cls(**kwargs)

    @classmethod
    def table3(cls, **kwargs) -> CPSDAE:
        """Table 3 (CelebA): ``factor=2``, 64x64x3 -> 32x32x12, ``y`` 32x32x3. Keywords override."""
        kwargs = {"factor": 2, "channels": 3, "y_channels": 3, **kwargs}
        return cls(**kwargs)

    # -- shapes ------------------------------------------------------------------------------------------
    def _split(self, t: torch.Tensor, channels: int, what: str, batch_ndim: int | None = None):
        """(batch, has_channel_axis) of ``t`` laid out as (*batch, channels, h, w) or, if channels == 1,
        (*batch, h, w). ``batch_ndim`` (known from ``v``) resolves the ambiguity for ``y``."""
        if batch_ndim is not None:
            if t.ndim == batch_ndim + 3 and t.shape[-3] == channels:
                return tuple(t.shape[:batch_ndim]), True
            if channels == 1 and t.ndim == batch_ndim + 2:
                return tuple(t.shape[:batch_ndim]), False
        elif t.ndim >= 3 and t.shape[-3] == channels:
            return tuple(t.shape[:-3]), True
        elif channels == 1 and t.ndim >= 2:
            return tuple(t.shape[:-2]), False
        layout = f"(*batch, {channels}, h, w)" + (" or (*batch, h, w)" if channels == 1 else "")
        raise ValueError(f"CPSDAE: {what} should be {layout}, got shape {tuple(t.shape)}")

    def forward(self, v: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        r = self.factor
        batch, _ = self._split(v, self.channels, "v")
        y_batch, _ = self._split(y, self.y_channels, "y", batch_ndim=len(batch))
        H, W = v.shape[-2:]
        if H % r or W % r:
            raise ValueError(f"CPSDAE: v's size {H}x{W} must be divisible by factor {r}")
        if tuple(y.shape[-2:]) != (H // r, W // r):
            raise ValueError(
                f"CPSDAE: y's size {tuple(y.shape[-2:])} must be v's size {(H, W)} divided by factor {r}: "
                f"{(H // r, W // r)}"
            )
        if y_batch != batch:
            raise ValueError(f"CPSDAE: batch shapes differ: v {batch}, y {y_batch}")
        v4 = v.reshape((-1, self.channels, H, W))
        y4 = y.reshape((-1, self.y_channels, H // r, W // r))
        h = self.encoder(self.unshuffle(v4))
        h = self.decoder(torch.cat([h, y4.to(h.dtype)], dim=1))
        out = self.shuffle(self.head(h))
        if self.output == "residual":
            out = v4 + out
        return out.reshape(v.shape)
