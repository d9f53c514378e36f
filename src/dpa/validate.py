"""Argument checks shared by every public entry point.

One rule per kind of argument, so that the same mistake gets the same
exception everywhere (docs/ERRORS.md):

* an **integer** is a Python ``int``, a numpy integer, or a 0-d integer numpy
  array or torch tensor. ``bool`` (and numpy/torch bools), floats (even
  ``3.0``), strings and anything else raise ``TypeError``; an integer outside
  its range raises ``ValueError``. Nothing is rounded, wrapped or clamped.
* ids, seeds, epochs, counts (``chunk_size``, ``num_samples``), positions
  (``start``), ranks and dataset indices are integers in documented ranges;
* configs and checkpoints are read from JSON that may not repeat a key;
* parameter names are short identifier-like strings, safe as file names.

This module imports nothing of dpa (it sits below the kernel's users), and
imports torch only to look at a tensor it was given.
"""

from __future__ import annotations

import json
import numbers
import re
from typing import Any, Iterable

import numpy as np

__all__ = [
    "as_integer",
    "integer",
    "count",
    "sample_id",
    "seed",
    "epoch",
    "num_samples",
    "start",
    "rank_world_size",
    "index",
    "sample_ids",
    "param_name",
    "torch_device",
    "load_json",
    "no_duplicate_keys",
    "MAX_U64",
    "MAX_EPOCH",
]

MAX_U64 = (1 << 64) - 1
MAX_EPOCH = (1 << 32) - 1

# Letters, digits, '_', '.', '-', starting with a letter or '_': no control
# characters, no path separators, nothing a shell or a file system treats
# specially. The CLI writes one file per output named after it.
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
MAX_NAME_LENGTH = 200


def _is_torch(value: Any) -> bool:
    return type(value).__module__.startswith("torch")


def as_integer(value: Any) -> int | None:
    """``value`` as a Python int if it is an integer (see the module docstring), else None.

    >>> as_integer(3), as_integer(np.uint64(2**64 - 1)), as_integer(3.0), as_integer(True)
    (3, 18446744073709551615, None, None)
    """
    if type(value) is int:
        return value
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, np.ndarray):
        return int(value) if value.ndim == 0 and value.dtype.kind in "iu" else None
    if _is_torch(value) and hasattr(value, "dtype") and hasattr(value, "ndim"):
        dtype = value.dtype
        if value.ndim != 0 or dtype.is_floating_point or dtype.is_complex or str(dtype) == "torch.bool":
            return None
        return int(value.item())
    return None


def _range_text(low: int | None, high: int | None) -> str:
    if low is not None and high is not None:
        return f"in [{low}, {high}]"
    if low is not None:
        return f">= {low}"
    if high is not None:
        return f"<= {high}"
    return ""


