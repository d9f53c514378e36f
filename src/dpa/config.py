"""AugmentationConfig: named parameter specs, validated, immutable, serialisable.

A config maps parameter names to specs. Each parameter's values depend on its
own name and spec only (its stream key hashes the name), so adding, removing
or reordering other parameters never changes them. The config's outputs are
flat: a composite spec named ``crop`` contributes ``crop_x``, ``crop_y``,
``crop_w`` and ``crop_h``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from functools import cached_property
from typing import Any, Iterator

from dpa import composite as _composite  # noqa: F401  (registers the composite kinds)
from dpa import validate
from dpa.prng import xxh64_bytes
from dpa.specs import Spec, spec_from_dict
from dpa.version import STREAM_VERSION

__all__ = ["AugmentationConfig", "OutputInfo"]


class OutputInfo(tuple):
    """``(output name, parameter name, dtype, identity)`` for one flat output."""

    __slots__ = ()

    def __new__(cls, name: str, param: str, dtype: str, identity: Any) -> "OutputInfo":
        return super().__new__(cls, (name, param, dtype, identity))

    def __getnewargs__(self) -> tuple:  # pickle calls __new__ with these
        return tuple(self)

    name = property(lambda self: self[0])
    param = property(lambda self: self[1])
    dtype = property(lambda self: self[2])
    identity = property(lambda self: self[3])


class AugmentationConfig(Mapping):
    """An immutable mapping of parameter name -> :class:`~dpa.specs.Spec`.

    Args:
        params: mapping of name -> spec, or name -> spec dict such as
            ``{"kind": "uniform", "low": -15, "high": 15}``.
        **kwargs: more name=spec pairs.

    Raises:
        ValueError: no parameters, a duplicate or invalid name (names are
            letters, digits, ``_``, ``.``, ``-``, starting with a letter or
            ``_``: output files are named after them), two outputs with the
            same flat name, or an invalid spec (the message names the
            parameter, the field, the value and the limit).
        TypeError: a value that is neither a Spec nor a dict, or a field of
            the wrong type.

    >>> from dpa.specs import UniformSpec
    >>> cfg = AugmentationConfig({"rotation": UniformSpec(low=-15, high=15), "hflip": {"kind": "bernoulli", "p": 0.5}})
    >>> cfg.output_names
    ('rotation', 'hflip')
    >>> AugmentationConfig.from_json(cfg.to_json()) == cfg
    True
    """

    def __init__(self, params: Mapping[str, Spec | Mapping[str, Any]] | None = None, **kwargs: Any) -> None:
        if params is not None and not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of name -> spec; got {type(params).__name__}")
        items = list((params or {}).items())
        for name in kwargs:
            if params is not None and name in params:
                raise ValueError(f"duplicate parameter name {name!r} (given both in params and as a keyword)")
        items += list(kwargs.items())
        if not items:
            raise ValueError("an AugmentationConfig needs at least one parameter; got none")
        specs: dict[str, Spec] = {}
        for name, spec in items:
            validate.param_name(name)
            if isinstance(spec, Mapping):
                try:
                    spec = spec_from_dict(spec)
                except (TypeError, ValueError) as exc:
                    raise type(exc)(f"parameter {name!r}: {exc}") from None
            elif not isinstance(spec, Spec):
                raise TypeError(f"parameter {name!r}: expected a Spec or a spec dict; got {type(spec).__name__}")
            specs[name] = spec
        self._specs = specs
        seen: dict[str, str] = {}
        outputs = []
        for name, spec in specs.items():
            for out in spec.outputs():
                flat = name + out.suffix
                if flat in seen:
                    raise ValueError(
                        f"output name {flat!r} of parameter {name!r} clashes with an output of parameter {seen[flat]!r}"
                    )
                seen[flat] = name
                outputs.append(OutputInfo(flat, name, out.dtype, out.identity))
        self._outputs = tuple(outputs)

    # -- Mapping -------------------------------------------------------------
    def __getitem__(self, name: str) -> Spec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AugmentationConfig):
            return NotImplemented
        # The canonical JSON, as the fingerprint hashes it: specs' own == takes
        # -0.0 for 0.0, though an identity of -0.0 gives other bits (and hash()
        # follows the fingerprint, so equal configs must have equal ones).
        return self._canonical == other._canonical

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def __repr__(self) -> str:
        inner = ", ".join(f"{k!r}: {v!r}" for k, v in self._specs.items())
        return f"AugmentationConfig({{{inner}}})"

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("derived", None)  # rebuilt where it is needed
        return state

    @cached_property
    def derived(self) -> dict[Any, Any]:
        """A dict that lives and dies with this config, for objects derived from it.

        :func:`dpa.gen_augmentation_params` and friends keep the config's
        compiled :class:`dpa.Generator` per seed here, so one sample costs no
        compile and no global cache exists. Not part of equality, hashing or
        pickling.
        """
        return {}

    # -- outputs -------------------------------------------------------------
    @property
    def outputs(self) -> tuple[OutputInfo, ...]:
        """Every flat output, in config order: ``(name, param, dtype, identity)``."""
        return self._outputs

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self._outputs)

    # -- serialisation -------------------------------------------------------
    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{name: spec dict}``, each spec dict with its ``"kind"``; JSON-ready."""
        return {name: spec.to_dict() for name, spec in self._specs.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> "AugmentationConfig":
        """A config from its dict form (the inverse of :meth:`to_dict`), checking every spec.

        Args:
            data: ``{name: spec dict}``, e.g. ``{"rot": {"kind": "uniform", "low": -15, "high": 15}}``.

        Returns:
            The config, its parameters in ``data``'s order.

        Raises:
            TypeError: ``data`` is not a mapping, or a field has the wrong type.
            ValueError: an invalid name or spec: the message names the
                parameter, the field, the value and the limit
                (docs/SPEC.md section 5.2, docs/ERRORS.md).

        >>> AugmentationConfig.from_dict({"u": {"kind": "uniform", "low": -1e308, "high": 1e308}})
        Traceback (most recent call last):
        ...
        ValueError: parameter 'u': uniform: high - low must be at most 1.7976931348623157e+308 (the largest double); got 1e+308 - -1e+308, which overflows
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"a config must be a dict of name -> spec dict; got {type(data).__name__}")
        return cls(dict(data))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "AugmentationConfig":
        """Parse a config from JSON text (JSON only: nothing is executed or unpickled).

        Raises:
            ValueError: malformed JSON (with line and column), a key given
                twice in one object (two parameters of one name, or a field
                given twice: JSON parsers would keep the last silently), or
                an invalid config.
            TypeError: JSON that is not an object of spec objects.

        >>> AugmentationConfig.from_json('{"a": {"kind": "bernoulli", "p": 0.5, "p": 0.9}}')
        Traceback (most recent call last):
        ...
        ValueError: config is not valid: the key 'p' appears twice in one JSON object; each name and field may be given once
        """
        return cls.from_dict(validate.load_json(text, "config"))

    def save(self, path: str | os.PathLike) -> None:
        """Write the config as JSON (:meth:`to_json`) to the file ``path``; :meth:`load` reads it back."""
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
            fh.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> "AugmentationConfig":
        """Read a config saved by :meth:`save` (or written by hand) from the JSON file ``path``.

        Raises:
            OSError: the file cannot be read.
            ValueError: as :meth:`from_json`, the message starting with the path.
            TypeError: as :meth:`from_json`.
        """
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        try:
            return cls.from_json(text)
        except ValueError as exc:
            raise ValueError(f"{os.fspath(path)}: {exc}") from None

    def fingerprint(self) -> str:
        """A 16-hex-digit id of the config and stream version, stable across processes and machines.

        Order of parameters does not matter (it does not change any value).
        """
        return self._fingerprint

    @cached_property
    def _canonical(self) -> str:
        return json.dumps({"stream_version": STREAM_VERSION, "params": self.to_dict()}, sort_keys=True, separators=(",", ":"))

    @cached_property
    def _fingerprint(self) -> str:
        return f"{xxh64_bytes(self._canonical.encode('utf-8'), 0):016x}"

    # -- editing (returns new configs) ---------------------------------------
    def with_params(self, **specs: Spec | Mapping[str, Any]) -> "AugmentationConfig":
        """A new config with parameters added or replaced."""
        merged: dict[str, Any] = dict(self._specs)
        merged.update(specs)
        return AugmentationConfig(merged)

    def without(self, *names: str) -> "AugmentationConfig":
        """A new config without the named parameters."""
        missing = [n for n in names if n not in self._specs]
        if missing:
            raise KeyError(f"no parameter(s) {missing}; have {list(self._specs)}")
        return AugmentationConfig({k: v for k, v in self._specs.items() if k not in names})

