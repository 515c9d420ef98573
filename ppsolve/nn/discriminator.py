r"""The adversarial and feature-matching parts of the cPSDAE training (section 3.3, eqs. 12-13).

``Discriminator``
    A DCGAN discriminator ("the same as the one in DCGAN", appendix D.1) that sees pixel-*unshuffled*
    images ("we fed the pixel shuffled images"): ``x (*batch, C, H, W)`` is rearranged to
    ``(*batch, C r^2, H/r, W/r)``, then ``depth`` strided 4x4 convolutions (stride 2, padding 1, so each
    halves the size), the first without BatchNorm and the others with it, each followed by
    LeakyReLU(0.2), with ``width, 2 width, 4 width, ...`` channels. DCGAN's last layer is a dense layer over
    the final 4x4 map, which fixes the image size; here it is a 3x3 convolution to one channel whose
    logits are averaged over positions (a PatchGAN-style head, equal to global average pooling followed by
    a linear layer when the kernel is 1x1), so any ``H, W`` divisible by ``r`` with ``H/r, W/r >= 2^depth``
    work. The output is one logit per image, ``(*batch,)``: use it with
    ``F.binary_cross_entropy_with_logits`` for eq. 12's ``-log D(x) - log(1 - D(G(v, y)))``. Weights start
    from DCGAN's initialisation (conv weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02), shifts 0).

``FeatureComparator``
    The fixed network ``C`` of eq. 13's feature-matching ("perceptual") term ``||C(G(v, y)) - C(x)||^2``: any
    ``torch.nn.Module``, or a state_dict file loaded into the module a ``builder`` callable constructs (the
    paper uses an ImageNet AlexNet or VGG-16; build it with any code you like -- nothing here imports
    torchvision or downloads anything). It is frozen: eval mode (also when a parent module is put in
    training mode), ``requires_grad`` off. ``layers`` picks intermediate outputs by submodule name.
"""
from __future__ import annotations

import errno
import os
from collections.abc import Callable, Mapping, Sequence

import safetensors.torch
import torch
import torch.nn.functional as F
from torch import nn

from .._validate import positive_int

__all__ = ["Discriminator", "FeatureComparator"]


