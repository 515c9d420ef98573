r"""Torch denoisers as ADMM's proximal operator: a network ``x = G(v)`` (or ``G(v, y)``) in place of ``prox_{tau R}``.

``DenoiserProx(model)``
    A torch network trained to remove noise from ``v`` (``ppsolve.train``). **What happens to tau**: by
    default it is ignored. A denoising auto-encoder trained on a *range* of noise levels is one fixed map,
    the paper's amortised proximal operator ``F^{-1}(v)`` (section 3.1, with the weight of ``R`` absorbed
    into ``R``); ``lam`` and ``beta`` then act only through ADMM's z- and u-updates. For a noise-conditional
    network ``G(v, sigma)``, ``sigma_of_tau`` maps ``tau`` to its noise input (typically ``sqrt(tau)``, the
    plug-and-play rule of ``ppsolve.prox.plug_and_play``); it is only accepted when the model's ``forward``
    takes that extra argument.
``DAEProx(model)``
    ``DenoiserProx`` for the MNIST DAE (Table 1): ``v`` of shape ``(*batch, 28, 28)``.
``CPSDAEProx(model)``
    The conditional proximal operator ``G(v, y)`` (cPSDAE, Tables 2-3): it needs the measurement ``y`` that
    ADMM passes, at the low resolution ``(H/r, W/r)`` with ``y_channels`` channels, and refuses anything
    else with a message saying what it expected.

``from_file(path)`` builds any of them from a denoiser model file (``ppsolve.nn.registry.load_denoiser``:
only registered architectures with checked configs; nothing the file names is called).

Arrays: NumPy in gives NumPy out in the input's dtype (float64 stays float64: the network computes in its own
precision, usually float32, and the result is converted back); a torch tensor gives a tensor of the same
dtype and device. Leading dimensions are a batch. Networks run under ``torch.no_grad()`` and in eval mode
(a model in training mode is switched to eval for the call and back), so the output carries no gradient.
``value`` returns ``nan``: a learned prior has no closed-form ``R``.
"""
from __future__ import annotations

import inspect

import numpy as np
import torch

from .._array import as_like, check_array, is_torch, to_numpy
from .._validate import choice, interval, positive_int
from ..nn.onnx import OnnxNetwork
from ..nn.registry import load_denoiser
from .basic import Proximal
from .plug_and_play import sqrt_tau

__all__ = ["BACKENDS", "CPSDAEProx", "DAEProx", "DenoiserProx", "ENSEMBLE_TRANSFORMS"]

#: how a network prior is evaluated: torch, or ONNX Runtime on the CPU (``ppsolve.nn.onnx``)
BACKENDS = ("torch", "onnxruntime")


def _turns(k: int):
    """``k`` clockwise quarter turns of the last two axes, and the map back."""
    return (lambda t: torch.rot90(t, -k, (-2, -1))), (lambda t: torch.rot90(t, k, (-2, -1)))


def _mirror(transform):
    """A mirror image: its own inverse."""
    return transform, transform


#: The self-ensemble's transforms ``(name, T, T^{-1})`` of the image axes, in the order ``ensemble=k`` takes
#: the first ``k``: the quarter turns first, then the four mirror images. Turns before flips because a flip
#: keeps the image's axes (a horizontal edge stays horizontal), so averaging over flips leaves a network's bias
#: between the two axes in place, and a quarter turn averages it out: on BSD68 test001-004, 2 transforms with
#: the quarter turn gave 4x SR 23.811 dB against 23.808 with the vertical flip, 4 turns in the last four
#: deblurring stages 28.831 against 28.827 with the four flips (``docs/speed.md``).
ENSEMBLE_TRANSFORMS = (
    ("identity", lambda t: t, lambda t: t),
    ("quarter turn", *_turns(1)),
    ("half turn", *_turns(2)),
    ("three-quarter turn", *_turns(3)),
    ("vertical flip", *_mirror(lambda t: t.flip(-2))),
    ("horizontal flip", *_mirror(lambda t: t.flip(-1))),
    ("transpose", *_mirror(lambda t: t.transpose(-1, -2))),
    ("anti-transpose", *_mirror(lambda t: t.flip(-2, -1).transpose(-1, -2))),
)


