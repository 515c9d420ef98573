r"""A noise-conditional image network run by ONNX Runtime on the CPU: the same map, 1.26-1.36x faster here.

``OnnxNetwork(model)`` exports a torch network ``model(v, sigma)`` (``SigmaUNet``, ``SigmaDnCNN``: grey or
colour images, a noise level) to ONNX in memory (``torch.onnx.export``, the TorchScript exporter, with the
batch, height and width as dynamic axes) and runs it with ONNX Runtime's CPU execution provider. Calls take
and return torch tensors like the network's own ``forward``: ``(*batch, H, W)`` grey or ``(*batch, C, H, W)``.

Why: on this project's 2-core AVX2 CPU, ONNX Runtime's convolutions ran a whole ``natural-gray`` restore
1.26-1.36x faster than torch's channels-last path, with outputs equal to 1e-7 (``benchmarks/speed_levers.py``;
``docs/speed.md``). The export costs about 1.7 CPU-s, once per ``OnnxNetwork``.

Exactness: the export traces one forward pass, so Python branches are frozen at the example's values. The
network's own padding to a multiple of its ``multiple`` (a U-Net's) is such a branch; this wrapper pads (by
repeating the last row / column, as the network does) and crops around the session instead, so every input
size is handled as by the network itself. The noise level must be one value for the whole batch.

Needs the optional packages ``onnx`` (the exporter writes through it) and ``onnxruntime``:
``pip install 'ppsolve[onnx]'``. CPU only.
"""
from __future__ import annotations

import io
import warnings

import numpy as np
import torch
import torch.nn.functional as F

from .._validate import positive_int
from ._layout import image_batch

__all__ = ["OnnxNetwork", "require_onnxruntime"]


def require_onnxruntime():
    """The ``onnxruntime`` module, after checking that ``onnx`` imports too; ImportError with the install line."""
    try:
        import onnx  # noqa: F401 - torch's exporter serialises through it
        import onnxruntime
    except ImportError:
        raise ImportError("the onnxruntime backend needs the optional packages onnx and onnxruntime: "
                          "pip install 'ppsolve[onnx]'") from None
    return onnxruntime


class OnnxNetwork:
    """``model`` (a torch network ``forward(v, sigma)`` with ``channels``) exported to ONNX and run by ONNX Runtime
    with ``threads`` intra-op threads (default: torch's current count). See the module docstring."""

    def __init__(self, model: torch.nn.Module, threads: int | None = None):
        ort = require_onnxruntime()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"OnnxNetwork: expected a torch.nn.Module, got {type(model).__name__}")
        self.channels = int(getattr(model, "channels", 1))
        self.multiple = int(getattr(model, "multiple", 1))
        self.receptive_radius = getattr(model, "receptive_radius", None)
        self.threads = positive_int(threads if threads is not None else torch.get_num_threads(), "OnnxNetwork threads")
        dtypes = {p.dtype for p in model.parameters()}
        if dtypes - {torch.float32}:
            raise ValueError(f"OnnxNetwork: expected a float32 network, got parameters of {sorted(map(str, dtypes))}")
        was_training = model.training
        model.eval()
        size = 8 * self.multiple
        example = (torch.zeros(1, self.channels, size, size), torch.tensor([0.05]))
        buffer = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the tracer's notes about frozen branches: handled above
            torch.onnx.export(model, example, buffer, input_names=["v", "sigma"], output_names=["out"],
                              dynamic_axes={"v": {0: "n", 2: "h", 3: "w"}, "out": {0: "n", 2: "h", 3: "w"}},
                              dynamo=False)
        model.train(was_training)
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = self.threads, 1
        self.session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])

    def __call__(self, v: torch.Tensor, sigma) -> torch.Tensor:
        if not isinstance(v, torch.Tensor) or v.device.type != "cpu":
            raise TypeError("OnnxNetwork: expected a CPU torch tensor (the onnxruntime backend runs on the CPU)")
        s = np.asarray(sigma.detach().cpu() if isinstance(sigma, torch.Tensor) else sigma, dtype=np.float32).reshape(-1)
        if s.size != 1 and not np.all(s == s[0]):
            raise ValueError("OnnxNetwork: expected one noise level for the whole batch")
        H, W = v.shape[-2:]
        t = image_batch(v, self.channels, type(self).__name__)
        m = self.multiple
        if H % m or W % m:
            t = F.pad(t, (0, -W % m, 0, -H % m), mode="replicate")
        out = self.session.run(None, {"v": np.ascontiguousarray(t.detach().float().numpy()), "sigma": s[:1]})[0]
        return torch.from_numpy(out)[..., :H, :W].to(v.dtype).reshape(v.shape)

    def __repr__(self):
        return f"OnnxNetwork(channels={self.channels}, multiple={self.multiple}, threads={self.threads})"
