r"""Model files: every network ppsolve ships, trains or saves, in one format that holds data and nothing else.

A model file is a `safetensors <https://github.com/huggingface/safetensors>`_ file: an 8-byte header length,
a JSON header (each tensor's dtype, shape and byte range), then the raw tensor bytes. ppsolve's own header,
a JSON object, is stored under the safetensors metadata key ``"ppsolve"``:

.. code-block:: python

    {"format": "ppsolve-model", "version": 2,
     "kind": "denoiser" | "learned-inverse" | "training-state",
     ...                      # what the kind needs: the architecture and its config, the operator, beta, figures
     "sha256": "..."}         # of the tensor bytes and of this header without the digest

There is no code path in it: no pickle, no class or function named by the file. What a header says is
only ever compared with what the caller expects, or looked up in the explicit registries of known
architectures (``ppsolve.nn.registry``, ``ppsolve.inverses.learned_file``), whose config keys and ranges are
checked before anything is built. Reading is staged so that a refusal costs nothing:

1. ``read_header(path)`` reads at most ``MAX_HEADER_BYTES`` and checks the format marker, the version, the
   ``kind`` and the tensor table (known dtypes, byte ranges that tile the file exactly): nothing is
   allocated but the header;
2. the caller checks compatibility (``check_compatible``: the operator's fingerprint, beta, ...) and the
   architecture, and compares the expected tensor shapes with the table;
3. ``read_tensors`` reads the data, verifies the digest and returns CPU tensors.

A truncated file, flipped bytes, a file that is not a model file, or content that does not match its digest
raise ``ValueError("<path>: model file is corrupted or truncated (...)")``; a missing one
``FileNotFoundError``; one of another kind or a newer version ``ValueError``.

Training states (optimiser moments, RNG states, counters) are nested containers of tensors and plain values;
``pack`` turns such a tree into a JSON-able tree plus named tensors and ``unpack`` turns it back, so they are
stored in the same format. Writes go through ``ppsolve.files.atomic_write``.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import pathlib
import struct

import numpy as np
import safetensors.torch
import torch

from .files import atomic_write

__all__ = [
    "FORMAT", "MAX_HEADER_BYTES", "VERSION", "check_compatible", "load", "pack", "read_header", "read_tensors",
    "save", "unpack",
]

FORMAT = "ppsolve-model"
#: version 1 was a torch.save file (no longer read); 2 is safetensors with a JSON header
VERSION = 2
#: the largest header read; ppsolve's own headers (training logs included) stay below 1 MiB
MAX_HEADER_BYTES = 16 * 2**20
_METADATA_KEY = "ppsolve"
#: safetensors dtype names accepted in a model file, with their item sizes
_DTYPES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def _corrupted(path, why) -> ValueError:
    return ValueError(f"{path}: model file is corrupted or truncated ({why})")


def _canonical(header: dict) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":"), allow_nan=True).encode()


def _digest(header: dict, table: dict, data: bytes) -> str:
    """sha256 of the ppsolve header (without the digest), the tensor table (names, dtypes, shapes, byte ranges)
    and the tensor bytes."""
    h = hashlib.sha256(b"ppsolve-model-v2\0")
    h.update(_canonical({k: v for k, v in header.items() if k != "sha256"}))
    h.update(_canonical({k: v for k, v in table.items() if k != "__metadata__"}))
    h.update(data)
    return h.hexdigest()


def _split(blob: bytes) -> tuple[dict, bytes]:
    """(the safetensors header as a dict, the data section) of a safetensors blob."""
    (length,) = struct.unpack("<Q", blob[:8])
    return json.loads(blob[8:8 + length]), blob[8 + length:]


def _json_safe(value, where: str):
    """``value`` with NumPy scalars, tuples and paths made plain JSON; ``TypeError`` naming the first value
    (by its key path) that JSON cannot hold."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, pathlib.PurePath):
        return str(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: header keys must be str, got {type(key).__name__} {key!r}")
            out[key] = _json_safe(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_json_safe(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{where}: a {type(value).__module__}.{type(value).__qualname__} cannot be stored in a model "
                    "file header (JSON values only: None, bool, int, float, str, lists and dicts; tensors go in "
                    "the tensors)")


def save(path, header: dict, tensors: dict) -> pathlib.Path:
    """Write a model file atomically (``ppsolve.files.atomic_write``: through symlinks, never over a device):
    ``header`` a dict of JSON values with ``header["kind"]`` a str, ``tensors`` a dict ``name -> tensor``
    (detached, contiguous copies on the CPU are written). Returns the path written."""
    if not isinstance(header, dict) or not isinstance(header.get("kind"), str):
        raise TypeError("modelfile.save: header must be a dict with a str 'kind'")
    if not isinstance(tensors, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                                for k, v in tensors.items()):
        raise TypeError("modelfile.save: tensors must be a dict of str -> torch.Tensor")
    header = _json_safe({**header, "format": FORMAT, "version": VERSION}, "header")
    header.pop("sha256", None)
    plain = {k: v.detach().to("cpu").clone().contiguous() for k, v in tensors.items()}  # no shared storage
    table, data = _split(safetensors.torch.save(plain))  # the layout the file will have, and its bytes
    header["sha256"] = _digest(header, table, data)
    blob = safetensors.torch.save(plain, metadata={_METADATA_KEY: json.dumps(header, allow_nan=True)})
    return atomic_write(path, blob)


def _open(path) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such model file")
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a directory, not a model file")
    return path


def _parse_table(path, raw: bytes, file_size: int) -> tuple[dict, dict]:
    """(ppsolve header, tensor table) from the safetensors header bytes, every entry checked."""
    try:
        table = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _corrupted(path, f"the header is not JSON: {err}") from None
    if not isinstance(table, dict):
        raise _corrupted(path, "the header is not a JSON object")
    metadata = table.pop("__metadata__", None)
    if not isinstance(metadata, dict) or _METADATA_KEY not in metadata:
        raise ValueError(f"{path}: not a ppsolve model file (a safetensors file without the {_METADATA_KEY!r} "
                         "header); was it written by ppsolve?")
    try:
        header = json.loads(metadata[_METADATA_KEY])
    except (TypeError, json.JSONDecodeError) as err:
        raise _corrupted(path, f"the ppsolve header is not JSON: {err}") from None
    if not isinstance(header, dict):
        raise _corrupted(path, "the ppsolve header is not a JSON object")
    spans, data_size = [], file_size - 8 - len(raw)
    for name, entry in table.items():
        ok = isinstance(entry, dict) and set(entry) == {"dtype", "shape", "data_offsets"}
        ok = ok and entry["dtype"] in _DTYPES and isinstance(entry["shape"], list)
        ok = ok and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in entry["shape"])
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        ok = ok and isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)
        if not ok:
            raise _corrupted(path, f"tensor entry {name!r} is malformed")
        begin, end = offsets
        if not 0 <= begin <= end or end - begin != math.prod(entry["shape"]) * _DTYPES[entry["dtype"]]:
            raise _corrupted(path, f"tensor {name!r}: its byte range does not match its shape and dtype")
        spans.append((begin, end))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise _corrupted(path, "the tensors' byte ranges overlap or leave gaps")
        position = end
    if position != data_size:
        raise _corrupted(path, f"the tensors take {position} bytes, the file holds {data_size}")
    shapes = {name: (entry["dtype"], tuple(entry["shape"])) for name, entry in table.items()}
    return header, shapes