def _forward_arity(model) -> int:
    """Number of positional inputs ``model.forward`` (or the callable) accepts; a large number for *args."""
    target = model.forward if isinstance(model, torch.nn.Module) else model
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return 1 << 10
    if any(p.kind == p.VAR_POSITIONAL for p in params):
        return 1 << 10
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _model_device_dtype(model, device):
    param = next(model.parameters(), None) if isinstance(model, torch.nn.Module) else None
    dtype = param.dtype if param is not None and param.dtype.is_floating_point else torch.float32
    if device is None:
        device = param.device if param is not None else torch.device("cpu")
    return torch.device(device), dtype


class _EvalMode:
    """Put a module in eval mode for a call, restoring its training flag afterwards."""

    def __init__(self, model):
        self.model = model if isinstance(model, torch.nn.Module) else None

    def __enter__(self):
        self.was_training = self.model is not None and self.model.training
        if self.was_training:
            self.model.eval()

    def __exit__(self, *exc):
        if self.was_training:
            self.model.train(True)
        return False


class DenoiserProx(Proximal):
    """A torch denoiser ``x = model(v)`` as ADMM's proximal operator (see the module docstring).

    Parameters
    ----------
    model : a ``torch.nn.Module`` (or callable on tensors) mapping ``v`` to the same shape.
    sigma_of_tau : optional callable ``tau -> sigma``; then ``model(v, sigma)`` is called with ``sigma`` a
        float. Only for models whose ``forward`` takes that second input. Default None: ``tau`` is ignored.
    clip : optional ``(low, high)``: the output is clipped to it (e.g. ``(0, 1)`` for images).
    ensemble : 1 (default), 2, 4 or 8: average the model over that many of the 8 quarter turns / mirror images
        of the image (self-ensemble, as in IRCNN and DPIR: ``T^{-1} model(T v)``), the first ones of
        ``ENSEMBLE_TRANSFORMS``: the turns first, then the mirrors (a turned non-square image is the same
        model on a W x H image: the set never depends on the shape, so tiles of any shape agree). A better
        estimate for ``ensemble`` times the cost.
    device : where the model runs (default: where its parameters are); inputs are moved there and back.
    channels_last : put a torch network's weights in channels-last order (in place; the default: faster on CPU).
    backend : "torch" (default) or "onnxruntime": the network exported to ONNX and run by ONNX Runtime on the CPU
        (``ppsolve.nn.onnx.OnnxNetwork``; ``pip install 'ppsolve[onnx]'``), the same map, faster here.
    """

    name = "denoiser"
    #: the self-ensemble's transforms, taken in this order (``ENSEMBLE_TRANSFORMS``)
    ensemble_transforms = ENSEMBLE_TRANSFORMS
    #: the number of positional inputs the model takes besides v (y for the conditional one)
    _conditions = 0

    def __init__(self, model, sigma_of_tau=None, clip=None, device=None, ensemble: int = 1,
                 channels_last: bool = True, backend: str = "torch"):
        self.ensemble = ensemble
        if not callable(model):
            raise TypeError(f"{type(self).__name__}: model must be a torch.nn.Module or callable, "
                            f"got {type(model).__name__}")
        if sigma_of_tau is not None:
            if not callable(sigma_of_tau):
                raise TypeError(f"{type(self).__name__}: sigma_of_tau must be a callable tau -> sigma")
            needed = 2 + self._conditions
            if _forward_arity(model) < needed:
                raise TypeError(
                    f"{type(self).__name__}: sigma_of_tau is given but {type(model).__name__}.forward takes "
                    f"{_forward_arity(model)} input(s); a noise-level input needs {needed} "
                    "(a model trained on a noise range ignores tau: leave sigma_of_tau=None)"
                )
        if clip is not None:
            clip = interval(clip, f"{type(self).__name__} clip")
        self.model = model
        self.sigma_of_tau = sigma_of_tau
        self.clip = clip
        self.device, self.dtype = _model_device_dtype(model, device)
        if isinstance(model, torch.nn.Module) and device is not None:
            model.to(self.device)
        if isinstance(model, torch.nn.Module) and channels_last:
            # the convolutions' weights in channels-last order (in place, values unchanged): 1.3-1.5x faster
            # per evaluation on CPU (oneDNN's NHWC kernels; benchmarks/speed_levers.py), same outputs to 3e-7
            model.to(memory_format=torch.channels_last)
        self.backend = choice(backend, f"{type(self).__name__} backend", BACKENDS)
        if backend == "onnxruntime":
            if self.device.type != "cpu" or not isinstance(model, torch.nn.Module):
                raise ValueError(f"{type(self).__name__}: the onnxruntime backend runs a torch network on the CPU, "
                                 f"got {type(model).__name__} on {self.device}")
            self.model = OnnxNetwork(model)  # the map of model, run by ONNX Runtime (ppsolve.nn.onnx)

    # -- conversions ----------------------------------------------------------------------------------------
    def _to_model(self, a, what: str) -> torch.Tensor:
        check_array(a, f"{type(self).__name__} {what}")
        if is_torch(a):
            return a.detach().to(device=self.device, dtype=self.dtype)
        return torch.as_tensor(np.ascontiguousarray(to_numpy(a)), device=self.device).to(self.dtype)

    @property
    def ensemble(self) -> int:
        """How many of the 8 flips / quarter turns the model is averaged over (1, 2, 4 or 8)."""
        return self._ensemble

    @ensemble.setter
    def ensemble(self, value):
        if isinstance(value, bool) or value not in (1, 2, 4, 8):
            raise ValueError(f"{type(self).__name__}: ensemble must be 1, 2, 4 or 8, got {value!r}")
        self._ensemble = int(value)

    @staticmethod
    def _from_model(out: torch.Tensor, like):
        return as_like(out, like)

    # -- the map -------------------------------------------------------------------------------------------
    def _prepare(self, v: torch.Tensor, y):
        """(the model's inputs, a function mapping the output back to v's shape). Subclasses reshape."""
        return (v,), (lambda out: out)

    def _prox(self, v, tau, y):
        vt = self._to_model(v, "input v")
        inputs, restore = self._prepare(vt, y)
        if self.sigma_of_tau is not None:
            inputs = inputs + (float(self.sigma_of_tau(tau)),)
        with torch.no_grad(), _EvalMode(self.model):
            out = self._run(inputs)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"{type(self).__name__}: the model returned {type(out).__name__}, not a tensor")
        out = restore(out)
        if tuple(out.shape) != tuple(v.shape):
            raise ValueError(f"{type(self).__name__}: the model mapped an input of shape {tuple(v.shape)} to "
                             f"{tuple(out.shape)}; a denoiser must keep the shape")
        if self.clip is not None:
            out = out.clamp(*self.clip)
        return self._from_model(out, v)

    @property
    def multiple(self) -> int:
        """The model's ``multiple`` (1 if it has none): it commutes with translations by multiples of it."""
        return int(getattr(self.model, "multiple", 1))

    def _run(self, inputs):
        """``model(*inputs)``, averaged over the first ``ensemble`` of ``ENSEMBLE_TRANSFORMS`` applied to the
        image inputs (every tensor input with at least two axes; a float noise level is passed as is).

        For a model with a ``multiple`` ``m > 1`` (a U-Net) the image ``v`` is first padded at the bottom and
        right to a multiple of ``m`` by repeating its last row / column (as the model would itself) and the
        output cropped back, so that every transform sees the same pixel grid: the result then commutes with
        translations by multiples of ``m`` also with the ensemble, which exact tiling needs."""
        v, m = inputs[0], self.multiple
        H, W = v.shape[-2:] if v.ndim >= 2 else (1, 1)
        if m > 1 and (H % m or W % m) and self.ensemble > 1:
            padded = torch.nn.functional.pad(v.reshape(-1, 1, H, W), (0, -W % m, 0, -H % m), mode="replicate")
            padded = padded.reshape(tuple(v.shape[:-2]) + tuple(padded.shape[-2:]))
            out = self._run((padded,) + tuple(inputs[1:]))
            return out if not isinstance(out, torch.Tensor) else out[..., :H, :W]
        if self.ensemble == 1:
            return self.model(*inputs)
        total = None
        for _, forward, backward in self.ensemble_transforms[:self.ensemble]:
            out = self.model(*(forward(t) if isinstance(t, torch.Tensor) and t.ndim >= 2 else t for t in inputs))
            if not isinstance(out, torch.Tensor):
                return out  # reported by the caller
            out = backward(out)
            total = out if total is None else total + out
        return total / self.ensemble

    def __repr__(self):
        extra = "" if self.sigma_of_tau is None else f", sigma_of_tau={getattr(self.sigma_of_tau, '__name__', '?')}"
        clip = "" if self.clip is None else f", clip={self.clip}"
        ens = "" if self.ensemble == 1 else f", ensemble={self.ensemble}"
        return f"{type(self).__name__}({type(self.model).__name__}{extra}{clip}{ens})"

    # -- loading -------------------------------------------------------------------------------------------
    @classmethod
    def from_file(cls, path, model_factory=None, device=None, **kwargs):
        """Build the proximal operator from a denoiser model file written by ``ppsolve.train``
        (``ppsolve.nn.registry.load_denoiser``; ``model_factory`` only for networks of your own class);
        ``kwargs`` go to the constructor. The file's header is kept as ``.metadata``. A network trained with
        its noise level as an input (``noise_level_input``) gets ``sigma_of_tau=sqrt_tau`` unless given."""
        model, metadata = load_denoiser(path, device=device, model_factory=model_factory)
        if (metadata.get("hyper") or {}).get("noise_level_input"):
            kwargs.setdefault("sigma_of_tau", sqrt_tau)
        prox = cls(model, device=device, **kwargs)
        prox.metadata = metadata
        return prox


