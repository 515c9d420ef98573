r"""The learned inverse (paper section 3.2, eqs. 9-11): a network ``C ~ B`` trained from pure noise.

By Woodbury, ``(A^T A + beta I)^{-1} = beta^{-1} (I - A^T B A)`` with ``B = (beta I + A A^T)^{-1}`` acting on
the (smaller) measurement space. ``LearnedInverse`` trains a network ``C`` on that space from Gaussian noise
``e`` with the loss (10)

    L = mean ||e - C B^{-1} e||^2 + mean ||e - B^{-1} C e||^2,      B^{-1} e = beta e + A A^T e

(per-pixel means rather than the paper's sums: a constant factor), which needs only ``A`` and ``A^T``, and
then answers ``z = (b - A^T C(A b)) / beta`` (eq. 11): two operator applications and one network pass, no
inner loop. Nothing about images is learned: the training data are noise, so the network is tied to
``(A, beta)`` only, and its model file records both and refuses other ones (``learned_file``).

Architectures (``ppsolve.nn.symmetric``)
    ``"linear"`` (default): ``C = F^T F``, one bank of ``K = 16`` convolutions with ``7 x 7`` kernels on the
    measurement grid and its exact adjoint: linear, symmetric, positive semi-definite. Circular padding
    when ``A`` is periodic (``A.fourier_structure()`` is not None: ``A A^T`` and ``B`` are then circulant,
    and circular convolutions are exactly the right model class), zero padding otherwise, where the network
    also learns ``EDGE_AUTO`` gains per side (``B`` is larger near the border, which no convolution
    expresses). The weights start near ``s I`` with ``s`` the best scalar fit to ``B`` over noise probes
    (``A`` / ``A^T`` calls only, no spectrum, no dense matrix) and are learned from noise.
    ``"paper"``: the paper's Table 4 network (4 x 4 kernels, 32 and 64 channels, ReLUs, shared weights).

The kernel size is a trade-off: a footprint ``2 k - 1`` that fits the measurement grid it was trained on makes
the network valid at other sizes too (``load(..., allow_resize=True)``); a wider one is only fixed folded onto
that grid, and ``load`` refuses to resize it.

Forms (``form=``)
    ``"woodbury"``: the paper's: ``C ~ B`` on the measurement space, ``z = (b - A^T C(A b)) / beta``. It is what
    makes the network small when ``A`` has fewer outputs than inputs (super-resolution: ``d^2`` times fewer).
    ``"direct"``: ``C ~ (A^T A + beta I)^{-1}`` itself, trained with the same loss on
    ``M = A^T A + beta I`` in place of ``B^{-1}``, and ``z = C b``. Only for square operators
    (``A.in_shape == A.out_shape``, e.g. deblurring), where Woodbury saves nothing and costs accuracy: an
    error ``E`` in ``C`` reaches ``z`` as ``A^T E A b / beta``, amplified by ``||A||^2 / beta``, while the
    direct form passes it on unamplified. ``"auto"`` (default): direct for square operators, else Woodbury.
    The inverse of a blur has a wide kernel at small ``beta``: pass a larger ``kernel_size`` and train at a
    grid larger than the footprint.

Training (``train`` / ``fit``) runs on ``ppsolve.train.loop.Trainer``: resumable atomic checkpoints (also
valid ``load`` files), Ctrl-C at a step boundary, ``PPSOLVE_THREADS`` threads. Measured accuracy and
training times are in ``docs/learned-inverse.md``.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import torch

from .. import modelfile
from .._array import is_numpy, is_torch, namespace, to_numpy
from .._validate import choice, real_number
from .._version import __version__
from ..nn.registry import SYMMETRIC_ARCHITECTURES
from ..nn.symmetric import ARCHITECTURES, build_symmetric_net
from ..operators.base import LinearOperator
from . import learned_file
from .base import Inverse, check_beta
from .learned_file import DTYPES, FORMS
from .learned_training import DEFAULT_TRAINING, InverseTrainer

__all__ = ["DEFAULT_OPTIONS", "DEFAULT_TRAINING", "EDGE_AUTO", "LearnedInverse"]

#: default options of each architecture ("padding": "auto" is resolved from the operator)
DEFAULT_OPTIONS = {
    "linear": {"channels": 16, "kernel_size": 7, "padding": "auto", "init_noise": 1e-2, "edge": "auto"},
    "paper": {"channels": [32, 64], "kernel_size": 4},
}
#: edge gains per side the "linear" network gets with zero padding (see ``LinearSymmetricNet``'s ``edge``)
EDGE_AUTO = 4


class _Preconditioner:
    """``r -> C r + shift r`` on the measurement space (Woodbury form) or the input space (direct form): ``space``
    (see ``LearnedInverse.preconditioner``)."""

    def __init__(self, owner: LearnedInverse, shift: float, lambda_min: float, lambda_max: float):
        self._owner, self.shift = owner, float(shift)
        self.space = "measurement" if owner.form == "woodbury" else "input"
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
        choice(form, "form", FORMS)
        square = tuple(A.in_shape) == tuple(A.out_shape)
        if form == "auto":
            form = "direct" if square else "woodbury"
        if form == "direct" and not square:
            raise ValueError(f"form='direct' needs a square operator (in_shape == out_shape); {A!r} maps "
                             f"{A.in_shape} to {A.out_shape}: use form='woodbury'")
        self.form = form
        choice(architecture, "architecture", ARCHITECTURES)
        choice(dtype, "dtype", tuple(DTYPES))
        if len(A.out_shape) not in (2, 3):
            raise ValueError(
                f"LearnedInverse: the networks act on measurement images (h, w) or (C, h, w); {A!r} has output "
                f"shape {A.out_shape}"
            )
        self.architecture, self.dtype, self.seed = architecture, dtype, int(seed)
        self.options = self._resolve_options(architecture, options)
        self.network = build_symmetric_net(
            architecture, A.out_shape, seed=self.seed, dtype=DTYPES[dtype], **self.options
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
        if "scale" not in resolved:
            resolved["scale"] = self._initial_scale()
        # the checks (types, ranges) a model file's options get too: one place, nn.registry
        return SYMMETRIC_ARCHITECTURES[architecture].config(resolved, f"LearnedInverse[{architecture}] options")

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
              threads: int | None = None, **arch_options) -> LearnedInverse:
        """Train ``C`` for ``(A, beta)`` from Gaussian noise with loss (10) and return the inverse.

        Parameters
        ----------
        A, beta : the operator and penalty.
        architecture : "linear" (default) or "paper"; ``**arch_options`` go to the network. ``form``: see the class.
        steps, batch_size, lr, lr_final : Adam steps, noise images per step, and the learning rate, which
            decays geometrically from ``lr`` at step 0 to ``lr_final`` at the last step. ``None``: the
            architecture's defaults (``DEFAULT_TRAINING``).
        seed : seeds the initial weights and the noise (``torch.Generator`` objects): equal seeds, equal results.
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
        threads : threads for the run (default ``PPSOLVE_THREADS``, see ``ppsolve.threads``).
        """
        inverse = cls(A, beta, architecture, form=form, seed=seed, dtype=dtype, **arch_options)
        inverse.fit(steps=steps, batch_size=batch_size, lr=lr, lr_final=lr_final, checkpoint=checkpoint,
                    progress=progress, log_every=log_every, checkpoint_every=checkpoint_every, callback=callback,
                    threads=threads)
        return inverse

    def fit(self, steps=None, batch_size=None, lr=None, lr_final=None, checkpoint=None, progress=True,
            log_every=None, checkpoint_every=250, callback=None, threads=None) -> LearnedInverse:
        """Train this inverse's network in place (see ``train`` for the parameters); returns ``self``."""
        InverseTrainer(self, steps=steps, batch_size=batch_size, lr=lr, lr_final=lr_final, checkpoint=checkpoint,
                       progress=progress, log_every=log_every, checkpoint_every=checkpoint_every, callback=callback,
                       threads=threads).fit()
        self._copies.clear()
        return self

    # -- preconditioner ---------------------------------------------------------------------------------------------
    def preconditioner(self, shift: float | None = None, iterations: int = 30, seed: int = 0) -> _Preconditioner:
        """``M r = C r + shift r``: a symmetric positive definite approximation of the inverse the network learned,
        for preconditioned CG. Its ``space`` says where it acts:

        * Woodbury form: ``M ~ (beta I + A A^T)^{-1}`` on the measurement space, for CG on the small system
          ``(beta I + A A^T) w = A b`` (``ConjugateGradient(A, beta, preconditioner=inverse.preconditioner())``);
        * direct form: ``M ~ (A^T A + beta I)^{-1}`` on the input space (``ConjugateGradient(A, beta,
          preconditioner=M, space="input")``). For a convolution ``A^T A = A A^T``, so ``M`` is also
          ``(beta I + A A^T)^{-1}``: a periodic blur's learned inverse, restricted to the frame, preconditions the
          valid model ``crop o blur`` (``fourier.periodic_preconditioner(A, beta, periodic_inverse=M)``).

        Only the ``"linear"`` architecture qualifies: ``C = F^T F`` is symmetric and positive semi-definite by
        construction. Definiteness: ``iterations`` power iterations estimate ``lambda_max(C)``, as many on
        ``lambda_max I - C`` estimate ``lambda_min(C)`` (a Rayleigh quotient, hence an upper bound on the true
        one: it flags a (nearly) singular ``C`` but cannot certify positivity). ``shift`` (default
        ``1e-6 lambda_max``, raised so that the estimated ``lambda_min + shift`` is at least that) then makes
        ``M`` definite whatever the rounding; for a trained ``C ~ B`` (``lambda_min ~ 1 / (beta + ||A||^2)``)
        it changes ``M`` by about ``1e-6`` relative. The estimates are kept on the returned callable
        (``lambda_min_estimate``, ``lambda_max_estimate``, ``shift``).
        """
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
        else:
            shift = real_number(shift, "shift")
        if lam_min + shift <= 0:
            warnings.warn(f"preconditioner: estimated lambda_min(C) + shift = {lam_min + shift:.3e} <= 0; "
                          "the preconditioner may not be definite", RuntimeWarning, stacklevel=2)
        return _Preconditioner(self, shift, lam_min, lam_max)

    # -- save / load ------------------------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the network and what it is for (``learned_file``: operator ``repr``, description and
        fingerprint, shapes, beta, form, architecture and options, training figures, versions) to one model
        file, atomically."""
        modelfile.save(path, learned_file.header(self, __version__), learned_file.tensors(self))

    @classmethod
    def load(cls, path, A: LinearOperator, beta: float | None = None, allow_resize: bool = False,
             track_residual: bool = False) -> LearnedInverse:
        """Read a file written by ``save`` (or a training checkpoint) for operator ``A`` and penalty ``beta``.

        Refuses (``ValueError`` naming expected vs given) another operator (``A.fingerprint()`` differs) or
        another ``beta`` (relative difference > 1e-12; ``None``: the recorded one), before any network is
        built. A damaged file raises ``ValueError`` ("corrupted or truncated").

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
        beta = None if beta is None else check_beta(beta)
        fingerprint = {}

        def fingerprint_of():
            fingerprint.setdefault("value", A.fingerprint())
            return fingerprint["value"]

        meta, tensors = learned_file.read(path, A, beta, allow_resize, fingerprint_of)
        inverse = cls(A, meta["beta"], meta["architecture"], form=meta["form"], seed=int(meta.get("seed", 0)),
                      dtype=meta["dtype"], track_residual=track_residual, **meta["options"])
        inverse._fingerprint = fingerprint.get("value")
        inverse.network.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("network.")})
        inverse.network.requires_grad_(False)
        inverse.network.eval()
        inverse.training = meta.get("training") or {}
        return inverse

    def __repr__(self):
        trained = f", trained {self.training['steps']} steps" if self.training else ", untrained"
        return (f"LearnedInverse(A={self.A!r}, beta={self.beta:g}, architecture={self.architecture!r}, "
                f"form={self.form!r}{trained})")
