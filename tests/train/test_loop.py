"""ppsolve.train.loop: the generic resumable Trainer (schedule, checkpoints, resume, stops), on a toy subclass
that fits one parameter towards a target."""
from __future__ import annotations

import pytest
import torch

from ppsolve import modelfile
from ppsolve.train.loop import Trainer, learning_rate

TOTAL = 10


class Toy(Trainer):
    """Fits ``w`` (one float64 value, from 0) to ``target`` by least squares. It records the step number and the
    learning rate of each param group at every ``train_step``; ``stop_at`` raises ``KeyboardInterrupt`` from
    ``notify`` once that many steps are done, ``nan_at`` makes the loss of that (0-based) step NaN."""

    def __init__(self, target: float = 3.0, *, optimizer: str = "adam", stop_at=None, nan_at=None, **kwargs):
        super().__init__(**{"total_steps": TOTAL, "lr": 0.1, "progress": False, **kwargs})
        self.target = float(target)
        self.w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        self.opt = (torch.optim.Adam([self.w], lr=self.lr) if optimizer == "adam"
                    else torch.optim.SGD([self.w], lr=self.lr))
        self.counter = 0  # train_step calls over every run that led here (restored from the checkpoint)
        self.calls: list[int] = []  # self.step at each train_step of this run
        self.rates: list[list[float]] = []  # the param groups' learning rates at each train_step of this run
        self.stop_at, self.nan_at = stop_at, nan_at

    def scheduled_optimizers(self):
        return [self.opt]

    def train_step(self):
        self.calls.append(self.step)
        self.rates.append([group["lr"] for group in self.opt.param_groups])
        self.opt.zero_grad()
        loss = (self.w - self.target).square().sum()
        loss.backward()
        self.opt.step()
        self.counter += 1
        return {"loss": float("nan") if self.step == self.nan_at else float(loss.detach())}

    def notify(self, losses):
        if self.step == self.stop_at:
            raise KeyboardInterrupt

    def state(self):
        return {"optimizer": self.opt.state_dict(), "counter": self.counter}

    def load_state(self, state):
        self.opt.load_state_dict(state["optimizer"])
        self.counter = int(state["counter"])

    def header(self):
        return {"kind": "toy", "target": self.target}

    def weights(self):
        return {"w": self.w.detach().clone()}

    def load_weights(self, tensors):
        with torch.no_grad():
            self.w.copy_(tensors["w"])

    def check_resumable(self, header, path):
        if header.get("target") != self.target:
            raise ValueError(f"{path}: made for target {header.get('target')}, not {self.target}")


def _resume_step(path):
    return modelfile.read_header(path)["resume"]["step"]


def test_learning_rate_schedule_values():
    # geometric decay from lr at step 0 to lr_final at the last step: a constant ratio between steps
    rates = [learning_rate(step, 7, 1e-2, 1e-4) for step in range(7)]
    assert rates[0] == pytest.approx(1e-2, rel=1e-12) and rates[-1] == pytest.approx(1e-4, rel=1e-12)
    assert rates[3] == pytest.approx(1e-3, rel=1e-12)  # halfway (step 3 of 0..6): the geometric mean
    ratio = (1e-4 / 1e-2) ** (1 / 6)
    assert all(b / a == pytest.approx(ratio, rel=1e-12) for a, b in zip(rates, rates[1:]))
    assert learning_rate(0, 1, 1e-2, 1e-4) == pytest.approx(1e-2)  # a one-step run runs at lr
    # constant without lr_final
    assert [learning_rate(step, 5, 0.3) for step in range(5)] == [0.3] * 5
    # warm-up: times (step + 1) / warmup_steps over the first steps, then 1
    assert [learning_rate(step, 100, 0.1, None, 4) for step in range(6)] == pytest.approx(
        [0.025, 0.05, 0.075, 0.1, 0.1, 0.1], rel=1e-12)
    decayed = learning_rate(1, 11, 1.0, 1e-2)
    assert learning_rate(1, 11, 1.0, 1e-2, 4) == pytest.approx(decayed * 2 / 4, rel=1e-12)  # both together
    toy = Toy(lr=1e-2, lr_final=1e-4, warmup_steps=3)
    assert [toy.learning_rate(step) for step in range(TOTAL)] == [
        learning_rate(step, TOTAL, 1e-2, 1e-4, 3) for step in range(TOTAL)]