def read_header(path, kind: str | None = None) -> dict:
    """The ppsolve header of the model file at ``path``, checked (see the module docstring), with the tensor
    table added as ``header["tensors"] = {name: (dtype, shape)}``. Reads only the header. ``kind``: refuse a
    file of another kind (``ValueError`` naming both)."""
    path = _open(path)
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        first = f.read(8)
        if len(first) < 8:
            raise _corrupted(path, "shorter than a header")
        (length,) = struct.unpack("<Q", first)
        if length > min(MAX_HEADER_BYTES, size - 8):
            if length <= size - 8:
                raise ValueError(f"{path}: a header of {length} bytes, more than the {MAX_HEADER_BYTES} a ppsolve "
                                 "model file has; refused")
            raise _corrupted(path, f"the header claims {length} bytes, the file holds {size - 8}")
        raw = f.read(length)
    header, shapes = _parse_table(path, raw, size)
    if header.get("format") != FORMAT:
        raise ValueError(f"{path}: not a ppsolve model file (format {header.get('format')!r}, expected {FORMAT!r})")
    version = header.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise ValueError(f"{path}: model file version {version!r} is newer than this ppsolve reads ({VERSION}); "
                         "upgrade ppsolve")
    if kind is not None and header.get("kind") != kind:
        raise ValueError(f"{path}: a model file of kind {header.get('kind')!r}, expected kind {kind!r}")
    header["tensors"] = shapes
    return header


def read_tensors(path, header: dict | None = None) -> dict:
    """The tensors of the model file at ``path`` (CPU, in the stored dtypes) after verifying the digest over
    them and the header. ``header``: the result of ``read_header`` (read again if None)."""
    path = _open(path)
    header = read_header(path) if header is None else header
    with open(path, "rb") as f:
        blob = f.read()
    try:
        table, data = _split(blob)
        stored = json.loads(table["__metadata__"][_METADATA_KEY])
    except (struct.error, ValueError, KeyError, TypeError) as err:
        raise _corrupted(path, f"the header changed while reading: {err}") from None
    if not isinstance(stored.get("sha256"), str) or _digest(stored, table, data) != stored["sha256"]:
        raise _corrupted(path, "the content digest does not match")
    try:
        tensors = safetensors.torch.load(blob)
    except Exception as err:  # the table was checked: any error here means damaged bytes
        raise _corrupted(path, f"{type(err).__name__}: {str(err)[:200]}") from None
    table = {name: shape for name, (_, shape) in header["tensors"].items()}
    if {name: tuple(t.shape) for name, t in tensors.items()} != table:
        raise _corrupted(path, "the tensors differ from the header's table (was the file replaced meanwhile?)")
    return tensors


