"""The one place for argument checks, with errors that name the argument, what was expected and what came.

Scalars (``integer``, ``real_number``, ``choice``, ``interval``), shapes (``shape``, ``int_tuple``) and the
trailing shape of an array with its batch in front (``batch_shape``). Every check returns the value in its
canonical Python type, so callers can use the result directly:

* an *integer* is a ``numbers.Integral`` (Python or NumPy), never a ``bool`` and never a float, not even
  an integral one (``3.0``): a float where a count is expected is usually a mistake worth reporting;
* the wrong type is a ``TypeError``, a value of the right type out of its range a ``ValueError``;
* a *real number* is an ``int`` or a ``float`` (Python or NumPy), never a ``bool``, a string (``"0.1"``)
  or a complex number, and it must be finite;
* an *array* is a float32 or float64 NumPy, CuPy or PyTorch array (``ppsolve._array.check_array``:
  half precision is refused everywhere) with at least one element in every batch dimension.
"""
from __future__ import annotations

import math
import numbers

from ._array import check_array

__all__ = [
    "batch_shape", "choice", "count", "int_tuple", "integer", "interval", "positive_int", "real_number", "shape",
]


def integer(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int``; ``TypeError`` unless it is an integer (not a bool, not a float: ``2.5``, ``nan``
    and also ``3.0`` are refused), ``ValueError`` unless ``minimum <= value <= maximum`` (each bound optional)."""
    expected = _int_text(minimum, maximum)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected {expected}, got {value!r}")
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name}: expected {expected}, got {value}")
    return value


def positive_int(value, name: str) -> int:
    """``integer(value, name, minimum=1)``."""
    return integer(value, name, minimum=1)


def count(value, name: str) -> int:
    """``integer(value, name, minimum=0)``."""
    return integer(value, name, minimum=0)


def _int_text(minimum, maximum) -> str:
    if minimum is not None and maximum is not None:
        return f"an int in [{minimum}, {maximum}]"
    if minimum == 1:
        return "a positive int"
    if minimum == 0:
        return "an int >= 0"
    if minimum is not None:
        return f"an int >= {minimum}"
    if maximum is not None:
        return f"an int <= {maximum}"
    return "an int"


def real_number(value, name: str, positive: bool = False, *, signed: bool = False) -> float:
    """``value`` as a float; ``TypeError`` unless it is a real number (an int or a float: not a bool, not a
    string, not complex), ``ValueError`` unless it is finite and ``>= 0`` (``> 0`` with ``positive``; any
    sign with ``signed``)."""
    bound = "" if signed else (" > 0" if positive else " >= 0")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a real number{bound}, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name}: expected a finite real number{bound}, got {value!r}")
    if not signed and (number < 0 or (positive and number == 0)):
        raise ValueError(f"{name}: expected a finite real number{bound}, got {value!r}")
    return number


def choice(value, name: str, options) -> str:
    """``value`` if it is one of ``options`` (strings), else ``ValueError`` listing them."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}: expected one of {', '.join(repr(o) for o in options)}, got {value!r}")
    return value


def interval(value, name: str) -> tuple[float, float]:
    """``(low, high)`` as floats from a pair of finite real numbers with ``low <= high``."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise TypeError(f"{name}: expected a pair (low, high), got {value!r}")
    low = real_number(value[0], f"{name} low", signed=True)
    high = real_number(value[1], f"{name} high", signed=True)
    if low > high:
        raise ValueError(f"{name}: expected low <= high, got ({low:g}, {high:g})")
    return low, high


def int_tuple(value, name: str, length: int | None = None, minimum: int | None = 1,
              maximum: int | None = None) -> tuple[int, ...]:
    """A non-empty tuple of integers, each in ``[minimum, maximum]``, of ``length`` items when given; a single
    integer is one item."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name}: expected a tuple of ints, got {value!r}")
    items = tuple(value)
    if not items or (length is not None and len(items) != length):
        size = f"{length} ints" if length is not None else "at least one int"
        raise ValueError(f"{name}: expected {size}, got {items!r}")
    return tuple(integer(v, f"{name}[{i}]", minimum, maximum) for i, v in enumerate(items))


def shape(value, name: str = "shape") -> tuple[int, ...]:
    """An image shape: a non-empty tuple of positive ints such as ``(64, 64)`` or ``(3, 64, 64)`` (an int is a
    1-tuple)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise TypeError(f"{name}: expected a tuple of ints such as (64, 64), got {value!r}")
    items = tuple(value)
    if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) for s in items):
        raise TypeError(f"{name}: expected a tuple of ints such as (64, 64), got {items!r}")
    items = tuple(int(s) for s in items)
    if not items or any(s <= 0 for s in items):
        raise ValueError(f"{name}: expected a non-empty tuple of positive ints such as (64, 64), got {items}")
    return items


def _fmt(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def batch_shape(x, trailing, what: str) -> tuple[int, ...]:
    """The batch shape of the array ``x`` whose last axes must be ``trailing``: ``x.shape == (*batch,
    *trailing)``. ``TypeError`` unless ``x`` is a float32 / float64 array; ``ValueError`` for another trailing
    shape, or for an empty batch (a zero in ``batch``: nothing to compute, most likely a slicing mistake)."""
    check_array(x, what)
    trailing = tuple(trailing)
    got = tuple(x.shape)
    core = len(trailing)
    if len(got) < core or got[len(got) - core:] != trailing:
        raise ValueError(f"{what}: expected shape (..., {', '.join(map(str, trailing))}) (leading dimensions are "
                         f"a batch), got {_fmt(got)}")
    batch = got[: len(got) - core]
    if 0 in batch:
        raise ValueError(f"{what}: the batch {_fmt(batch)} is empty (shape {_fmt(got)}); expected at least one "
                         "image")
    return batch