def test_schedule_is_applied_to_every_param_group_each_step():
    toy = Toy(optimizer="sgd", lr=0.2, lr_final=0.02, warmup_steps=3)
    toy.opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 99.0})
    toy.fit()
    expected = [learning_rate(step, TOTAL, 0.2, 0.02, 3) for step in range(TOTAL)]
    assert toy.calls == list(range(TOTAL))
    assert toy.rates == [[rate, rate] for rate in expected]
    # and the updates used them: plain SGD on (w - t)^2 is w <- w - rate * 2 (w - t)
    w = 0.0
    for rate in expected:
        w -= rate * 2 * (w - 3.0)
    torch.testing.assert_close(toy.w.detach(), torch.tensor([w], dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_interrupt_from_notify_saves_and_resumes_to_the_uninterrupted_weights(tmp_path):
    reference = Toy().fit()
    assert reference.calls == list(range(TOTAL)) and reference.finished
    ckpt = tmp_path / "toy.safetensors"
    stopped = Toy(checkpoint=ckpt, stop_at=4)
    with pytest.raises(KeyboardInterrupt):
        stopped.fit()
    assert stopped.interrupted and stopped.step == 4 and stopped.calls == [0, 1, 2, 3]
    assert _resume_step(ckpt) == 4  # saved at that step boundary
    resumed = Toy(checkpoint=ckpt).fit()
    assert resumed.calls == list(range(4, TOTAL))  # it went on from step 4, not from the start
    assert resumed.counter == TOTAL  # the training state came back too
    assert torch.equal(resumed.w.detach(), reference.w.detach())  # the optimiser's moments included: exactly
    assert _resume_step(ckpt) == TOTAL


def test_finished_checkpoint_returns_at_once(tmp_path):
    ckpt = tmp_path / "toy.safetensors"
    done = Toy(checkpoint=ckpt).fit()
    again = Toy(checkpoint=ckpt)
    assert again.fit() is again
    assert again.calls == [] and again.step == TOTAL and again.finished
    assert torch.equal(again.w.detach(), done.w.detach())


def test_check_resumable_refuses_another_set_up(tmp_path):
    ckpt = tmp_path / "toy.safetensors"
    with pytest.raises(KeyboardInterrupt):
        Toy(checkpoint=ckpt, stop_at=2).fit()
    other = Toy(target=5.0, checkpoint=ckpt)
    with pytest.raises(ValueError, match="made for target 3.0, not 5.0"):
        other.fit()
    assert other.calls == [] and other.step == 0
    assert modelfile.read_header(ckpt)["target"] == 3.0 and _resume_step(ckpt) == 2  # left as it was
    fresh = Toy(target=5.0, checkpoint=ckpt, resume=False).fit()  # resume=False starts over and overwrites
    assert fresh.calls == list(range(TOTAL)) and modelfile.read_header(ckpt)["target"] == 5.0


def test_non_finite_loss_names_the_step():
    toy = Toy(nan_at=3)
    with pytest.raises(FloatingPointError, match=r"Toy: the loss became nan at step 3;"):
        toy.fit()
    assert toy.calls == [0, 1, 2, 3] and toy.step == 3


def test_checkpoint_every_writes_at_those_steps(tmp_path):
    ckpt = tmp_path / "toy.safetensors"

    class Watched(Toy):
        """Records, at each step, the step of the checkpoint on disk (None before the first)."""

        def train_step(self):
            self.on_disk.append(_resume_step(ckpt) if ckpt.exists() else None)
            return super().train_step()

    toy = Watched(checkpoint=ckpt, checkpoint_every=3)
    toy.on_disk = []
    toy.fit()
    assert toy.on_disk == [None] * 3 + [3] * 3 + [6] * 3 + [9]
    assert _resume_step(ckpt) == TOTAL  # and at the end


def test_file_without_training_state_is_refused(tmp_path):
    path = tmp_path / "weights.safetensors"
    modelfile.save(path, {"kind": "toy"}, {"w": torch.zeros(1)})
    toy = Toy(checkpoint=path)
    with pytest.raises(ValueError, match="no training state"):
        toy.fit()
    assert toy.calls == []
