r"""A small residual convolutional denoiser for natural images (DnCNN / IRCNN style).

``x_hat = v - f(v)``: a stack of 3 x 3 convolutions (ReLU between them, no batch normalisation, so the
network is the same map in training and evaluation and is exactly translation-equivariant away from the
borders) predicts the noise ``v - x``, as in DnCNN (Zhang et al., TIP 2017). Dilated convolutions
(IRCNN, Zhang et al., CVPR 2017: dilations 1, 2, 3, 4, 3, 2, 1) give a receptive field of 33 x 33 with only
seven layers.

``DnCNN`` is *blind* (trained on a range of noise levels, no noise-level input); ``SigmaDnCNN`` takes the
noise level as an input. The ``natural-gray`` recipe trains either with ``--arch dncnn``; the zoo's
``natural-gray`` prior is the U-Net of ``ppsolve.nn.unet`` (``docs/zoo.md`` compares the two).

Zero padding keeps the output the size of the input; the receptive-field radius ``receptive_radius``
(16 for the default dilations) is how far from the border the output differs from that of the network run
on a larger image (used by ``ppsolve.patches``).
"""
from __future__ import annotations

import torch
from torch import nn

from .._validate import int_tuple, positive_int
from ._layout import image_batch, noise_level_map

__all__ = ["DnCNN", "SigmaDnCNN"]


class DnCNN(nn.Module):
    """Residual denoiser ``forward(v) = v - f(v)`` for ``(*batch, H, W)`` (grey, ``channels=1``) or
    ``(*batch, C, H, W)`` images; the output has the input's shape.

    Parameters
    ----------
    channels : image channels (1: grey, inputs may omit the channel axis).
    features : width of the hidden layers.
    dilations : one 3 x 3 convolution per entry, with that dilation (padding = dilation). Default: IRCNN's
        ``(1, 2, 3, 4, 3, 2, 1)``.
    """

    def __init__(self, channels: int = 1, features: int = 32, dilations=(1, 2, 3, 4, 3, 2, 1)):
        super().__init__()
        dilations = int_tuple(dilations, "DnCNN dilations", minimum=1)
        if len(dilations) < 2:
            raise ValueError(f"DnCNN dilations: need at least two layers, got {dilations}")
        self.channels = positive_int(channels, "DnCNN channels")
        self.features, self.dilations = positive_int(features, "DnCNN features"), dilations
        layers = []
        widths = [self.channels] + [self.features] * (len(dilations) - 1) + [self.channels]
        for i, d in enumerate(dilations):
            layers.append(nn.Conv2d(widths[i], widths[i + 1], 3, padding=d, dilation=d, bias=True))
            if i < len(dilations) - 1:
                layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """He (Kaiming) normal initialisation for the ReLU layers, zero biases, a small last layer (the
        residual starts near 0: the network starts as the identity). PyTorch's default initialisation
        shrinks the signal about 6x in variance per layer, so a plain 7-layer ReLU stack starts with
        vanishing gradients and trains many times slower."""
        convs = [m for m in self.body if isinstance(m, nn.Conv2d)]
        for conv in convs[:-1]:
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        nn.init.normal_(convs[-1].weight, std=1e-3)
        nn.init.zeros_(convs[-1].bias)

    @property
    def config(self) -> dict:
        return {"channels": self.channels, "features": self.features, "dilations": list(self.dilations)}

    @property
    def receptive_radius(self) -> int:
        """Half-width of the receptive field: output pixel p depends on inputs within this distance."""
        return sum(self.dilations)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        t = image_batch(v, self.channels, type(self).__name__)
        return (t - self.body(t)).reshape(v.shape)


class SigmaDnCNN(DnCNN):
    """The noise-level-conditional variant (FFDNet-style input): ``forward(v, sigma)`` gets the noise
    standard deviation ``sigma`` (a float, or one value per image) as an extra constant input channel, so
    one network denoises at any requested strength. As ADMM's proximal operator use
    ``DenoiserProx(model, sigma_of_tau=...)``: the x-step ``prox_{tau R}`` is a Gaussian denoising at
    ``sigma = sqrt(tau)``, ``tau = lam / (2 beta)`` (MAP argument in ``ppsolve.prox.learned``), so ``lam``
    sets the prior's strength and ``beta`` the splitting."""

    def __init__(self, channels: int = 1, features: int = 32, dilations=(1, 2, 3, 4, 3, 2, 1)):
        super().__init__(channels, features, dilations)
        first = self.body[0]
        self.body[0] = nn.Conv2d(self.channels + 1, first.out_channels, 3, padding=first.padding,
                                 dilation=first.dilation, bias=True)
        self.reset_parameters()

    def forward(self, v: torch.Tensor, sigma) -> torch.Tensor:
        t = image_batch(v, self.channels, type(self).__name__)
        return (t - self.body(torch.cat([t, noise_level_map(t, sigma)], dim=1))).reshape(v.shape)
