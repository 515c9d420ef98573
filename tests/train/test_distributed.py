"""ppsolve.train under torch.distributed: two processes (gloo, loopback) train a denoiser as one process does with
the same global batch; only rank 0 writes the checkpoint; a stop on one rank stops both, and both resume from
the same file.

Tolerance: the two-process weights differ from the one-process ones only by float32 rounding (each rank's
convolution sums over half the batch and the gradient all-reduce adds the two halves in another order), so
they must agree to ``TOL`` relative to the largest weight, 1e-5; measured: below 1e-7
(``docs/distributed-training.md``).
A run on the same rows on both ranks instead of disjoint ones is about 0.1 away.
"""
from __future__ import annotations

import datetime
import os
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ppsolve import modelfile
from ppsolve.nn import SigmaDnCNN
from ppsolve.train import train_denoiser
from tests.train._shared import TRAIN, _images, _sampler

pytestmark = pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                                reason="torch.distributed with gloo is needed")

WORLD = 2
TOL = 1e-5  # relative to the largest weight
VAL = _images(6, 1)
STOP_AT = 4  # rank 1's callback stops the first array run after this many steps (mid-epoch 1)


class Critic(nn.Module):
    """A small discriminator without BatchNorm (one logit per image)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 4, stride=2, padding=1)
        self.head = nn.Linear(2, 1)

    def forward(self, x):
        return self.head(F.leaky_relu(self.conv(x.unsqueeze(1)), 0.2).mean(dim=(2, 3))).squeeze(1)


def _model():
    torch.manual_seed(0)  # the same initial weights in every run (DDP copies rank 0's anyway)
    return SigmaDnCNN(channels=1, features=4, dilations=(1, 2, 1))  # no dropout, no BatchNorm


def _train_array(checkpoint=None, **options):
    """40 images, a shuffle per epoch, global batch 8: 2 epochs of 5 steps, validated after each."""
    model = _model()
    meta = train_denoiser(model, TRAIN, noise=(0.05, 0.3), noise_level_input=True, epochs=2, batch_size=8, lr=1e-2,
                          seed=3, val_images=VAL, checkpoint=checkpoint, checkpoint_every=3, progress=False,
                          log=None, **options)
    return model, meta


def _train_sampler():
    """A batch sampler, global batch 6, with a discriminator (its gradients averaged by hand)."""
    model = _model()
    torch.manual_seed(1)
    critic = Critic()
    train_denoiser(model, _sampler, steps_per_epoch=3, noise=(0.05, 0.3), noise_level_input=True, epochs=2,
                   batch_size=6, lr=1e-2, seed=5, adversarial=(critic, 0.05), progress=False, log=None)
    return model, critic


def _weights(*modules) -> dict:
    return {f"{i}.{k}": v.detach().clone() for i, m in enumerate(modules) for k, v in m.state_dict().items()}


def _worker(rank: int, port: int, folder: str) -> None:
    """One of the two processes: train both set-ups, record what it wrote, save its results."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD))
    if Path("/sys/class/net/lo").exists():
        os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    torch.distributed.init_process_group("gloo", init_method="env://", timeout=datetime.timedelta(seconds=60))
    try:
        folder = Path(folder)
        saves = []
        save = modelfile.save

        def recording_save(path, *args, **kwargs):
            saves.append(str(path))
            return save(path, *args, **kwargs)

        modelfile.save = recording_save
        ckpt = folder / "array.ckpt.safetensors"

        try:
            _train_array(ckpt, callback=_stop_at(STOP_AT) if rank == 1 else None)
            stopped = None
        except KeyboardInterrupt:
            stopped = modelfile.read_header(ckpt)["resume"]["step"]
        model, meta = _train_array(ckpt)  # every rank resumes from the same file
        resumed, _ = _train_array(folder / "one.ckpt.safetensors")  # a one-process checkpoint, resumed on two
        sampled = _train_sampler()
        try:
            train_denoiser(_model(), TRAIN, batch_size=7, noise_level_input=True, epochs=1, progress=False, log=None)
            error = ""
        except ValueError as err:
            error = str(err)
        modelfile.save = save
        results = {"array": _weights(model), "resumed": _weights(resumed), "sampler": _weights(*sampled),
                   "saves": saves, "stopped": stopped, "error": error,
                   "figures": {k: meta["figures"][k] for k in ("loss", "val_psnr")}}
        torch.save(results, folder / f"rank{rank}.pt")
    finally:
        torch.distributed.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(folder: Path, timeout: float = 180.0) -> list[dict]:
    context = torch.multiprocessing.spawn(_worker, args=(_free_port(), str(folder)), nprocs=WORLD, join=False)
    deadline = time.monotonic() + timeout
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"the {WORLD} training processes did not finish within {timeout:.0f} s")
    return [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]


