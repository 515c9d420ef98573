r"""Training a ``LearnedInverse`` from pure noise: the paper's loss (10) on ``ppsolve.train.loop.Trainer``.

Each step draws a batch of ``e ~ N(0, I)`` on the measurement space (a seeded ``torch.Generator``) and takes
one Adam step on ``mean ||e - C M e||^2 + mean ||e - M C e||^2`` with ``M = B^{-1}`` (Woodbury form) or
``M = A^T A + beta I`` (direct form). Every ``log_every`` steps the loss is logged; 20 times per run and at the
end, the held-out relative residual ``||e - C M e|| / ||e||`` on 8 fixed noise probes. The checkpoint is a
learned-inverse model file (``learned_file``) with the training state beside it, so it loads as the inverse.
"""
from __future__ import annotations

import contextlib

import torch

from .._validate import positive_int, real_number
from .._version import __version__
from ..train.loop import Trainer
from . import learned_file

__all__ = ["DEFAULT_TRAINING", "InverseTrainer"]

#: default training settings of each architecture: Adam steps, noise images per step, learning rates
DEFAULT_TRAINING = {
    "linear": {"steps": 2000, "batch_size": 16, "lr": 3e-2, "lr_final": 1e-4},
    "paper": {"steps": 2000, "batch_size": 16, "lr": 1e-3, "lr_final": 1e-5},
}


class InverseTrainer(Trainer):
    """Trains ``inverse.network`` in place (see ``LearnedInverse.train`` for the parameters)."""

    def __init__(self, inverse, *, steps=None, batch_size=None, lr=None, lr_final=None, checkpoint=None,
                 progress=True, log_every=None, checkpoint_every=250, callback=None, threads=None):
        defaults = DEFAULT_TRAINING[inverse.architecture]
        self.config = {
            "steps": positive_int(defaults["steps"] if steps is None else steps, "steps"),
            "batch_size": positive_int(defaults["batch_size"] if batch_size is None else batch_size, "batch_size"),
            "lr": real_number(defaults["lr"] if lr is None else lr, "lr", positive=True),
            "lr_final": real_number(defaults["lr_final"] if lr_final is None else lr_final, "lr_final", positive=True),
            "seed": inverse.seed,
            "dtype": inverse.dtype,
        }
        n = self.config["steps"]
        super().__init__(total_steps=n, lr=self.config["lr"], lr_final=self.config["lr_final"], checkpoint=checkpoint,
                         checkpoint_every=positive_int(checkpoint_every, "checkpoint_every"), progress=progress,
                         threads=threads)
        self.description = f"LearnedInverse[{inverse.architecture}]"
        self.inverse, self.callback = inverse, callback
        self.log_every = max(1, n // 100) if log_every is None else positive_int(log_every, "log_every")
        self.check_every = max(1, n // 20)
        self.dtype = learned_file.DTYPES[inverse.dtype]
        self.optimizer = torch.optim.Adam(inverse.network.parameters(), lr=self.config["lr"])
        self.gen = torch.Generator().manual_seed(inverse.seed + 1_000_003)
        self.log = {"step": [], "loss": [], "seconds": []}
        self.check = {"step": [], "residual": []}
        probes = torch.randn((8,) + inverse.A.out_shape, generator=torch.Generator().manual_seed(inverse.seed + 7),
                             dtype=torch.float64).to(self.dtype)
        self.probes, self.probes_binv = probes, inverse._binv(probes)
        self._last_loss = float("nan")

    def held_out(self) -> float:
        """``||e - C M e|| / ||e||`` on the fixed probes."""
        with torch.no_grad():
            net = self.inverse.network
            return float(torch.linalg.vector_norm(self.probes - net(self.probes_binv))
                         / torch.linalg.vector_norm(self.probes))

    # -- Trainer's methods ------------------------------------------------------------------------------------
    def scheduled_optimizers(self):
        return [self.optimizer]

    def train_step(self) -> dict:
        inv, net = self.inverse, self.inverse.network
        e = torch.randn((self.config["batch_size"],) + inv.A.out_shape, generator=self.gen, dtype=self.dtype)
        loss = torch.mean((e - net(inv._binv(e))) ** 2) + torch.mean((e - inv._binv(net(e))) ** 2)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self._last_loss = float(loss.detach())
        return {"loss": self._last_loss}

    def after_step(self, losses) -> None:
        step = self.step - 1
        if step % self.log_every == 0:
            self.log["step"].append(step)
            self.log["loss"].append(losses["loss"])
            self.log["seconds"].append(self.elapsed())
        if step % self.check_every == 0:
            self.check["step"].append(step)
            self.check["residual"].append(self.held_out())

    def notify(self, losses) -> None:
        if self.callback is not None:
            self.callback(self.step - 1, losses["loss"])

    def finish(self) -> None:
        self.check["step"].append(self.total_steps)
        self.check["residual"].append(self.held_out())
        self.inverse.training = dict(self.config, log_every=self.log_every, final_loss=self._last_loss,
                                     final_check=self.check["residual"][-1], seconds=self.elapsed(), log=self.log,
                                     check=self.check)

    def state(self) -> dict:
        return {"optimizer": self.optimizer.state_dict(), "generator": self.gen.get_state(), "log": self.log,
                "check": self.check, "config": self.config, "training": self.inverse.training}

    def load_state(self, state) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.gen.set_state(state["generator"])
        self.log = {k: list(v) for k, v in state["log"].items()}
        self.check = {k: list(v) for k, v in state["check"].items()}
        self.inverse.training = state["training"] or {}

    def header(self) -> dict:
        return learned_file.header(self.inverse, __version__)

    def weights(self) -> dict:
        return learned_file.tensors(self.inverse)

    def load_weights(self, tensors) -> None:
        self.inverse.network.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("network.")})
        self.inverse._copies.clear()

    def check_resumable(self, header, path) -> None:
        inv = self.inverse
        learned_file.check_operator(header, path, inv.A, inv.fingerprint(), inv.beta, inv.form, False, lambda: None)
        recorded = (header.get("resume") or {}).get("trainer", {}).get("config")
        expected = {"architecture": header.get("architecture"), "options": header.get("options"),
                    "dtype": header.get("dtype"), "settings": recorded}
        given = {"architecture": inv.architecture, "options": inv.options, "dtype": inv.dtype, "settings": self.config}
        diffs = [f"{k}: checkpoint {expected[k]!r}, requested {given[k]!r}" for k in expected if expected[k] != given[k]]
        if diffs:
            raise ValueError(f"{path}: cannot resume, the checkpoint was made with other settings ("
                             + "; ".join(diffs) + "); use another checkpoint path or delete it")

    @contextlib.contextmanager
    def run_context(self):
        net = self.inverse.network
        net.requires_grad_(True)
        net.train()
        try:
            yield
        finally:
            net.requires_grad_(False)
            net.eval()
            self.inverse._copies.clear()