def integer(value: Any, name: str, low: int | None = None, high: int | None = None, *, text: str | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` (either end may be None: unbounded).

    Args:
        value: the argument.
        name: its name, for messages.
        low, high: inclusive bounds.
        text: how the range is spelled in messages (default ``"in [low, high]"``),
            e.g. ``"in [0, 2**64)"``.

    Raises:
        TypeError: not an integer (floats, even ``3.0``, and bools are refused).
        ValueError: outside the range.

    >>> integer(5, "chunk_size", 1)
    5
    >>> integer(2.5, "chunk_size", 1)
    Traceback (most recent call last):
    ...
    TypeError: chunk_size must be an integer >= 1; got 2.5 of type float
    """
    text = text if text is not None else _range_text(low, high)
    v = as_integer(value)
    if v is None:
        spelled = f" {text}" if text else ""
        raise TypeError(f"{name} must be an integer{spelled}; got {value!r} of type {type(value).__name__}")
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be {text}; got {v}")
    return v


def count(value: Any, name: str) -> int:
    """An integer >= 1 (``chunk_size``, sizes); ``TypeError`` / ``ValueError`` as :func:`integer`."""
    return integer(value, name, 1)


def sample_id(value: Any, name: str = "sample_id") -> int:
    """A sample id, an integer in ``[0, 2**64)``."""
    return integer(value, name, 0, MAX_U64, text="in [0, 2**64)")


def seed(value: Any, name: str = "seed") -> int:
    """A seed, an integer in ``[0, 2**64)``."""
    return integer(value, name, 0, MAX_U64, text="in [0, 2**64)")


def epoch(value: Any, name: str = "epoch") -> int:
    """An epoch, an integer in ``[0, 2**32)``."""
    return integer(value, name, 0, MAX_EPOCH, text="in [0, 2**32)")


def num_samples(value: Any, *, allow_inf: bool = True) -> int | float:
    """A stream length: an integer in ``[0, 2**64]``, or ``float('inf')`` where ``allow_inf``.

    Raises:
        TypeError: not an integer (NaN, 10.5, ``-inf``; ``inf`` where not allowed).
        ValueError: outside ``[0, 2**64]``.
    """
    if isinstance(value, float) and value == float("inf"):
        if allow_inf:
            return value
        raise ValueError("num_samples must be finite here (an integer in [0, 2**64]); got inf")
    text = "in [0, 2**64] or float('inf')" if allow_inf else "in [0, 2**64]"
    return integer(value, "num_samples", 0, MAX_U64 + 1, text=text)


def start(value: Any, stop: int | float, name: str = "start", *, text: str | None = None) -> int:
    """A position in ``[0, stop]`` (``stop`` may be ``inf``: then up to ``2**64``)."""
    high = MAX_U64 + 1 if stop == float("inf") else int(stop)
    return integer(value, name, 0, high, text=text or f"in [0, num_samples] = [0, {stop}]")


def rank_world_size(rank: Any, world_size: Any) -> tuple[int, int]:
    """``(rank, world_size)`` with ``1 <= world_size < 2**64`` and ``0 <= rank < world_size``."""
    world_size = integer(world_size, "world_size", 1, MAX_U64, text="in [1, 2**64)")
    rank = integer(rank, "rank", 0, world_size - 1, text=f"in [0, world_size={world_size})")
    return rank, world_size


def index(value: Any, length: int, name: str = "index") -> int:
    """A dataset index in ``[-length, length)`` (Python's negative indices), as ``0 <= i < length``.

    Raises:
        TypeError: not an integer (a float or bool tensor is refused, not truncated).
        IndexError: outside the dataset.
    """
    i = as_integer(value)
    if i is None:
        raise TypeError(f"{name} must be an integer; got {value!r} of type {type(value).__name__}")
    if not -length <= i < length:
        raise IndexError(f"{name} {i} out of range for a dataset of {length} samples")
    return i % length


def sample_ids(values: Any, name: str = "sample_ids") -> np.ndarray:
    """Ids (list, tuple, range, numpy array, torch tensor) as a 1-D uint64 array, checking the domain.

    Raises:
        TypeError: not a sequence of integers (floats, bools and strings are refused).
        ValueError: an id outside ``[0, 2**64)`` (the message gives its index), or not 1-D.
    """
    if _is_torch(values):
        import torch

        if not isinstance(values, torch.Tensor):
            raise TypeError(f"{name} must be a 1-D integer tensor; got {type(values).__name__}")
        if values.dtype.is_floating_point or values.dtype.is_complex or values.dtype == torch.bool:
            raise TypeError(f"{name} must hold integers in [0, 2**64); got a tensor of dtype {values.dtype}")
        values = values.detach().cpu().numpy()
    if isinstance(values, np.ndarray):
        arr = values
        if arr.ndim != 1:
            raise ValueError(f"{name} must be 1-D; got shape {arr.shape}")
        if arr.dtype.kind == "u":
            return arr.astype(np.uint64, copy=False)
        if arr.dtype.kind == "i":
            if arr.size and arr.min() < 0:
                i = int(np.argmax(arr < 0))
                raise ValueError(f"{name}[{i}] must be in [0, 2**64); got {int(arr[i])}")
            return arr.astype(np.uint64)
        if arr.dtype.kind == "O":
            return sample_ids(arr.tolist(), name)
        raise TypeError(
            f"{name} must hold integers in [0, 2**64); got an array of dtype {arr.dtype}"
            + (" (convert whole-number floats with .astype(np.uint64) after checking them)" if arr.dtype.kind == "f" else "")
        )
    if isinstance(values, range):
        r = values
        if len(r) == 0:
            return np.empty(0, dtype=np.uint64)
        lo, hi = min(r[0], r[-1]), max(r[0], r[-1])
        if lo < 0 or hi > MAX_U64:
            bad = lo if lo < 0 else hi
            raise ValueError(f"{name} must be in [0, 2**64); the range contains {bad}")
        steps = np.arange(len(r), dtype=np.uint64) * np.uint64(abs(r.step))
        return np.uint64(r[0]) + steps if r.step > 0 else np.uint64(r[0]) - steps
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(
            f"{name} must be a list, range, numpy array or tensor of ints; got {type(values).__name__}"
            + (" (use gen_augmentation_params for one sample)" if as_integer(values) is not None else "")
        )
    out = list(values)
    for i, v in enumerate(out):
        if type(v) is not int or not 0 <= v <= MAX_U64:
            out[i] = sample_id(v, f"{name}[{i}]")
    return np.array(out, dtype=np.uint64)


def param_name(name: Any) -> str:
    """A parameter name: letters, digits, ``_``, ``.``, ``-``, not starting with a digit, at most 200 characters.

    Output files are named after it (``dpa generate`` writes ``<name>.npy``),
    so control characters, path separators and the empty name are refused.

    Raises:
        ValueError: anything else (the whole name must match; ``"rot\\n"`` does not).
    """
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name) or len(name) > MAX_NAME_LENGTH:
        raise ValueError(
            "parameter name must be a non-empty identifier-like string (letters, digits, '_', '.', '-', "
            f"starting with a letter or '_', at most {MAX_NAME_LENGTH} characters: no spaces, control "
            f"characters or path separators); got {name!r}"
        )
    return name


def torch_device(device: Any) -> Any:
    """A ``torch.device`` that holds data dpa can compute on: the CPU, or CUDA where it is available.

    Raises:
        ValueError: an unknown device string; a device of another type (``"meta"``
            tensors hold no data, ``"mps"`` has no float64); CUDA without CUDA.
    """
    import torch

    try:
        dev = torch.device(device) if device is not None else torch.device("cpu")
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda'; got {device!r} ({exc})") from None
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device must be a CPU or CUDA device; got {device!r} (a {dev.type!r} tensor "
            + ("holds no data)" if dev.type == "meta" else "cannot hold dpa's values bit for bit)")
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for, but torch.cuda.is_available() is False on this machine")
    return dev


def no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :func:`json.loads`: a dict of the pairs, refusing a key given twice (ValueError)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key!r} appears twice in one JSON object; each name and field may be given once")
        out[key] = value
    return out


def load_json(text: Any, what: str) -> Any:
    """Parse JSON text, refusing an object that repeats a key (the json module keeps the last one silently).

    Args:
        text: the JSON document (str, bytes or bytearray).
        what: what it is, for messages (``"config"``, ``"checkpoint"``).

    Raises:
        TypeError: ``text`` is not a str, bytes or bytearray.
        ValueError: malformed JSON (with line and column), or a repeated key.

    >>> load_json('{"a": 1, "a": 2}', "config")
    Traceback (most recent call last):
    ...
    ValueError: config is not valid: the key 'a' appears twice in one JSON object; each name and field may be given once
    """
    if not isinstance(text, (str, bytes, bytearray)):
        raise TypeError(f"{what} JSON must be a str or bytes; got {type(text).__name__}")
    try:
        return json.loads(text, object_pairs_hook=no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise ValueError(f"{what} is not valid: {exc}") from None