def _stop_at(step):
    def callback(info):
        if info["global_step"] == step:
            raise KeyboardInterrupt

    return callback


def _max_diff(a: dict, b: dict) -> float:
    """max |a - b| over every tensor, relative to the largest |b|."""
    assert a.keys() == b.keys()
    scale = max(float(t.abs().max()) for t in b.values())
    return max(float((a[k].double() - b[k].double()).abs().max()) for k in a) / scale


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ddp")
    with pytest.raises(KeyboardInterrupt):  # one process, stopped after STOP_AT steps, for the workers to resume
        _train_array(folder / "one.ckpt.safetensors", callback=_stop_at(STOP_AT))
    return folder, _spawn(folder)


def test_two_processes_train_as_one_with_the_same_global_batch(two_processes):
    _, ranks = two_processes
    model, meta = _train_array()
    single = _weights(model)
    single_sampler = _weights(*_train_sampler())
    for r in ranks:
        assert _max_diff(r["array"], single) < TOL  # interrupted on rank 1, resumed on both, as one process
        assert _max_diff(r["resumed"], single) < TOL  # begun on one process, finished on two
        assert _max_diff(r["sampler"], single_sampler) < TOL  # discriminator included
    for key in ranks[0]["array"]:  # DDP keeps the ranks identical
        assert torch.equal(ranks[0]["array"][key], ranks[1]["array"][key])
    # the logged losses are the global batch's means, validation is rank 0's, on every rank
    for r in ranks:
        assert r["figures"]["loss"] == pytest.approx(meta["figures"]["loss"], rel=1e-5)
        assert r["figures"]["val_psnr"] == pytest.approx(meta["figures"]["val_psnr"], rel=1e-5)


def test_only_rank_0_writes_and_a_stop_on_one_rank_stops_both(two_processes):
    folder, ranks = two_processes
    ckpt = str(folder / "array.ckpt.safetensors")
    assert ranks[1]["saves"] == []
    assert set(ranks[0]["saves"]) == {ckpt, str(folder / "one.ckpt.safetensors")}
    assert ranks[0]["stopped"] == ranks[1]["stopped"] == STOP_AT  # both stopped, after one save at that step
    header, tensors = modelfile.load(ckpt)
    assert header["progress"]["complete"]
    rng = modelfile.unpack(header["resume"], tensors)["trainer"]["rng"]
    states = rng["torch_global_ranks"]  # each rank's global RNG (dropout), gathered by rank 0
    assert len(states) == WORLD and not torch.equal(states[0], states[1])
    for name, value in ranks[0]["array"].items():
        assert torch.equal(tensors["model." + name[2:]], value)


def test_a_global_batch_that_does_not_split_is_refused(two_processes):
    _, ranks = two_processes
    for r in ranks:
        assert r["error"] == ("train_denoiser batch_size 7: the global batch must split evenly over the 2 "
                              "processes; choose a multiple of 2")


def test_distributed_true_without_a_process_group_is_refused():
    with pytest.raises(ValueError, match="distributed=True: torch.distributed is not initialised"):
        train_denoiser(_model(), TRAIN, batch_size=8, noise_level_input=True, epochs=1, progress=False, log=None,
                       distributed=True)