def load(path, kind: str | None = None) -> tuple[dict, dict]:
    """``(header, tensors)``: ``read_header`` then ``read_tensors`` (for callers with nothing to check in between)."""
    header = read_header(path, kind)
    return header, read_tensors(path, header)


# -- training states: trees of containers and tensors ----------------------------------------------------------


def pack(tree, prefix: str = "state") -> tuple[object, dict]:
    """``(json_tree, tensors)`` for a nested structure of dicts (str or int keys), lists, tuples, tensors, NumPy
    arrays and scalars, and plain values: each tensor is replaced by ``{"__tensor__": name}`` and stored under
    that name; tuples become ``{"__tuple__": [...]}``, dicts whose keys are not all plain strings
    ``{"__items__": [[key, value], ...]}``. ``unpack`` inverts it exactly (int keys and tuples included)."""
    tensors: dict = {}

    def walk(value, where):
        if isinstance(value, torch.Tensor):
            name = where if where not in tensors else f"{where}#{len(tensors)}"
            tensors[name] = value
            return {"__tensor__": name}
        if isinstance(value, np.ndarray):
            return walk(torch.from_numpy(np.ascontiguousarray(value)), where)
        if isinstance(value, np.generic):
            return value.item()
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, tuple):
            return {"__tuple__": [walk(v, f"{where}.{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [walk(v, f"{where}.{i}") for i, v in enumerate(value)]
        if isinstance(value, dict):
            if all(isinstance(k, str) and not k.startswith("__") for k in value):
                return {k: walk(v, f"{where}.{k}") for k, v in value.items()}
            if not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in value):
                raise TypeError(f"pack: {where}: dict keys must be str or int, got {list(value)[:3]!r}")
            return {"__items__": [[k, walk(v, f"{where}.{k}")] for k, v in value.items()]}
        raise TypeError(f"pack: {where}: a {type(value).__module__}.{type(value).__qualname__} cannot be stored")

    return walk(tree, prefix), tensors


def unpack(tree, tensors: dict):
    """The structure ``pack`` encoded (see there); ``ValueError`` for a reference to a missing tensor."""
    if isinstance(tree, list):
        return [unpack(v, tensors) for v in tree]
    if isinstance(tree, dict):
        if set(tree) == {"__tensor__"}:
            name = tree["__tensor__"]
            if not isinstance(name, str) or name not in tensors:
                raise ValueError(f"unpack: the state refers to a missing tensor {name!r}")
            return tensors[name]
        if set(tree) == {"__tuple__"} and isinstance(tree["__tuple__"], list):
            return tuple(unpack(v, tensors) for v in tree["__tuple__"])
        if set(tree) == {"__items__"} and isinstance(tree["__items__"], list):
            items = tree["__items__"]
            if not all(isinstance(kv, list) and len(kv) == 2 and isinstance(kv[0], (str, int)) for kv in items):
                raise ValueError("unpack: malformed __items__")
            return {k: unpack(v, tensors) for k, v in items}
        return {k: unpack(v, tensors) for k, v in tree.items()}
    return tree


# -- compatibility ------------------------------------------------------------------------------------------------


def _normalise(value):
    """Tuples as lists and NumPy values as Python ones, for comparing recorded against expected values."""
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
        return isinstance(a, bool) and isinstance(b, bool) and a == b
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


def check_compatible(header: dict, /, *, rel_tol: float = 1e-9, **expected) -> None:
    """Raise ``ValueError`` unless ``header[key]`` equals ``value`` for every ``key=value`` given, e.g.
    ``check_compatible(h, beta=0.01, operator__fingerprint=A.fingerprint())``.

    Tuples and lists compare alike, numbers to ``rel_tol`` (so 0.1 + 0.2 matches 0.3), everything else
    exactly. The message names the key, the expected and the recorded value. A key reaches into nested dicts
    with ``__``: ``hyper__beta=0.01`` checks ``header["hyper"]["beta"]``.
    """
    if not isinstance(header, dict):
        raise TypeError(f"check_compatible: header must be a dict, got {type(header).__name__}")
    for key, want in expected.items():
        found = header
        for part in key.split("__"):
            found = found.get(part, _MISSING) if isinstance(found, dict) else _MISSING
        name = key.replace("__", ".")
        if found is _MISSING:
            raise ValueError(f"model file incompatible: it records no {name!r} (expected {want!r}); it was saved for "
                             "another use or by an older version")
        if not _equal(_normalise(want), _normalise(found), rel_tol):
            raise ValueError(f"model file incompatible: {name!r} expected {want!r}, found {found!r}")
