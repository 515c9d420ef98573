r"""The learned inverse (paper section 3.2, eqs. 9-11): a network ``C ~ B`` trained from pure noise.

By Woodbury, ``(A^T A + beta I)^{-1} = beta^{-1} (I - A^T B A)`` with ``B = (beta I + A A^T)^{-1}`` acting on
the (smaller) measurement space. ``LearnedInverse`` trains a network ``C`` on that space from Gaussian noise
``e`` with the loss (10)

    L = mean ||e - C B^{-1} e||^2 + mean ||e - B^{-1} C e||^2,      B^{-1} e = beta e + A A^T e

(per-pixel means rather than the paper's sums: a constant factor), which needs only ``A`` and ``A^T``, and
then answers ``z = (b - A^T C(A b)) / beta`` (eq. 11): two operator applications and one network pass, no
inner loop. Nothing about images is learned: the training data are noise, so the network is tied to
``(A, beta)`` only, and a checkpoint records both and refuses other ones.

Architectures (``ppsolve.nn.symmetric``)
    ``"linear"`` (default): ``C = F^T F``, one bank of ``K = 16`` convolutions with ``7 x 7`` kernels on the
    measurement grid and its exact adjoint: linear, symmetric, positive semi-definite. Circular padding
    when ``A`` is periodic (``A.fourier_structure()`` is not None: ``A A^T`` and ``B`` are then circulant,
    and circular convolutions are exactly the right model class), zero padding otherwise. This is an
    architecture choice; the weights start near ``s I`` with ``s`` the best scalar fit to ``B`` over noise
    probes (``A`` / ``A^T`` calls only, no spectrum, no dense matrix) and are learned from noise.
    ``"paper"``: the paper's Table 4 network (4 x 4 kernels, 32 and 64 channels, ReLUs, shared weights).

Training defaults (``"linear"``): Adam, learning rate ``3e-2`` decaying geometrically to ``1e-4`` over 2000
steps, batches of 16 noise images, float32, 16 convolutions of ``7 x 7``. Measured with
``benchmarks/learned_inverse.py`` for the 64 x 64, stride-4, 9 x 9 Gaussian (sigma 2) periodic operator, 2
shared CPU cores: 25-30 s of training; relative error of the z-update on real 64 x 64 crops 7e-6 at
beta = 0.1 and 1.8e-3 at beta = 0.01 (white noise: 3e-6, 1.2e-4). The kernel size is a trade-off: ``C``'s
footprint (``2 k - 1 = 13``) fits the 16 x 16 measurement grid, so the same checkpoint is as accurate for
128 x 128 images (``load(..., allow_resize=True)``). ``kernel_size=13`` reaches float32 rounding at 64 x 64
(3e-7 at beta = 0.01) but only as a kernel folded onto that grid: at 128 x 128 it was off by 3e-2, and
``load`` refuses to resize it. The paper's Table 4 network (``"paper"``: Adam ``1e-3 -> 1e-5``) reaches
only 8e-2 (beta = 0.1) and 0.8 (beta = 0.01) in 1000 steps (~3.5 minutes): ReLUs and 4 x 4 kernels are a poor
model class for a linear, wide-support ``B``. With zero padding the linear network also learns 4 edge gains
per side (``LinearSymmetricNet``'s ``edge``): ``B`` is larger near the border, which no convolution
expresses; as a CG preconditioner this took the iterations from 7 to 5 at beta = 0.001 (CG alone: 27).

Forms (``form=``)
    ``"woodbury"``: the paper's: ``C ~ B`` on the measurement space, ``z = (b - A^T C(A b)) / beta``. It is what
    makes the network small when ``A`` has fewer outputs than inputs (super-resolution: ``d^2`` times fewer).
    ``"direct"``: ``C ~ (A^T A + beta I)^{-1}`` itself, trained with the same loss on
    ``M = A^T A + beta I`` in place of ``B^{-1}``, and ``z = C b``. Only for square operators
    (``A.in_shape == A.out_shape``, e.g. deblurring), where Woodbury saves nothing and costs accuracy: an
    error ``E`` in ``C`` reaches ``z`` as ``A^T E A b / beta``, amplified by ``||A||^2 / beta``, while the
    direct form passes it on unamplified. ``"auto"`` (default): direct for square operators, else Woodbury.
    For the 9 x 9 motion blur at ``beta = 0.01``, ``(A^T A + beta I)^{-1}`` has a wide kernel (63 x 63 holds all
    but 1.4 % of its energy, 15 x 15 all but 21 %): pass a larger ``kernel_size`` (e.g. 31) and train at a
    grid larger than the footprint ``2 k - 1`` (``benchmarks/deblur_bsd68.py``).

Checkpoints use ``ppsolve.checkpoint`` (kind ``"learned-inverse"``): one torch file, written atomically,
read with ``torch.load(weights_only=True)``, content digest verified.
"""
from __future__ import annotations

