r"""Saving and loading torch checkpoints safely: one place for every learned component in ppsolve.

A checkpoint is one file written by ``torch.save`` holding

.. code-block:: python

    {"format": "ppsolve-checkpoint", "version": 1,
     "metadata": {...},        # what it was trained for: kind, operator, sizes, beta, hyper-parameters, figures
     "state": {...},           # tensors (state dicts, optimiser states, RNG states) and plain values
     "sha256": "..."}          # digest of metadata and state (see ``content_digest``)

Guarantees:

* **Atomic writes.** ``save_checkpoint`` writes to a temporary file in the target's directory, flushes and
  fsyncs it, then renames it over the target (``os.replace``). A crash at any point leaves either the old
  file or the new one, never a half-written mix; the temporary file is removed on error.
* **Safe loads.** ``load_checkpoint`` uses ``torch.load(weights_only=True)``, which unpickles only tensors
  and plain containers, never arbitrary objects; ``save_checkpoint`` therefore refuses (with the offending
  key) anything that such a load could not read back. Allowed: ``None``, ``bool``, ``int``, ``float``,
  ``str``, ``list``, ``tuple``, ``dict`` (and ``OrderedDict``, as in state dicts) and ``torch.Tensor``.
  NumPy scalars and arrays and ``pathlib`` paths are converted (to Python numbers, tensors and strings).
* **Integrity.** The digest of the content is recomputed on load; a truncated file, flipped bytes, a file
  that is not a checkpoint at all, or content that does not match its digest raise
  ``ValueError("<path>: checkpoint is corrupted or truncated (...)")``. A missing file raises
  ``FileNotFoundError``; a checkpoint of another kind (``metadata["kind"]``) a ``ValueError``.
* **Compatibility.** ``check_compatible(metadata, beta=..., fingerprint=...)`` refuses a checkpoint trained
  for something else, naming the key and both values.
"""
from __future__ import annotations

import collections
import hashlib
import io
import math
import os
import pathlib
import signal
import struct
import tempfile
import threading
import zipfile

import numpy as np
import torch

__all__ = [
    "FORMAT",
    "VERSION",
    "DeferredSigint",
    "check_compatible",
    "checkpoint_safe",
    "content_digest",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT = "ppsolve-checkpoint"
VERSION = 1

_SCALARS = (type(None), bool, int, float, str)


def checkpoint_safe(value, where: str = "payload"):
    """``value`` with NumPy scalars / arrays and paths converted, or ``TypeError`` naming the first value
    (by its key path, e.g. ``metadata['hyper']['noise']``) that ``torch.load(weights_only=True)`` could not
    read back."""
    if isinstance(value, _SCALARS):
        if type(value) in _SCALARS:
            return value
        # subclasses (torch.__version__ is a TorchVersion, enums are ints) pickle as their class: plain them
        for base in (bool, int, float, str):
            if isinstance(value, base):
                return base(value)
    if isinstance(value, torch.Tensor):
        if value.is_sparse or value.is_quantized:
            raise TypeError(f"{where}: sparse or quantized tensors are not supported in checkpoints")
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, dict):
        out = collections.OrderedDict() if isinstance(value, collections.OrderedDict) else {}
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: dict keys must be str or int, got {type(key).__name__} {key!r}")
            out[key] = checkpoint_safe(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        items = [checkpoint_safe(item, f"{where}[{i}]") for i, item in enumerate(value)]
        return tuple(items) if isinstance(value, tuple) else items
    raise TypeError(
        f"{where}: a {type(value).__module__}.{type(value).__qualname__} cannot be stored in a checkpoint "
        "(torch.load(weights_only=True) reads back only None, bool, int, float, str, list, tuple, dict and "
        "tensors); convert it first, e.g. to a str or a list of numbers"
    )


def _digest_update(h, value):
    """Feed a canonical, type-tagged encoding of ``value`` to the hash ``h``."""
    if value is None:
        h.update(b"N")
    elif isinstance(value, bool):
        h.update(b"B1" if value else b"B0")
    elif isinstance(value, int):
        h.update(b"I" + str(value).encode() + b";")
    elif isinstance(value, float):
        h.update(b"F" + struct.pack("<d", value))
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        h.update(b"S" + str(len(data)).encode() + b":" + data)
    elif isinstance(value, torch.Tensor):
        t = value.detach().cpu().contiguous()
        h.update(b"T" + str(t.dtype).encode() + b"|" + repr(tuple(t.shape)).encode() + b"|")
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy())
    elif isinstance(value, dict):
        h.update(b"D" + str(len(value)).encode() + b"{")
        for key in sorted(value, key=lambda k: (type(k).__name__, str(k))):
            _digest_update(h, key)
            _digest_update(h, value[key])
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update((b"L" if isinstance(value, list) else b"U") + str(len(value)).encode() + b"[")
        for item in value:
            _digest_update(h, item)
        h.update(b"]")
    else:
        raise TypeError(f"content_digest: unsupported type {type(value).__name__}")


