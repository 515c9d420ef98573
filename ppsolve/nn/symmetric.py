r"""Symmetric networks ``C = W W^T`` on the measurement space: the learned ``B = (beta I + A A^T)^{-1}``.

Both networks act on measurement-shaped tensors ``(*batch, C_meas, h, w)`` (a measurement with a channel
axis) or ``(*batch, h, w)`` (a grey measurement; a channel axis of 1 is added and removed internally). The
spatial size ``h x w`` is free: nothing in the parameterisation depends on it, so a network trained on one
image size applies to another (``LearnedInverse.load(..., allow_resize=True)``) -- faithfully only when the
footprint of ``C`` (``receptive_field``) fits in the grid it was trained on: wider, the loss only saw the
kernel folded onto that grid (circular padding) or never saw its outer taps act (zero padding).

``LinearSymmetricNet`` (the default, ``architecture="linear"``)
    ``C = F^T F`` with ``F`` one bank of ``K`` convolutions (``C_meas -> K`` channels, odd ``k x k``
    kernels, no bias, no activation) and ``F^T`` its *exact* adjoint, so ``C`` is linear, symmetric and
    positive semi-definite by construction: ``<C x, y> = <x, C y>`` to rounding and ``<C x, x> = ||F x||^2``.
    ``F x`` is the cross-correlation of the input, extended by ``k // 2`` on each side circularly or with
    zeros, with the kernels; ``F^T y`` is its exact adjoint (with circular padding the index is taken modulo
    the grid, also when the kernel is wider than the grid). Both are computed with FFTs (much faster than
    ``conv2d`` on CPUs for these shapes, and the same maps up to rounding). Which padding is an
    *architecture* choice: circular when the operator is periodic (then ``A A^T`` is circulant and so is
    ``B``, and a circular convolution is exactly the right model class), zero otherwise (``B`` is then only
    approximately shift-invariant away from the edges). The kernels are ``gain * raw`` with a fixed
    ``gain = sqrt(scale / (K C_meas))`` and ``raw`` initialised as a centred delta plus small seeded noise, so
    ``C`` starts near ``scale * I`` and the trained values are O(1); ``scale`` is a number the caller
    computes from ``A`` through ``A`` / ``A^T`` calls only (``LearnedInverse`` uses the best scalar fit
    ``E<e, B^{-1} e> / E||B^{-1} e||^2`` over a few noise probes). No spectrum, no dense matrix.

``PaperSymmetricNet`` (``architecture="paper"``, the paper's Table 4)
    ``C x = W0(relu(W1(relu(W1^T(relu(W0^T x))))))`` with 4 x 4 kernels, ``C_meas -> 32 -> 64 -> 32 ->
    C_meas`` channels, the transposed convolutions sharing the kernels ``W0``, ``W1`` of the convolutions,
    TensorFlow 'SAME' padding (for an even kernel 1 pixel before, 2 after; the transposed convolution is the
    exact adjoint of that padded convolution, as TensorFlow's ``conv2d_transpose`` with 'SAME' is), no
    biases (the table lists none; without them ``C(0) = 0`` and ``C`` is positively homogeneous). The ReLUs
    make it nonlinear and *not* symmetric, so it cannot serve as a CG preconditioner.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._validate import choice, count, int_tuple, positive_int, real_number

__all__ = ["ARCHITECTURES", "PADDINGS", "LinearSymmetricNet", "PaperSymmetricNet", "build_symmetric_net"]

ARCHITECTURES = ("linear", "paper")
PADDINGS = ("circular", "zero")


def _measurement_layout(measurement_shape) -> tuple[int, bool]:
    """(channels, has_channel_axis) of a measurement shape (h, w) or (C, h, w)."""
    shape = tuple(int(s) for s in measurement_shape)
    if len(shape) == 2:
        return 1, False
    if len(shape) == 3:
        return shape[0], True
    raise ValueError(
        f"measurement shape: the symmetric networks act on images (h, w) or (C, h, w), got {shape}; "
        "a learned inverse needs an operator whose output is an image"
    )


class _MeasurementNet(nn.Module):
    """Shape handling shared by the networks: (*batch, [C,] h, w) <-> (N, C, h, w)."""

    def __init__(self, measurement_shape):
        super().__init__()
        self.in_channels, self.channel_axis = _measurement_layout(measurement_shape)

    def _to4d(self, x: torch.Tensor):
        core = 3 if self.channel_axis else 2
        if x.ndim < core:
            raise ValueError(f"{type(self).__name__}: expected an input with at least {core} dimensions, got {tuple(x.shape)}")
        if self.channel_axis and x.shape[-3] != self.in_channels:
            raise ValueError(
                f"{type(self).__name__}: expected {self.in_channels} channels at axis -3, got shape {tuple(x.shape)}"
            )
        batch = x.shape[: x.ndim - core]
        return x.reshape((-1, self.in_channels) + tuple(x.shape[-2:])), batch

    def _from4d(self, y: torch.Tensor, batch):
        core = tuple(y.shape[1:]) if self.channel_axis else tuple(y.shape[2:])
        return y.reshape(tuple(batch) + core)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x4, batch = self._to4d(x)
        return self._from4d(self._forward4d(x4), batch)

    def _forward4d(self, x):
        raise NotImplementedError


def _circular_pad(x: torch.Tensor, p: int) -> torch.Tensor:
    """Pad the last two axes by ``p`` on each side with wrap-around, for any ``p`` (also ``p`` > size)."""
    if p == 0:
        return x
    h, w = x.shape[-2:]
    rows = torch.arange(-p, h + p, device=x.device) % h
    cols = torch.arange(-p, w + p, device=x.device) % w
    return x.index_select(-2, rows).index_select(-1, cols)


def _fold_matrix(length: int, k: int, dtype, device) -> torch.Tensor:
    """(length, k) 0/1 matrix putting tap ``m`` of a centred k-tap kernel at grid index ``(m - k // 2) mod length``."""
    fold = torch.zeros((length, k), dtype=dtype, device=device)
    taps = torch.arange(k, device=device)
    fold[(taps - k // 2) % length, taps] = 1.0
    return fold


class LinearSymmetricNet(_MeasurementNet):
    """``C = F^T F``: one bank of convolutions and its exact adjoint (see the module docstring).

    ``(F x)_q[n] = sum_i sum_m w[q, i, m] x_i[n + m - k // 2]`` (a cross-correlation, as ``conv2d``), with
    ``x`` extended circularly (index modulo the grid) or by zeros; ``F^T`` is its adjoint. Both are applied
    with FFTs on the measurement grid (circular) or on a grid of at least ``h + k // 2`` (zero padding, no
    wrap-around reaches the image); ``_direct_analysis`` / ``_direct_synthesis`` are the same maps written
    with ``conv2d`` (slow on CPUs for these shapes; kept as the reference the tests compare with).

    Parameters
    ----------
    measurement_shape : (h, w) or (C_meas, h, w): the operator's output shape (only C_meas is used).
    channels : K, the number of convolutions in ``F`` (default 16).
    kernel_size : odd k (default 7), independent of the image size.
    padding : "circular" or "zero".
    scale : the initial ``C`` is about ``scale * I``.
    init_noise : relative size of the random part of the initial kernels.
    edge : number of learned edge gains per side (default 0: none). With ``edge = r > 0``,
        ``C = D F^T F D`` with ``D`` a diagonal that is 1 except within ``r`` pixels of the border, where it is
        a product of learned factors, one per side and distance to that side (4 r numbers, initialised to 1,
        independent of the image size). Still symmetric positive semi-definite. For non-periodic operators,
        where ``B`` is larger near the border (``A A^T`` loses mass there), which no convolution can express.
    seed : seeds the initial kernels (a private ``torch.Generator``).
    dtype : parameter dtype.
    """

    def __init__(self, measurement_shape, channels: int = 16, kernel_size: int = 7, padding: str = "circular",
                 scale: float = 1.0, init_noise: float = 1e-2, edge: int = 0, seed: int = 0, dtype=torch.float32):
        super().__init__(measurement_shape)
        kernel_size = positive_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: expected an odd positive int, got {kernel_size}")
        self.channels, self.kernel_size = positive_int(channels, "channels"), kernel_size
        self.padding = choice(padding, "padding", PADDINGS)
        scale = real_number(scale, "scale", positive=True)
        init_noise = real_number(init_noise, "init_noise")
        self.edge = count(edge, "edge")
        k, c = self.kernel_size, self.in_channels
        gen = torch.Generator().manual_seed(int(seed))
        raw = torch.randn((self.channels, c, k, k), generator=gen, dtype=torch.float64) * init_noise
        raw[:, :, k // 2, k // 2] += 1.0  # every output channel starts near a delta on every input channel
        # the kernels are gain * raw with a fixed gain, so that the trained raw values are O(1) whatever the
        # operator's scale and one learning rate suits every operator
        self.register_buffer("gain", torch.tensor(math.sqrt(scale / (self.channels * c)), dtype=dtype))
        self.raw = nn.Parameter(raw.to(dtype))
        if self.edge:
            # (top, bottom, left, right) x distance to that side: D's factors are 1 + edge_raw
            self.edge_raw = nn.Parameter(torch.zeros((4, self.edge), dtype=dtype))

    def edge_diagonal(self, h: int, w: int) -> torch.Tensor | None:
        """The (h, w) diagonal ``D`` of the edge gains, or None without them."""
        if not self.edge:
            return None
        r, g = self.edge, 1.0 + self.edge_raw

        def profile(n, before, after):
            ones = torch.ones(n, dtype=g.dtype, device=g.device)
            m = min(r, n)
            head = torch.cat([before[:m], ones[m:]])
            tail = torch.cat([after[:m], ones[m:]]).flip(0)
            return head * tail

        return profile(h, g[0], g[1])[:, None] * profile(w, g[2], g[3])[None, :]

    @property
    def weight(self) -> torch.Tensor:
        """The kernels of ``F``, (K, C_meas, k, k)."""
        return self.gain * self.raw

    @property
    def receptive_field(self) -> int:
        """Width of ``C``'s kernel: ``C x`` at a pixel depends on pixels up to ``k - 1`` away."""
        return 2 * self.kernel_size - 1

    # -- FFT implementation ----------------------------------------------------------------------------------
    def _grid(self, h: int, w: int) -> tuple[int, int]:
        if self.padding == "circular":
            return h, w
        p = self.kernel_size // 2
        return max(h + p, 2 * p + 1), max(w + p, 2 * p + 1)

    def _spectrum(self, grid) -> torch.Tensor:
        """The half spectra (K, C_meas, L1, L2 // 2 + 1) of the kernels folded onto the ``grid``."""
        k, wt = self.kernel_size, self.weight
        rows = _fold_matrix(grid[0], k, wt.dtype, wt.device)
        cols = _fold_matrix(grid[1], k, wt.dtype, wt.device)
        return torch.fft.rfft2(rows @ wt @ cols.T)

    def analysis(self, x4: torch.Tensor) -> torch.Tensor:
        """``F D x``: (N, C_meas, h, w) -> (N, K, h, w) (``D = I`` without edge gains)."""
        h, w = x4.shape[-2:]
        d = self.edge_diagonal(h, w)
        if d is not None:
            x4 = x4 * d
        grid = self._grid(h, w)
        spec = self._spectrum(grid)
        u = torch.einsum("kiuv,niuv->nkuv", spec.conj(), torch.fft.rfft2(x4, s=grid))
        return torch.fft.irfft2(u, s=grid)[..., :h, :w]

    def synthesis(self, y4: torch.Tensor) -> torch.Tensor:
        """``D F^T y``: (N, K, h, w) -> (N, C_meas, h, w), the exact adjoint of ``analysis``."""
        h, w = y4.shape[-2:]
        grid = self._grid(h, w)
        spec = self._spectrum(grid)
        v = torch.einsum("kiuv,nkuv->niuv", spec, torch.fft.rfft2(y4, s=grid))
        out = torch.fft.irfft2(v, s=grid)[..., :h, :w]
        d = self.edge_diagonal(h, w)
        return out if d is None else out * d

    def _forward4d(self, x):
        h, w = x.shape[-2:]
        d = self.edge_diagonal(h, w)
        if d is not None:
            x = x * d
        grid = self._grid(h, w)
        spec = self._spectrum(grid)
        u = torch.einsum("kiuv,niuv->nkuv", spec.conj(), torch.fft.rfft2(x, s=grid))
        if self.padding == "zero":  # F x lives on the h x w image only: crop, then zero-extend again for F^T
            u = torch.fft.rfft2(torch.fft.irfft2(u, s=grid)[..., :h, :w], s=grid)
        v = torch.einsum("kiuv,nkuv->niuv", spec, u)
        out = torch.fft.irfft2(v, s=grid)[..., :h, :w]
        return out if d is None else out * d

    # -- direct reference (conv2d) ----------------------------------------------------------------------------
    def _pad(self, x):
        p = self.kernel_size // 2
        if self.padding == "circular":
            return _circular_pad(x, p)
        return F.pad(x, (p, p, p, p))

    def _direct_analysis(self, x4: torch.Tensor) -> torch.Tensor:
        d = self.edge_diagonal(*x4.shape[-2:])
        return F.conv2d(self._pad(x4 if d is None else x4 * d), self.weight)

    def _direct_synthesis(self, y4: torch.Tensor) -> torch.Tensor:
        out = F.conv2d(self._pad(y4), self.weight.flip(-2, -1).transpose(0, 1))
        d = self.edge_diagonal(*out.shape[-2:])
        return out if d is None else out * d

    def extra_repr(self):
        return (f"in_channels={self.in_channels}, channels={self.channels}, kernel_size={self.kernel_size}, "
                f"padding={self.padding!r}, edge={self.edge}")


def _same_pads(k: int) -> tuple[int, int]:
    """TensorFlow 'SAME' padding for stride 1: (before, after) = ((k - 1) // 2, k - 1 - (k - 1) // 2)."""
    return (k - 1) // 2, k - 1 - (k - 1) // 2


class PaperSymmetricNet(_MeasurementNet):
    """The paper's Table 4 network (see the module docstring): shared 4 x 4 kernels, ReLUs, 'SAME' padding.

    Parameters
    ----------
    measurement_shape : (h, w) or (C_meas, h, w).
    channels : the widths of the two hidden layers (default (32, 64), as in Table 4).
    kernel_size : default 4 (Table 4); 'SAME' padding is asymmetric for even sizes.
    scale : the weights are rescaled so that ``||C e|| ~ scale ||e||`` on a noise probe at initialisation.
    seed : seeds the initial weights.
    """

    def __init__(self, measurement_shape, channels=(32, 64), kernel_size: int = 4, scale: float = 1.0,
                 seed: int = 0, dtype=torch.float32):
        super().__init__(measurement_shape)
        c1, c2 = int_tuple(channels, "channels", length=2, minimum=1)
        k = positive_int(kernel_size, "kernel_size")
        scale = real_number(scale, "scale", positive=True)
        self.channels, self.kernel_size = (c1, c2), k
        gen = torch.Generator().manual_seed(int(seed))
        c0 = self.in_channels
        # W0: the convolution 32 -> C_meas (its transpose C_meas -> 32 is the first layer); W1: 64 -> 32.
        w0 = torch.randn((c0, c1, k, k), generator=gen, dtype=torch.float64) * math.sqrt(2.0 / (c1 * k * k))
        w1 = torch.randn((c1, c2, k, k), generator=gen, dtype=torch.float64) * math.sqrt(2.0 / (c2 * k * k))
        self.raw0 = nn.Parameter(w0.to(dtype))
        self.raw1 = nn.Parameter(w1.to(dtype))
        # The weights are gain * raw with one fixed gain: C is positively homogeneous of degree 4 in the
        # weights, so gain = (scale / ||C_raw e|| * ||e||)^(1/4) starts C at about scale * ||e|| on a noise probe
        # and keeps the trained raw values O(1) whatever the operator's scale.
        self.register_buffer("gain", torch.tensor(1.0, dtype=dtype))
        if self.raw0.is_meta:  # built only to read the parameter shapes (ppsolve.modelfile checks)
            return
        probe = torch.randn((2, c0, 16, 16), generator=gen, dtype=torch.float64).to(dtype)
        with torch.no_grad():
            response = float(self._forward4d(probe).norm() / probe.norm())
            if response > 0:
                self.gain.fill_((scale / response) ** 0.25)

    @property
    def w0(self) -> torch.Tensor:
        return self.gain * self.raw0

    @property
    def w1(self) -> torch.Tensor:
        return self.gain * self.raw1

    @property
    def receptive_field(self) -> int:
        """Width of ``C``'s footprint: four layers of ``k x k`` kernels."""
        return 4 * (self.kernel_size - 1) + 1

    def _conv(self, x, w):
        """'SAME' convolution (cross-correlation, as TensorFlow's conv2d) with ``w``: (out, in, k, k)."""
        before, after = _same_pads(self.kernel_size)
        return F.conv2d(F.pad(x, (before, after, before, after)), w)

    def _conv_t(self, y, w):
        """The exact adjoint of ``_conv(., w)``: a full transposed convolution, then crop the padding."""
        before, after = _same_pads(self.kernel_size)
        full = F.conv_transpose2d(y, w)
        h, v = full.shape[-2:]
        return full[..., before:h - after, before:v - after]

    def _forward4d(self, x):
        w0, w1 = self.w0, self.w1
        h = F.relu(self._conv_t(x, w0))
        h = F.relu(self._conv_t(h, w1))
        h = F.relu(self._conv(h, w1))
        return self._conv(h, w0)

    def extra_repr(self):
        return f"in_channels={self.in_channels}, channels={self.channels}, kernel_size={self.kernel_size}"


def build_symmetric_net(architecture: str, measurement_shape, **options) -> nn.Module:
    """``LinearSymmetricNet`` for ``"linear"``, ``PaperSymmetricNet`` for ``"paper"``."""
    if architecture == "linear":
        return LinearSymmetricNet(measurement_shape, **options)
    if architecture == "paper":
        return PaperSymmetricNet(measurement_shape, **options)
    raise ValueError(f"architecture: expected one of {ARCHITECTURES}, got {architecture!r}")
