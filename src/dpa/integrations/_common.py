"""What every adapter shares: stable parameter names and the refusal of transforms it cannot drive.

Names in a derived config are ``<prefix>.<field>``. A transform's prefix is
its class name for the first occurrence in the pipeline (walked depth-first,
in the order the pipeline applies them) and ``<ClassName>_<k>`` for the k-th
(k >= 2); the user may name any transform instead. So adding a transform of
another class, or appending one at the end, leaves every other transform's
names -- hence its values, which depend only on (seed, epoch, id, name, spec)
-- unchanged; inserting one before another of the same class renames the
later ones and changes their values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["UnsupportedTransformError", "ParamNamer"]

_PREFIX_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


class UnsupportedTransformError(TypeError, ValueError):
    """A random transform the adapter cannot drive: it is refused rather than left silently random.

    Both a ``TypeError`` (a kind of transform the adapter does not take) and a
    ``ValueError`` (a pipeline it cannot make deterministic): catch either.
    ``.transform`` is the refused object.
    """

    def __init__(self, transform: Any, library: str, supported: list[str], why: str = "") -> None:
        name = type(transform).__name__
        reason = f" ({why})" if why else ""
        super().__init__(
            f"{library} transform {name} is random and dpa cannot drive it{reason}: its randomness would not be a "
            f"function of (seed, epoch, sample id). Supported random transforms: {', '.join(sorted(supported))}. "
            f"Apply it outside the deterministic pipeline, or replace it by a supported one."
        )
        self.transform = transform


class ParamNamer:
    """Gives each random transform of a pipeline a stable, readable name prefix.

    Args:
        names: optional user-chosen prefixes, keyed by the transform object
            itself or by its default prefix (``"RandomRotation"``,
            ``"RandomRotation_2"``). A prefix is letters, digits, ``_`` and
            ``-``, not starting with a digit, and unique in the pipeline.

    >>> namer = ParamNamer({"RandomRotation_2": "rot_b"})
    >>> class RandomRotation: pass
    >>> a, b = RandomRotation(), RandomRotation()
    >>> namer.prefix(a), namer.prefix(b)
    ('RandomRotation', 'rot_b')
    """

    def __init__(self, names: Mapping[Any, str] | None = None) -> None:
        if names is not None and not isinstance(names, Mapping):
            raise TypeError(f"names must be a mapping of transform (or default name) -> name; got {type(names).__name__}")
        self._names = dict(names or {})
        for key, value in self._names.items():
            if not isinstance(value, str) or not _PREFIX_RE.fullmatch(value):
                raise ValueError(
                    f"names[{key!r}] must be letters, digits, '_' or '-', not starting with a digit; got {value!r}"
                )
        self._counts: dict[str, int] = {}
        self._used: set[str] = set()
        # id -> (transform, prefix); holding the transform keeps its id from being reused.
        self._by_object: dict[int, tuple[Any, str]] = {}

    def prefix(self, transform: Any) -> str:
        """The prefix of ``transform``; the same object asked twice gets the same prefix."""
        if id(transform) in self._by_object:
            return self._by_object[id(transform)][1]
        cls = type(transform).__name__
        k = self._counts.get(cls, 0) + 1
        self._counts[cls] = k
        default = cls if k == 1 else f"{cls}_{k}"
        chosen = self._user_name(transform, default)
        if chosen in self._used:
            raise ValueError(f"two transforms of the pipeline are both named {chosen!r}; names must be unique")
        self._used.add(chosen)
        self._by_object[id(transform)] = (transform, chosen)
        return chosen

    def _user_name(self, transform: Any, default: str) -> str:
        try:
            if transform in self._names:
                return self._names[transform]
        except TypeError:  # an unhashable transform can only be named by its default name
            pass
        return self._names.get(default, default)

    def unused(self) -> list[Any]:
        """User names whose key matched no transform (a typo, most likely)."""
        hits = {name for _, name in self._by_object.values()}
        return [k for k, v in self._names.items() if v not in hits]