class Discriminator(nn.Module):
    """DCGAN discriminator on pixel-unshuffled images: ``(*batch, C, H, W) -> (*batch,)`` logits.

    ``channels``: ``C`` of the images (with ``channels=1`` the channel axis may be left out). ``factor``: the
    pixel-unshuffle scale ``r`` (1: none). ``width``: channels of the first conv, doubled by each further
    one. ``depth``: number of stride-2 convs. ``batch_norm``: BatchNorm after every strided conv but the
    first (DCGAN). See the module notes.
    """

    def __init__(self, channels: int = 3, factor: int = 4, width: int = 64, depth: int = 3, batch_norm: bool = True):
        super().__init__()
        self.channels = positive_int(channels, "channels")
        self.factor = positive_int(factor, "factor")
        self.width = width = positive_int(width, "width")
        self.depth = positive_int(depth, "depth")
        self.batch_norm = bool(batch_norm)
        self.unshuffle = nn.PixelUnshuffle(self.factor)
        layers: list[nn.Module] = []
        cin = self.channels * self.factor**2
        for i in range(self.depth):
            cout = width * 2**i
            norm = self.batch_norm and i > 0
            layers.append(nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=not norm))
            if norm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(0.2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Conv2d(cin, 1, 3, padding=1)
        self.reset_parameters()

    @property
    def config(self) -> dict:
        """The constructor arguments, JSON-able: ``Discriminator(**d.config)`` builds the same architecture."""
        return {"channels": self.channels, "factor": self.factor, "width": self.width, "depth": self.depth,
                "batch_norm": self.batch_norm}

    def reset_parameters(self) -> None:
        """DCGAN's initialisation (uses the global torch RNG; seed it with ``torch.manual_seed``)."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    @property
    def min_size(self) -> int:
        """The smallest image side accepted: ``factor * 2**depth``."""
        return self.factor * 2**self.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c, r = self.channels, self.factor
        if x.ndim >= 3 and x.shape[-3] == c:
            batch = tuple(x.shape[:-3])
        elif c == 1 and x.ndim >= 2:
            batch = tuple(x.shape[:-2])
        else:
            layout = f"(*batch, {c}, H, W)" + (" or (*batch, H, W)" if c == 1 else "")
            raise ValueError(f"Discriminator: expected {layout}, got shape {tuple(x.shape)}")
        H, W = x.shape[-2:]
        if H % r or W % r or min(H, W) < self.min_size:
            raise ValueError(
                f"Discriminator: image size {H}x{W} must be divisible by factor {r} and at least "
                f"{self.min_size} (factor * 2**depth)"
            )
        h = self.features(self.unshuffle(x.reshape(-1, c, H, W)))
        return self.head(h).mean(dim=(1, 2, 3)).reshape(batch)


class _Done(Exception):
    """Raised by a forward hook once every requested feature is captured, to skip the rest of the network."""


class FeatureComparator(nn.Module):
    """A frozen network ``C`` for the feature-matching loss ``mean ||C(x_hat) - C(x)||^2`` (eq. 13).

    Give either ``module`` (any ``nn.Module``; with ``state_dict`` that is loaded into it), or ``builder``
    (a callable returning a fresh module) with ``state_dict`` (a ``.safetensors`` file, a file saved by
    ``torch.save(m.state_dict())``, read with ``torch.load(..., weights_only=True)`` on the CPU, or an already
    loaded mapping).
    Loading is strict: every key must match.

    ``layers``: ``None`` -- ``comparator(x)`` returns the module's output (a tensor); or a list of submodule
    names as in ``module.named_modules()`` (ints are taken as names, so ``[3, 8]`` picks children ``"3"``
    and ``"8"`` of an ``nn.Sequential``) -- ``comparator(x)`` returns the list of their outputs, and the
    forward pass stops after the last one needed. ``mean`` / ``std``: optional per-channel input
    normalisation ``(x - mean) / std`` applied first (e.g. ImageNet statistics for a VGG).

    The wrapped module is put in eval mode with ``requires_grad`` off and stays in eval mode when
    ``train()`` is called on this object or on a parent; gradients still flow *through* it to its input.
    """

    def __init__(
        self,
        module: nn.Module | None = None,
        state_dict=None,
        builder: Callable[[], nn.Module] | None = None,
        layers: Sequence[str | int] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ):
        super().__init__()
        if (module is None) == (builder is None):
            raise ValueError("FeatureComparator: give exactly one of module= or builder= (with state_dict=)")
        if builder is not None:
            if state_dict is None:
                raise ValueError("FeatureComparator: builder= needs state_dict= (a file path or a mapping)")
            module = builder()
            if not isinstance(module, nn.Module):
                raise TypeError(f"FeatureComparator: builder() returned {type(module).__name__}, not a torch.nn.Module")
        elif not isinstance(module, nn.Module):
            raise TypeError(f"FeatureComparator: module must be a torch.nn.Module, got {type(module).__name__}")
        if state_dict is not None:
            module.load_state_dict(self._read_state_dict(state_dict), strict=True)
        module.eval()
        module.requires_grad_(False)
        self.module = module

        self.layers = None if layers is None else [str(name) for name in layers]
        if self.layers is not None:
            if not self.layers:
                raise ValueError("FeatureComparator: layers= is empty (use None for the module's output)")
            names = dict(module.named_modules())
            missing = [name for name in self.layers if name not in names or name == ""]
            if missing:
                known = [n for n in names if n][:20]
                raise ValueError(f"FeatureComparator: no submodule named {missing}; known names include {known}")
            self._targets = {name: names[name] for name in self.layers}

        for name, value in (("mean", mean), ("std", std)):
            buf = None if value is None else torch.as_tensor(value, dtype=torch.float32).reshape(-1, 1, 1)
            self.register_buffer(name, buf, persistent=False)
        if self.std is not None and bool((self.std == 0).any()):
            raise ValueError("FeatureComparator: std must be nonzero")

    @staticmethod
    def _read_state_dict(state_dict) -> Mapping:
        if isinstance(state_dict, Mapping):
            return state_dict
        path = os.fspath(state_dict)
        if not os.path.isfile(path):
            raise FileNotFoundError(errno.ENOENT, "state_dict file not found", path)
        try:
            if path.endswith(".safetensors"):
                loaded = safetensors.torch.load_file(path, device="cpu")
            else:
                loaded = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # pickle / zip errors of all kinds
            raise ValueError(f"FeatureComparator: cannot read a state_dict from {path}: {exc}") from exc
        if not isinstance(loaded, Mapping):  # the file's content is wrong, not an argument's type
            raise ValueError(f"FeatureComparator: {path} holds {type(loaded).__name__}, no state_dict")  # noqa: TRY004
        return loaded

    def train(self, mode: bool = True) -> FeatureComparator:
        super().train(mode)
        self.module.eval()  # always frozen: BatchNorm statistics / dropout never change
        return self

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        if self.mean is not None:
            x = x - self.mean.to(x.dtype)
        if self.std is not None:
            x = x / self.std.to(x.dtype)
        return x

    def forward(self, x: torch.Tensor):
        x = self._normalise(x)
        if self.layers is None:
            return self.module(x)
        captured: dict[str, torch.Tensor] = {}

        def make_hook(name):
            def hook(_module, _inputs, output):
                captured[name] = output
                if len(captured) == len(self._targets):
                    raise _Done

            return hook

        handles = [m.register_forward_hook(make_hook(name)) for name, m in self._targets.items()]
        try:
            self.module(x)
        except _Done:
            pass
        finally:
            for handle in handles:
                handle.remove()
        missing = [name for name in self.layers if name not in captured]
        if missing:
            raise RuntimeError(f"FeatureComparator: layers {missing} were not run by the module's forward")
        return [captured[name] for name in self.layers]

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The features as a list (one element when ``layers`` is None)."""
        out = self(x)
        return [out] if self.layers is None else out

    def feature_loss(self, x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
        """Mean squared feature distance between a target ``x`` and a reconstruction ``x_hat``.

        ``mean over layers of mean((C_l(x_hat) - C_l(x))^2)``; the target's features are computed without
        gradient, ``x_hat``'s with it (so the loss trains whatever produced ``x_hat``).
        """
        with torch.no_grad():
            target = self.features(x)
        pred = self.features(x_hat)
        losses = [F.mse_loss(p, t.detach()) for p, t in zip(pred, target)]
        return torch.stack(losses).mean()