def content_digest(metadata: dict, state: dict) -> str:
    """SHA-256 (hex) of a canonical encoding of ``metadata`` and ``state``: every value with its type, every
    tensor's dtype, shape and raw bytes, dict keys in sorted order. Independent of how pickle lays out the
    file, so it is recomputed from the loaded objects."""
    h = hashlib.sha256(b"ppsolve-checkpoint-v1\0")
    _digest_update(h, metadata)
    _digest_update(h, state)
    return h.hexdigest()


def _fsync_dir(directory: pathlib.Path) -> None:
    """Make the rename durable (POSIX); a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_checkpoint(path, payload: dict) -> pathlib.Path:
    """Write ``payload = {"metadata": {...}, "state": {...}}`` to ``path`` atomically (see the module
    docstring); the parent directory is created. ``metadata["kind"]`` (a str) names what the checkpoint is,
    e.g. ``"denoiser"`` or ``"learned-inverse"``. ``"format"`` / ``"version"`` in ``payload`` are optional
    (they must then be this module's); the digest is added. Returns the path."""
    path = pathlib.Path(path)
    if not isinstance(payload, dict):
        raise TypeError(f"save_checkpoint: payload must be a dict, got {type(payload).__name__}")
    unknown = set(payload) - {"format", "version", "metadata", "state", "sha256"}
    if unknown:
        raise ValueError(f"save_checkpoint: unknown payload keys {sorted(unknown)}; put them in metadata or state")
    if payload.get("format", FORMAT) != FORMAT or payload.get("version", VERSION) != VERSION:
        raise ValueError(f"save_checkpoint: format/version must be {FORMAT!r}/{VERSION}")
    metadata = payload.get("metadata", {})
    state = payload.get("state", {})
    if not isinstance(metadata, dict) or not isinstance(state, dict):
        raise TypeError("save_checkpoint: payload['metadata'] and payload['state'] must be dicts")
    if "kind" in metadata and not isinstance(metadata["kind"], str):
        raise TypeError(f"save_checkpoint: metadata['kind'] must be a str, got {metadata['kind']!r}")
    metadata = checkpoint_safe(metadata, "metadata")
    state = checkpoint_safe(state, "state")
    blob = {"format": FORMAT, "version": VERSION, "metadata": metadata, "state": state,
            "sha256": content_digest(metadata, state)}

    directory = path.parent if str(path.parent) else pathlib.Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(blob, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(directory)
    return path


def _corrupted(path, why) -> ValueError:
    return ValueError(f"{path}: checkpoint is corrupted or truncated ({why})")


def load_checkpoint(path, expect_kind: str | None = None, map_location="cpu") -> dict:
    """Load and verify a checkpoint written by ``save_checkpoint``; returns the payload dict
    ``{"format", "version", "metadata", "state", "sha256"}`` with tensors on ``map_location``.

    Raises ``FileNotFoundError`` for a missing file, ``ValueError("<path>: checkpoint is corrupted or
    truncated (...)")`` when it cannot be read or its digest does not match, and ``ValueError`` when it is
    not a ppsolve checkpoint, of a newer version, or of another kind than ``expect_kind``.
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such checkpoint")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, not a checkpoint file")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as err:
        raise ValueError(f"{path}: cannot read the checkpoint ({err})") from err
    if not data:
        raise _corrupted(path, "the file is empty")
    try:
        blob = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except Exception as err:  # zip, pickle, EOF, CRC, unpickler errors: all mean the bytes are not what we wrote
        lines = [line.strip() for line in str(err).strip().splitlines() if line.strip()]
        detail = [line for line in lines if line.startswith("WeightsUnpickler error")]
        message = (detail or lines or [type(err).__name__])[0]
        if "Weights only load failed" in str(err) and zipfile.is_zipfile(io.BytesIO(data)):
            raise ValueError(
                f"{path}: checkpoint is corrupted or truncated, or holds objects that a safe load "
                f"(torch.load(weights_only=True)) refuses ({type(err).__name__}: {message[:300]})"
            ) from err
        raise _corrupted(path, f"{type(err).__name__}: {message[:300]}") from err
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise ValueError(f"{path}: not a ppsolve checkpoint (no format marker {FORMAT!r}); "
                         "was it written by ppsolve.checkpoint.save_checkpoint?")
    version = blob.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ValueError(f"{path}: checkpoint version {version!r} is newer than this ppsolve reads ({VERSION}); "
                         "upgrade ppsolve")
    metadata, state, digest = blob.get("metadata"), blob.get("state"), blob.get("sha256")
    if not isinstance(metadata, dict) or not isinstance(state, dict) or not isinstance(digest, str):
        raise _corrupted(path, "metadata, state or digest missing")
    try:
        actual = content_digest(metadata, state)
    except TypeError as err:
        raise _corrupted(path, str(err)) from err
    if actual != digest:
        raise _corrupted(path, f"content digest {actual[:16]}... does not match the stored {digest[:16]}...")
    if expect_kind is not None:
        kind = metadata.get("kind")
        if kind != expect_kind:
            raise ValueError(f"{path}: a checkpoint of kind {kind!r}, expected kind {expect_kind!r}")
    return blob


def _normalise(value):
    """Tuples as lists, tensors as lists, for comparing recorded against expected values."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, pathlib.PurePath):
        return str(value)
    return value


def _equal(a, b, rel: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b or (isinstance(a, bool) and isinstance(b, bool) and a == b)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return a == b or math.isclose(a, b, rel_tol=rel, abs_tol=0.0)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k], rel) for k in a)
    return type(a) is type(b) and a == b