class DAEProx(DenoiserProx):
    """The MNIST denoising auto-encoder (Table 1) as a proximal operator: ``v`` of shape ``(*batch, 28, 28)``
    (or flattened ``(*batch, 784)``); ``tau`` ignored (see the module docstring).

    The trained one is the zoo's ``"mnist-dae"`` (``ppsolve.zoo.load("mnist-dae")``)."""

    name = "dae"
    SIZE = 28

    def _prepare(self, v, y):
        n = self.SIZE
        image = v.ndim >= 2 and tuple(v.shape[-2:]) == (n, n)
        flat = v.ndim >= 1 and v.shape[-1] == n * n
        if not (image or flat):
            raise ValueError(f"DAE prox: expected v of shape (*batch, 28, 28) or (*batch, 784), got {tuple(v.shape)}")
        shape = v.shape
        return (v.reshape(-1, n, n),), (lambda out: out.reshape(shape))


class CPSDAEProx(DenoiserProx):
    """The conditional proximal operator ``x = G(v, y)`` (cPSDAE, section 3.1): called by ADMM as
    ``prox(v, tau, y=y)``; ``tau`` ignored (unless ``sigma_of_tau``, then ``G(v, y, sigma)``).

    ``v``: ``(*batch, C, H, W)`` (or ``(*batch, H, W)`` when ``C == 1``); ``y``: the measurement at the low
    resolution, ``(*batch, y_channels, H/r, W/r)`` (or ``(*batch, H/r, W/r)`` when ``y_channels == 1``), with
    the same batch as ``v`` or none (then shared by every image of the batch). ``factor`` (``r``),
    ``channels`` and ``y_channels`` are read from the model (``ppsolve.nn.cpsdae.CPSDAE`` has them) unless
    given here.
    """

    name = "cpsdae"
    _conditions = 1

    def __init__(self, model, sigma_of_tau=None, clip=None, device=None, factor=None, channels=None,
                 y_channels=None):
        super().__init__(model, sigma_of_tau=sigma_of_tau, clip=clip, device=device)
        values = {}
        for key, given in (("factor", factor), ("channels", channels), ("y_channels", y_channels)):
            value = given if given is not None else getattr(model, key, None)
            if value is None:
                raise ValueError(f"CPSDAE prox: {type(model).__name__} has no attribute {key!r}; pass {key}=")
            values[key] = positive_int(value, f"CPSDAE prox {key}")
        self.factor, self.channels, self.y_channels = values["factor"], values["channels"], values["y_channels"]

    def _layout(self, t, channels: int, core_hw, what: str):
        """batch shape of ``t`` laid out as (*batch, channels, h, w) or, for one channel, (*batch, h, w)."""
        h, w = core_hw
        if t.ndim >= 3 and tuple(t.shape[-3:]) == (channels, h, w):
            return tuple(t.shape[:-3]), True
        if channels == 1 and t.ndim >= 2 and tuple(t.shape[-2:]) == (h, w):
            return tuple(t.shape[:-2]), False
        layout = f"(*batch, {channels}, {h}, {w})" + (f" or (*batch, {h}, {w})" if channels == 1 else "")
        return None, layout

    def _prepare(self, v, y):
        r, c, yc = self.factor, self.channels, self.y_channels
        if y is None:
            raise ValueError(
                "CPSDAE prox: the measurement y is required (the cPSDAE is conditioned on it). ADMM passes it "
                "as prox(v, tau, y=y); when calling the prox yourself give y=, the measurement at the low "
                f"resolution with {yc} channel(s)")
        if v.ndim < 2:
            raise ValueError(f"CPSDAE prox: v must be an image batch, got shape {tuple(v.shape)}")
        H, W = v.shape[-2:]
        if H % r or W % r:
            raise ValueError(f"CPSDAE prox: v's size {H}x{W} is not divisible by the factor {r}")
        v_batch, v_chan = self._layout(v, c, (H, W), "v")
        if v_batch is None:
            raise ValueError(f"CPSDAE prox: v must be {v_chan} (channels={c}), got shape {tuple(v.shape)}")
        yt = self._to_model(y, "measurement y")
        h, w = H // r, W // r
        layouts = [v_batch + (yc, h, w), (yc, h, w)] + ([v_batch + (h, w), (h, w)] if yc == 1 else [])
        if tuple(yt.shape) not in layouts:
            expected = f"(*batch, {yc}, {h}, {w})" + (f" or (*batch, {h}, {w})" if yc == 1 else "")
            raise ValueError(
                f"CPSDAE prox: y must be the measurement at the low resolution, {expected} with the batch of v "
                f"{v_batch} or none (y_channels={yc}; v is {H}x{W}, factor {r}), got shape {tuple(yt.shape)}; "
                "the operator's output must be the image downsampled by the factor the network was trained for")
        v4 = v.reshape(-1, c, H, W)
        if tuple(yt.shape) in layouts[0::2]:  # one measurement per image of v
            y4 = yt.reshape(-1, yc, h, w)
        else:  # one measurement shared by every image of v
            y4 = yt.reshape(1, yc, h, w).expand(v4.shape[0], yc, h, w)
        shape = v.shape
        return (v4, y4), (lambda out: out.reshape(shape))

    @classmethod
    def from_file(cls, path, model_factory=None, device=None, expect_operator=None, **kwargs):
        """As ``DenoiserProx.from_file``; with ``expect_operator`` (a ``LinearOperator``) the model file must
        have been trained with an operator of the same fingerprint (checked before the network is built)."""
        expect = None if expect_operator is None else {"operator__fingerprint": expect_operator.fingerprint()}
        model, metadata = load_denoiser(path, expect=expect, device=device, model_factory=model_factory)
        prox = cls(model, device=device, **kwargs)
        prox.metadata = metadata
        return prox