import copy
import hashlib
import math
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from .._array import is_numpy, is_torch, namespace, to_numpy
from ..checkpoint import DeferredSigint, load_checkpoint, save_checkpoint
from ..nn.symmetric import ARCHITECTURES, build_symmetric_net
from ..operators.base import LinearOperator
from .base import Inverse, check_beta

__all__ = ["LearnedInverse"]

KIND = "learned-inverse"
#: version of the metadata / state layout inside the ppsolve checkpoint
FORMAT_VERSION = 1

#: default options of each architecture ("padding": "auto" is resolved from the operator)
DEFAULT_OPTIONS = {
    "linear": {"channels": 16, "kernel_size": 7, "padding": "auto", "init_noise": 1e-2, "edge": "auto"},
    "paper": {"channels": [32, 64], "kernel_size": 4},
}
#: edge gains per side the "linear" network gets with zero padding (see ``LinearSymmetricNet``'s ``edge``)
EDGE_AUTO = 4
FORMS = ("auto", "woodbury", "direct")
#: default training settings of each architecture
DEFAULT_TRAINING = {
    "linear": {"steps": 2000, "batch_size": 16, "lr": 3e-2, "lr_final": 1e-4},
    "paper": {"steps": 2000, "batch_size": 16, "lr": 1e-3, "lr_final": 1e-5},
}
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _weights_sha256(state_dict) -> str:
    """A checksum of the weights alone: names, dtypes, shapes and raw bytes, in sorted key order (recorded in
    the metadata so that two files can be compared by their weights; the checkpoint's own digest covers all)."""
    digest = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        digest.update(key.encode())
        digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _read(path) -> tuple[dict, dict]:
    """(metadata, state) of a learned-inverse checkpoint, verified (``ValueError`` "corrupted or truncated")."""
    blob = load_checkpoint(path, expect_kind=KIND)
    metadata, state = blob["metadata"], blob["state"]
    if int(metadata.get("layout_version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{path}: learned-inverse layout version {metadata.get('layout_version')} is newer than "
                         f"this ppsolve reads ({FORMAT_VERSION}); upgrade ppsolve")
    network = state.get("network")
    if not isinstance(network, dict) or _weights_sha256(network) != metadata.get("weights_sha256"):
        raise ValueError(f"{path}: checkpoint is corrupted or truncated (the weights' sha256 does not match)")
    return metadata, state


def _impulse(A: LinearOperator):
    """``A^T e_c`` for ``e_c`` the unit measurement at the centre pixel (first channel): the footprint of one
    measurement in the input domain, and the centre index used."""
    out = A.out_shape
    e = np.zeros(out)
    centre = (out[-2] // 2, out[-1] // 2)
    e[(0,) * (len(out) - 2) + centre] = 1.0
    return np.asarray(to_numpy(A.adjoint(e)), dtype=np.float64), centre


def _same_up_to_size(meta: dict, A: LinearOperator, receptive_field: int) -> str | None:
    """None when ``A`` is the recorded operator up to the image size (see ``LearnedInverse.load``), else why not."""
    if meta.get("description") != A._describe():
        return f"the operator descriptions differ: {meta.get('description')!r} vs {A._describe()!r}"
    old_in, old_out = tuple(meta["in_shape"]), tuple(meta["out_shape"])
    new_in, new_out = A.in_shape, A.out_shape
    if len(old_in) != len(new_in) or len(old_out) != len(new_out) or len(new_out) < 2 or len(new_in) < 2:
        return "the shapes have different numbers of axes"
    if old_in[:-2] != new_in[:-2] or old_out[:-2] != new_out[:-2]:
        return "the channel axes differ"
    if min(old_out[-2:]) < receptive_field:
        return (f"the network's footprint ({receptive_field} x {receptive_field} measurement pixels) is wider than "
                f"the {old_out[-2]} x {old_out[-1]} grid it was trained on, so training only fixed it folded onto that "
                "grid; train with a smaller kernel_size to use it at other sizes")
    ratios = []
    for axis in (-2, -1):
        if old_in[axis] % old_out[axis] or new_in[axis] % new_out[axis]:
            return "the input size is not a multiple of the measurement size, so the footprints cannot be aligned"
        r_old, r_new = old_in[axis] // old_out[axis], new_in[axis] // new_out[axis]
        if r_old != r_new:
            return f"the sampling factors differ ({r_old} vs {r_new})"
        ratios.append(r_old)
    old = meta["impulse"].numpy()
    new, centre = _impulse(A)
    old_centre = tuple(meta["impulse_centre"])
    shift = tuple(ratios[i] * (centre[i] - old_centre[i]) for i in range(2))
    if any(s < 0 for s in shift):
        return "the new measurement grid is smaller than the one trained for"
    aligned = np.roll(new, (-shift[0], -shift[1]), axis=(-2, -1))
    window = aligned[..., : old.shape[-2], : old.shape[-1]]
    scale = max(float(np.max(np.abs(old))), 1e-300)
    outside = math.sqrt(max(float(np.sum(aligned**2) - np.sum(window**2)), 0.0))
    if window.shape != old.shape or float(np.max(np.abs(window - old))) > 1e-9 * scale or outside > 1e-9 * scale:
        return "the footprint of a centre measurement (A^T e_c) differs from the one recorded at training"
    return None


class _Preconditioner:
    """``r -> C r + shift r`` on the measurement space (see ``LearnedInverse.preconditioner``)."""

    def __init__(self, owner: LearnedInverse, shift: float, lambda_min: float, lambda_max: float):
        self._owner, self.shift = owner, float(shift)
        self.lambda_min_estimate, self.lambda_max_estimate = float(lambda_min), float(lambda_max)

    def __call__(self, r):
        return self._owner.apply_network(r) + self.shift * r

    def __repr__(self):
        return (f"LearnedPreconditioner(shift={self.shift:.3e}, lambda(C) in ~[{self.lambda_min_estimate:.4g}, "
                f"{self.lambda_max_estimate:.4g}])")


class LearnedInverse(Inverse):
    r"""``z = (b - A^T C(A b)) / beta`` with ``C ~ (beta I + A A^T)^{-1}`` a network trained from noise (or, in the
    ``"direct"`` form for square operators, ``z = C b`` with ``C ~ (A^T A + beta I)^{-1}``).

    Build one with ``LearnedInverse.train(A, beta)`` (or ``load``); the constructor alone gives an
    *untrained* network (initialised near a scalar multiple of ``B``).

    Parameters
    ----------
    A, beta : the operator and the ADMM penalty the network is for.
    architecture : "linear" (default) or "paper" (see the module docstring).
    form : "auto" (default), "woodbury" or "direct" (see the module docstring); ``.form`` is the resolved one.
    seed : seeds the initial weights (and, in ``train``, the noise).
    dtype : "float32" (default) or "float64": the precision of the weights and of training. ``solve`` works
        in the precision of its input either way (copies of the network are converted as needed).
    track_residual : see ``Inverse``.
    **options : architecture options (linear: ``channels``, ``kernel_size``, ``padding`` ("auto",
        "circular" or "zero"), ``init_noise``; paper: ``channels``, ``kernel_size``).

    Attributes
    ----------
    network : the ``torch.nn.Module`` (the master copy, in ``dtype``).
    options : the resolved architecture options (padding resolved, ``scale`` the initial scalar).
    training : what training did: its settings, ``final_loss``, ``final_check``, ``seconds``, ``log`` (lists
        ``step``, ``loss``, ``seconds`` every ``log_every`` steps from step 0) and ``check`` (lists ``step``,
        ``residual``: the held-out relative residual ``||e - C B^{-1} e|| / ||e||`` on 8 fixed noise probes,
        20 times per run and at the end). Empty when untrained.
    """

    name = "learned"

    def __init__(self, A: LinearOperator, beta: float, architecture: str = "linear", *, form: str = "auto",
                 seed: int = 0, dtype: str = "float32", track_residual: bool = False, **options):
        super().__init__(A, beta, track_residual)
        if form not in FORMS:
            raise ValueError(f"form: expected one of {FORMS}, got {form!r}")
        square = tuple(A.in_shape) == tuple(A.out_shape)
        if form == "auto":
            form = "direct" if square else "woodbury"
        if form == "direct" and not square:
            raise ValueError(f"form='direct' needs a square operator (in_shape == out_shape); {A!r} maps "
                             f"{A.in_shape} to {A.out_shape}: use form='woodbury'")
        self.form = form
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture: expected one of {ARCHITECTURES}, got {architecture!r}")
        if dtype not in _DTYPES:
            raise ValueError(f"dtype: expected one of {tuple(_DTYPES)}, got {dtype!r}")
        if len(A.out_shape) not in (2, 3):
            raise ValueError(
                f"LearnedInverse: the networks act on measurement images (h, w) or (C, h, w); {A!r} has output "
                f"shape {A.out_shape}"
            )
        self.architecture, self.dtype, self.seed = architecture, dtype, int(seed)
        self.options = self._resolve_options(architecture, options)
        self.network = build_symmetric_net(
            architecture, A.out_shape, seed=self.seed, dtype=_DTYPES[dtype], **self.options
        )
        self.network.requires_grad_(False)
        self.training: dict = {}
        self._copies: dict = {}
        self._fingerprint = None

    # -- construction helpers ---------------------------------------------------------------------------------
    def _resolve_options(self, architecture, options) -> dict:
        unknown = set(options) - set(DEFAULT_OPTIONS[architecture]) - {"scale"}
        if unknown:
            raise TypeError(
                f"unknown option(s) {sorted(unknown)} for architecture {architecture!r}; "
                f"expected some of {sorted(DEFAULT_OPTIONS[architecture])}"
            )
        resolved = dict(DEFAULT_OPTIONS[architecture])
        resolved.update(options)
        if architecture == "linear":
            if resolved["padding"] == "auto":
                resolved["padding"] = "circular" if self.A.fourier_structure() is not None else "zero"
            if resolved["edge"] == "auto":
                resolved["edge"] = 0 if resolved["padding"] == "circular" else EDGE_AUTO
            resolved["edge"] = int(resolved["edge"])
            resolved["channels"] = int(resolved["channels"])
            resolved["init_noise"] = float(resolved["init_noise"])
        else:
            resolved["channels"] = [int(c) for c in resolved["channels"]]
        resolved["kernel_size"] = int(resolved["kernel_size"])
        if "scale" not in resolved:
            resolved["scale"] = self._initial_scale()
        resolved["scale"] = float(resolved["scale"])
        return resolved

    def _initial_scale(self, probes: int = 8) -> float:
        """The best scalar ``s`` in ``min E||e - s M e||^2`` over seeded noise probes (float64, A / A^T only)."""
        e = np.random.default_rng(2017).standard_normal((probes,) + self.A.out_shape)
        be = self._binv(e)
        return float(np.sum(e * be) / np.sum(be * be))

    def _binv(self, e):
        """The operator ``M`` that ``C`` inverts: ``B^{-1} e = beta e + A A^T e`` (Woodbury form) or
        ``beta e + A^T A e`` (direct form); any array type, autograd flows for torch."""
        if self.form == "direct":
            return self.beta * e + self.A.adjoint(self.A.apply(e))
        return self.beta * e + self.A.apply(self.A.adjoint(e))

    def fingerprint(self) -> str:
        """``A.fingerprint()``, computed once."""
        if self._fingerprint is None:
            self._fingerprint = self.A.fingerprint()
        return self._fingerprint

    # -- the network on the measurement space ----------------------------------------------------------------
    def _network_for(self, dtype, device) -> torch.nn.Module:
        master = self.network
        p = next(master.parameters())
        if p.dtype == dtype and p.device == torch.device(device):
            return master
        key = (str(dtype), str(device))
        net = self._copies.get(key)
        if net is None:
            net = copy.deepcopy(master).to(device=device, dtype=dtype).requires_grad_(False)
            self._copies[key] = net
        return net

    def apply_network(self, r):
        """``C r`` for a measurement-shaped ``r`` (NumPy in, NumPy out; torch in, torch out, autograd flowing
        to ``r``); computed in ``r``'s dtype and on its device."""
        if is_torch(r):
            return self._network_for(r.dtype, r.device)(r)
        if is_numpy(r):
            t = torch.from_numpy(np.ascontiguousarray(r))
            with torch.no_grad():
                return self._network_for(t.dtype, t.device)(t).numpy()
        xp = namespace(r)  # e.g. CuPy: through the host
        return xp.asarray(self.apply_network(to_numpy(r)))

    def _solve(self, b, x0):
        if self.form == "direct":
            return self.apply_network(b), 0
        ab = self.A.apply(b)
        z = (b - self.A.adjoint(self.apply_network(ab))) / self.beta
        return z, 0

    # -- training ------------------------------------------------------------------------------------------------
    @classmethod
    def train(cls, A: LinearOperator, beta: float, architecture: str = "linear", steps: int | None = None,
              batch_size: int | None = None, lr: float | None = None, seed: int = 0, checkpoint=None,
              progress: bool = True, *, lr_final: float | None = None, dtype: str = "float32",
              log_every: int | None = None, checkpoint_every: int = 250, callback=None, form: str = "auto",
              **arch_options) -> LearnedInverse:
        """Train ``C`` for ``(A, beta)`` from Gaussian noise with loss (10) and return the inverse.

        Parameters
        ----------
        A, beta : the operator and penalty.
        architecture : "linear" (default) or "paper"; ``**arch_options`` go to the network. ``form``: see the class.
        steps, batch_size, lr, lr_final : Adam steps, noise images per step, and the learning rate, which
            decays geometrically from ``lr`` at step 0 to ``lr_final`` at the last step. ``None``: the
            architecture's defaults (``DEFAULT_TRAINING``).
        seed : seeds the initial weights and the noise (``torch.Generator``s): equal seeds, equal results.
        checkpoint : a file path. Every ``checkpoint_every`` steps, at the end, and when interrupted at a step
            boundary (Ctrl-C, or a ``KeyboardInterrupt`` raised by ``callback``), the weights, the Adam
            state, the noise generator's state and the log are written there atomically; if the file
            exists, training resumes from it (after checking it was made for the same operator, beta,
            architecture and settings; ``ValueError`` naming the difference otherwise), so an interrupted run
            continued this way ends with the same weights as an uninterrupted one. A finished checkpoint is
            returned as is (a cache). The file is also a valid ``load`` file.
        progress : show a tqdm bar with the loss.
        dtype : "float32" (default) or "float64" for the weights and the training arithmetic.
        log_every : record (step, loss, seconds) every this many steps (default ``steps // 100``, >= 1).
        callback : called as ``callback(step, loss)`` after every step (``loss``: a float); may raise to stop.
        """
        inverse = cls(A, beta, architecture, form=form, seed=seed, dtype=dtype, **arch_options)
        inverse.fit(steps=steps, batch_size=batch_size, lr=lr, lr_final=lr_final, checkpoint=checkpoint,
                    progress=progress, log_every=log_every, checkpoint_every=checkpoint_every, callback=callback)
        return inverse

    def _config(self, steps, batch_size, lr, lr_final) -> dict:
        defaults = DEFAULT_TRAINING[self.architecture]
        config = {
            "steps": int(defaults["steps"] if steps is None else steps),
            "batch_size": int(defaults["batch_size"] if batch_size is None else batch_size),
            "lr": float(defaults["lr"] if lr is None else lr),
            "lr_final": float(defaults["lr_final"] if lr_final is None else lr_final),
            "seed": self.seed,
            "dtype": self.dtype,
        }
        if config["steps"] < 1 or config["batch_size"] < 1 or not (config["lr"] > 0 and config["lr_final"] > 0):
            raise ValueError(f"training settings: expected steps, batch_size >= 1 and lr, lr_final > 0, got {config}")
        return config

    def fit(self, steps=None, batch_size=None, lr=None, lr_final=None, checkpoint=None, progress=True,
            log_every=None, checkpoint_every=250, callback=None) -> LearnedInverse:
        """Train this inverse's network in place (see ``train`` for the parameters); returns ``self``."""
        from tqdm.auto import tqdm

        config = self._config(steps, batch_size, lr, lr_final)
        n_steps, bs = config["steps"], config["batch_size"]
        log_every = max(1, n_steps // 100) if log_every is None else max(1, int(log_every))
        check_every = max(1, n_steps // 20)
        checkpoint_every = max(1, int(checkpoint_every))
        dtype = _DTYPES[self.dtype]
        net = self.network
        optimizer = torch.optim.Adam(net.parameters(), lr=config["lr"])
        gen = torch.Generator().manual_seed(self.seed + 1_000_003)
        log = {"step": [], "loss": [], "seconds": []}
        check = {"step": [], "residual": []}
        start, seconds_before = 0, 0.0
        if checkpoint is not None and Path(checkpoint).exists():
            meta, state = _read(checkpoint)
            self._check_resumable(meta, state, config, checkpoint)
            resume = state["resume"]
            net.load_state_dict(state["network"])
            optimizer.load_state_dict(resume["optimizer"])
            gen.set_state(resume["generator"])
            log = {k: list(v) for k, v in resume["log"].items()}
            check = {k: list(v) for k, v in resume["check"].items()}
            start, seconds_before = int(resume["step"]), float(resume["seconds"])
            if start >= n_steps:  # a finished run: a cache hit
                self.training = meta.get("training") or {}
                self._copies.clear()
                return self
        self._copies.clear()

        probes = torch.randn((8,) + self.A.out_shape, generator=torch.Generator().manual_seed(self.seed + 7),
                             dtype=torch.float64).to(dtype)
        probes_binv = self._binv(probes)

        def held_out() -> float:
            with torch.no_grad():
                return float(torch.linalg.vector_norm(probes - net(probes_binv)) / torch.linalg.vector_norm(probes))

        ratio = config["lr_final"] / config["lr"]
        t0 = time.perf_counter()
        loss_value = float("nan")

        def save(step):
            if checkpoint is not None:
                resume = {"step": step, "optimizer": optimizer.state_dict(), "generator": gen.get_state(),
                          "log": log, "check": check, "seconds": seconds_before + time.perf_counter() - t0,
                          "config": config}
                self._write(checkpoint, resume=resume)

        bar = tqdm(total=n_steps, initial=start, disable=not progress, desc=f"LearnedInverse[{self.architecture}]",
                   leave=False, dynamic_ncols=True)
        net.requires_grad_(True)
        net.train()
        try:
            with DeferredSigint() as sigint:
                for step in range(start, n_steps):
                    for group in optimizer.param_groups:
                        group["lr"] = config["lr"] * ratio ** (step / max(1, n_steps - 1))
                    e = torch.randn((bs,) + self.A.out_shape, generator=gen, dtype=dtype)
                    loss = torch.mean((e - net(self._binv(e))) ** 2) + torch.mean((e - self._binv(net(e))) ** 2)
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                    loss_value = float(loss.detach())
                    if not math.isfinite(loss_value):
                        raise FloatingPointError(
                            f"LearnedInverse training diverged at step {step} (loss {loss_value}); lower lr "
                            f"(now {config['lr']:g})"
                        )
                    if step % log_every == 0:
                        log["step"].append(step)
                        log["loss"].append(loss_value)
                        log["seconds"].append(seconds_before + time.perf_counter() - t0)
                        bar.set_postfix(loss=f"{loss_value:.3e}", refresh=False)
                    if step % check_every == 0:
                        check["step"].append(step)
                        check["residual"].append(held_out())
                    bar.update(1)
                    if (step + 1) % checkpoint_every == 0 and step + 1 < n_steps:
                        save(step + 1)
                    try:
                        if callback is not None:
                            callback(step, loss_value)
                        if sigint.requested:
                            raise KeyboardInterrupt
                    except KeyboardInterrupt:
                        if step + 1 < n_steps:
                            save(step + 1)  # a step boundary: the state is consistent
                        raise
        finally:
            bar.close()
            net.requires_grad_(False)
            net.eval()
            self._copies.clear()
        check["step"].append(n_steps)
        check["residual"].append(held_out())
        self.training = dict(config, log_every=log_every, final_loss=loss_value, final_check=check["residual"][-1],
                             seconds=seconds_before + time.perf_counter() - t0, log=log, check=check)
        save(n_steps)
        return self

    def _check_resumable(self, meta, state, config, path):
        resume = state.get("resume")
        if not isinstance(resume, dict):
            raise ValueError(  # noqa: TRY004 (a file without training state, not a wrong argument type)
                f"{path}: a saved LearnedInverse without training state; cannot resume training from it"
            )
        self._check_compatible(meta, path, allow_resize=False)
        expected = {"architecture": meta["architecture"], "options": meta["options"], "dtype": meta["dtype"],
                    "settings": resume["config"]}
        given = {"architecture": self.architecture, "options": self.options, "dtype": self.dtype, "settings": config}
        diffs = [f"{k}: checkpoint {expected[k]!r}, requested {given[k]!r}" for k in expected if expected[k] != given[k]]
        if diffs:
            raise ValueError(f"{path}: cannot resume, the checkpoint was made with other settings ("
                             + "; ".join(diffs) + "); use another checkpoint path or delete it")

    # -- preconditioner ---------------------------------------------------------------------------------------------
    def preconditioner(self, shift: float | None = None, iterations: int = 30, seed: int = 0) -> _Preconditioner:
        """``M r = C r + shift r``: a symmetric positive definite approximation of ``(beta I + A A^T)^{-1}`` on the
        measurement space, for preconditioned CG on the small system ``(beta I + A A^T) w = A b``
        (``ConjugateGradient(A, beta, preconditioner=inverse.preconditioner())``).

        Only the ``"linear"`` architecture qualifies: ``C = F^T F`` is symmetric and positive semi-definite by
        construction. Definiteness: ``iterations`` power iterations estimate ``lambda_max(C)``, as many on
        ``lambda_max I - C`` estimate ``lambda_min(C)`` (a Rayleigh quotient, hence an upper bound on the true
        one: it flags a (nearly) singular ``C`` but cannot certify positivity). ``shift`` (default
        ``1e-6 lambda_max``, raised so that the estimated ``lambda_min + shift`` is at least that) then makes
        ``M`` definite whatever the rounding; for a trained ``C ~ B`` (``lambda_min ~ 1 / (beta + ||A||^2)``)
        it changes ``M`` by about ``1e-6`` relative. The estimates are kept on the returned callable
        (``lambda_min_estimate``, ``lambda_max_estimate``, ``shift``).
        """
        if self.form != "woodbury":
            raise ValueError("preconditioner: it preconditions the small system (beta I + A A^T) w = A b of the "
                             f"Woodbury form; this inverse has form {self.form!r}")
        if self.architecture != "linear":
            raise ValueError(
                f"preconditioner: the {self.architecture!r} network has ReLU activations, so C is neither linear "
                "nor symmetric and cannot precondition conjugate gradients; train architecture='linear'"
            )
        net = self._network_for(torch.float64, torch.device("cpu"))
        gen = torch.Generator().manual_seed(int(seed))
        with torch.no_grad():
            x = torch.randn(self.A.out_shape, generator=gen, dtype=torch.float64)
            lam_max = 0.0
            for _ in range(iterations):
                x = x / torch.linalg.vector_norm(x)
                cx = net(x)
                lam_max = float(torch.sum(x * cx))
                x = cx
            y = torch.randn(self.A.out_shape, generator=gen, dtype=torch.float64)
            top = 0.0
            for _ in range(iterations):
                y = y / torch.linalg.vector_norm(y)
                gy = lam_max * y - net(y)
                top = float(torch.sum(y * gy))
                y = gy
        lam_min = lam_max - top
        floor = 1e-6 * abs(lam_max)
        if shift is None:
            shift = floor + max(0.0, -lam_min)
        elif not (math.isfinite(shift) and shift >= 0):
            raise ValueError(f"shift: expected a finite number >= 0, got {shift!r}")
        if lam_min + shift <= 0:
            warnings.warn(f"preconditioner: estimated lambda_min(C) + shift = {lam_min + shift:.3e} <= 0; "
                          "the preconditioner may not be definite", RuntimeWarning, stacklevel=2)
        return _Preconditioner(self, shift, lam_min, lam_max)

    # -- save / load ------------------------------------------------------------------------------------------------
    def _metadata(self, network_state) -> dict:
        from .. import __version__

        impulse, centre = _impulse(self.A)
        return {
            "kind": KIND,
            "layout_version": FORMAT_VERSION,
            "operator": repr(self.A),
            "description": self.A._describe(),
            "fingerprint": self.fingerprint(),
            "in_shape": list(self.A.in_shape),
            "out_shape": list(self.A.out_shape),
            "impulse": torch.from_numpy(impulse),
            "impulse_centre": list(centre),
            "beta": self.beta,
            "architecture": self.architecture,
            "form": self.form,
            "options": dict(self.options),
            "receptive_field": int(self.network.receptive_field),
            "dtype": self.dtype,
            "seed": self.seed,
            "training": self.training,
            "weights_sha256": _weights_sha256(network_state),
            "torch_version": str(torch.__version__),
            "ppsolve_version": str(__version__),
        }

    def _write(self, path, resume=None):
        network = {k: v.detach().cpu().clone() for k, v in self.network.state_dict().items()}
        state = {"network": network}
        if resume is not None:
            state["resume"] = resume
        save_checkpoint(path, {"metadata": self._metadata(network), "state": state})

    def save(self, path) -> None:
        """Write weights and metadata (operator ``repr`` and fingerprint, shapes, beta, architecture and options,
        training figures, torch version, a sha256 of the weights) to one torch file, atomically."""
        self._write(path)

    def _check_compatible(self, meta, path, allow_resize):
        recorded = float(meta["beta"])
        if abs(recorded - self.beta) > 1e-12 * abs(recorded):
            raise ValueError(f"{path}: trained for beta = {recorded!r}, given beta = {self.beta!r}")
        if meta.get("form", "woodbury") != self.form:
            raise ValueError(f"{path}: trained for form {meta.get('form', 'woodbury')!r}, requested {self.form!r}")
        expected, given = meta["fingerprint"], self.fingerprint()
        if expected == given:
            return
        why = _same_up_to_size(meta, self.A, int(meta.get("receptive_field", 1 << 30)))
        if allow_resize and why is None:
            return
        hint = ""
        if allow_resize:
            hint = f" (allow_resize refused: {why})"
        elif why is None:
            hint = " (the same operator at another image size: pass allow_resize=True)"
        elif meta.get("description") == self.A._describe() and tuple(meta["in_shape"]) != self.A.in_shape:
            hint = f" (another image size, but allow_resize=True would refuse it: {why})"
        raise ValueError(
            f"{path}: trained for operator {meta['operator']} (fingerprint {expected}), given {self.A!r} "
            f"(fingerprint {given}){hint}"
        )

    @classmethod
    def load(cls, path, A: LinearOperator, beta: float | None = None, allow_resize: bool = False,
             track_residual: bool = False) -> LearnedInverse:
        """Read a file written by ``save`` (or a training checkpoint) for operator ``A`` and penalty ``beta``.

        Refuses (``ValueError`` naming expected vs given) another operator (``A.fingerprint()`` differs) or
        another ``beta`` (relative difference > 1e-12; ``None``: the recorded one). A damaged file raises
        ``ValueError`` ("corrupted or truncated"): unreadable, or its content digest or the weights' sha256 do
        not match.

        ``allow_resize=True`` also accepts the same operator at another (larger) image size, which convolutional
        networks allow as their kernels do not depend on the size. The check is weaker than the fingerprint:
        the operator descriptions without shapes must be equal (``A._describe()``: class names, kernel size,
        boundary, sampling factor and offset, but *not* the kernel values), the channel axes and the ratio of
        input to measurement size equal, and the footprint of one centre measurement, ``A^T e_c``, equal to
        the recorded one (to 1e-9 relative) once aligned, which does compare the kernel values (away from the
        border; how the operator treats the border is not compared). It also refuses a network whose footprint
        (``receptive_field``: 2 k - 1 for the linear network) is wider than the measurement grid it was trained
        on: training then fixed only the kernel folded onto that grid, and it is wrong at other sizes.
        """
        meta, state = _read(path)
        beta = meta["beta"] if beta is None else check_beta(beta)
        form = meta.get("form", "woodbury")  # files written before the direct form existed are Woodbury
        if form == "direct" and tuple(A.in_shape) != tuple(A.out_shape):
            raise ValueError(f"{path}: a direct-form inverse (for a square operator), given {A!r} with shapes "
                             f"{A.in_shape} -> {A.out_shape}")
        inverse = cls(A, beta, meta["architecture"], form=form, seed=int(meta.get("seed", 0)),
                      dtype=meta["dtype"], track_residual=track_residual, **meta["options"])
        inverse._check_compatible(meta, path, allow_resize)
        try:
            inverse.network.load_state_dict(state["network"])
        except RuntimeError as exc:
            raise ValueError(f"{path}: the weights do not fit the recorded architecture: {exc}") from exc
        inverse.network.requires_grad_(False)
        inverse.network.eval()
        inverse.training = meta.get("training") or {}
        return inverse

    def __repr__(self):
        trained = f", trained {self.training['steps']} steps" if self.training else ", untrained"
        return (f"LearnedInverse(A={self.A!r}, beta={self.beta:g}, architecture={self.architecture!r}, "
                f"form={self.form!r}{trained})")