_MISSING = object()


def check_compatible(metadata: dict, /, *, rel_tol: float = 1e-9, **expected) -> None:
    """Raise ``ValueError`` unless ``metadata[key]`` equals ``value`` for every ``key=value`` given, e.g.
    ``check_compatible(meta, kind="learned-inverse", fingerprint=A.fingerprint(), beta=0.01, shape=(64, 64))``.

    Tuples and lists compare alike, numbers to ``rel_tol`` (so 0.1 + 0.2 matches 0.3), everything else
    exactly. The message names the key, the expected and the recorded value. A key may reach into nested
    dicts with ``__``: ``hyper__beta=0.01`` checks ``metadata["hyper"]["beta"]``.
    """
    if not isinstance(metadata, dict):
        raise TypeError(f"check_compatible: metadata must be a dict, got {type(metadata).__name__}")
    for key, want in expected.items():
        found = metadata
        for part in key.split("__"):
            found = found.get(part, _MISSING) if isinstance(found, dict) else _MISSING
        name = key.replace("__", ".")
        if found is _MISSING:
            raise ValueError(f"checkpoint incompatible: it records no {name!r} (expected {want!r}); "
                             "it was saved for another use or by an older version")
        if not _equal(_normalise(want), _normalise(found), rel_tol):
            raise ValueError(f"checkpoint incompatible: {name!r} expected {want!r}, found {found!r}")


class DeferredSigint:
    """While active (main thread only), Ctrl-C sets ``requested`` instead of interrupting mid-step; training
    checks it at step boundaries, saves its checkpoint and raises ``KeyboardInterrupt``, so an interrupted training run always leaves a resumable file. A second Ctrl-C
    interrupts at once."""

    def __init__(self):
        self.requested = False
        self._previous = None
        self._installed = False

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.getsignal(signal.SIGINT)
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
            except (ValueError, OSError):
                self._installed = False
        return self

    def __exit__(self, *exc):
        if self._installed:
            signal.signal(signal.SIGINT, self._previous if self._previous is not None else signal.SIG_DFL)
        return False
