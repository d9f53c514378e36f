"""Parameter specs: how a parameter's draws become values.

A spec is an immutable, validated description of one parameter's
distribution (``UniformSpec(low=-15, high=15)``). It owns ``n_draws`` 32-bit
draws per sample and maps them to one or more flat outputs. Each kind writes
that mapping once, as ``program(self, b)`` over the primitives of
:mod:`dpa.program`; every backend (Python, numpy, torch, the C kernel) runs
the recorded program, and docs/SPEC.md section 5 is generated from it.

Any spec may carry ``p`` < 1: the augmentation is then applied with
probability ``p``, decided by a *gate* draw that follows the value draws, and
its outputs take ``identity`` otherwise. Changing ``p`` never changes the
values drawn when the gate is open.

Every kind checks its fields in ``_validate`` with :mod:`dpa.domains`: a
spec is accepted only if every output of every sample is finite, in its range
(or its identity) and computed inside the domains of the building blocks
(docs/SPEC.md section 5.3); anything else is refused when the spec is built.

New kinds register with :func:`register_spec` (check their fields with the
same :mod:`dpa.domains` functions); :func:`spec_from_dict` builds any
registered kind from its dict form.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar, Mapping, Sequence

from dpa import domains, fmath
from dpa.program import TWO_M32, Builder, SpecProgram

__all__ = [
    "Output",
    "Spec",
    "UniformSpec",
    "LogUniformSpec",
    "NormalSpec",
    "TruncatedNormalSpec",
    "IntegerSpec",
    "ChoiceSpec",
    "BernoulliSpec",
    "register_spec",
    "spec_from_dict",
    "spec_kinds",
    "spec_class",
    "gate_threshold",
]

_TWO_32 = 1 << 32
_TWO_64 = 1 << 64


@dataclass(frozen=True)
class Output:
    """One flat output of a spec: its name suffix, its type and its identity value."""

    suffix: str  # "" for single-output specs, "_x", "_0", ... for composites
    dtype: str  # "float", "int" or "bool"
    identity: Any


def gate_threshold(p: float) -> int:
    """The gate is open when its 32-bit draw is below ``T(p) = floor(p * 2**32 + 0.5)``.

    Computed in binary64 as written: ``p * 2**32`` is exact, the ``+ 0.5`` is
    rounded to nearest-even, then floored. This differs from exact arithmetic
    where the sum rounds up to an integer: ``T(2**-33 - 2**-86)`` is 1, not 0.

    >>> gate_threshold(0.5), gate_threshold(1.0), gate_threshold(2**-33 - 2**-86)
    (2147483648, 4294967296, 1)
    """
    return int(math.floor(p * _TWO_32 + 0.5))


@dataclass(frozen=True)
class Spec:
    """Base class of parameter specs. Subclasses are frozen dataclasses.

    Attributes:
        p: probability in [0, 1] that the augmentation is applied.
        identity: the value(s) used when it is not applied; required when
            ``p < 1`` for kinds whose "no-op" value cannot be guessed (a
            rotation's is 0, a brightness factor's is 1).
    """

    kind: ClassVar[str] = ""
    n_draws: ClassVar[int] = 1  # 32-bit value draws per sample
    # Fields that docs/SPEC.md section 5.2 records the kind's program with (built-in kinds; dpa.specdoc).
    doc_example: ClassVar[dict[str, Any] | None] = None

    # Subclasses declare these keyword-only so that their own fields come first.
    p: float = field(default=1.0, kw_only=True)
    identity: Any = field(default=None, kw_only=True)

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", domains.probability(self.kind, "p", self.p))
        self._validate()
        if self.gated and self.identity is None and self.default_identity() is None:
            raise ValueError(
                f"{self.kind} with p={self.p} needs an 'identity': the value used when the augmentation is "
                f"not applied (for example 0 for a rotation, 1.0 for a brightness factor)"
            )
        if self.identity is not None:
            object.__setattr__(self, "identity", self._check_identity(self.identity))
        self.recorded_program  # recorded now: a kind whose program is wrong fails where its spec is made

    # -- to override ---------------------------------------------------------
    def _validate(self) -> None:
        """Check and normalise fields (called on construction)."""

    def default_identity(self) -> Any:
        """The identity when none is given, or None if the kind has no natural one."""
        return None

    def _check_identity(self, identity: Any) -> Any:
        return domains.real(self.kind, "identity", identity)

    def outputs(self) -> tuple[Output, ...]:
        """The flat outputs, in order: name suffix, dtype (``"float"``, ``"int"``, ``"bool"``), identity."""
        return (Output("", "float", self.identity_value()),)

    def program(self, b: Builder) -> Any:
        """The kind's formula: its outputs from the draws, before gating, recorded through ``b``.

        Return one value per output (a value, or a tuple or list of them),
        built with the :class:`~dpa.program.Builder` primitives; see
        docs/KINDS.md. Host constants (anything computed from the spec's
        fields alone) are plain Python arithmetic here, done once.
        """
        raise NotImplementedError(
            f"spec kind {self.kind!r} ({type(self).__name__}) defines no program(self, b); see docs/KINDS.md"
        )

    @cached_property
    def recorded_program(self) -> SpecProgram:
        """:meth:`program`, recorded once: the definition every backend runs (gating is added by them)."""
        b = Builder(self.n_draws, self.kind)
        return b.finish(self.program(b), [o.dtype for o in self.outputs()])

    # -- shared --------------------------------------------------------------
    @property
    def gated(self) -> bool:
        """True when the outputs are applied with probability ``p`` (a gate draw follows the value draws)."""
        return self.p < 1.0 and self.kind != "bernoulli"

    @property
    def gate(self) -> tuple[int, int] | None:
        """``(gate draw index, threshold)``: the outputs keep their values where that draw < threshold; None if ungated."""
        return (self.n_draws, gate_threshold(self.p)) if self.gated else None

    @property
    def n_words(self) -> int:
        """64-bit hash words per sample: value draws plus the gate draw, two per word."""
        return (self.n_draws + (1 if self.gated else 0) + 1) // 2

    def identity_value(self) -> Any:
        return self.identity if self.identity is not None else self.default_identity()

    def identity_values(self) -> tuple:
        ident = self.identity_value()
        return ident if isinstance(ident, tuple) else (ident,)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict form, ``{"kind": ..., <fields>, "p": ...}``."""
        out: dict[str, Any] = {"kind": self.kind}
        own = [f for f in dataclasses.fields(self) if f.name not in ("p", "identity")]
        for f in own + [f for f in dataclasses.fields(self) if f.name in ("p", "identity")]:
            value = getattr(self, f.name)
            if f.name == "identity" and value is None:
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


# --------------------------------------------------------------------------- registry

_REGISTRY: dict[str, type[Spec]] = {}


def register_spec(cls: type[Spec]) -> type[Spec]:
    """Class decorator: make a :class:`Spec` subclass loadable by its ``kind`` name."""
    if not cls.kind:
        raise ValueError(f"{cls.__name__} has no 'kind'")
    if cls.kind in _REGISTRY and _REGISTRY[cls.kind] is not cls:
        raise ValueError(f"spec kind {cls.kind!r} is already registered by {_REGISTRY[cls.kind].__name__}")
    _REGISTRY[cls.kind] = cls
    return cls


def spec_kinds(*, order: str = "name") -> list[str]:
    """The registered spec kinds, sorted by name (or ``order="registration"``: in the order they were registered)."""
    if order not in ("name", "registration"):
        raise ValueError(f"order must be 'name' or 'registration'; got {order!r}")
    return sorted(_REGISTRY) if order == "name" else list(_REGISTRY)


def spec_class(kind: str) -> type[Spec]:
    """The class registered for ``kind``.

    Raises:
        ValueError: no such kind (the message lists the registered ones).
    """
    cls = _REGISTRY.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown spec kind {kind!r}; valid kinds: {spec_kinds()}")
    return cls


def spec_from_dict(data: Mapping[str, Any]) -> Spec:
    """Build a spec from its dict form, e.g. ``{"kind": "uniform", "low": -15, "high": 15}``.

    Raises:
        TypeError: ``data`` is not a mapping.
        ValueError: no or unknown ``kind``, unknown or missing fields, or
            field values out of range.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"a spec must be a dict with a 'kind' key; got {type(data).__name__}")
    if "kind" not in data:
        raise ValueError(f"a spec needs a 'kind' key, one of {spec_kinds()}; got keys {sorted(data)}")
    kind = data["kind"]
    cls = _REGISTRY.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown spec kind {kind!r}; valid kinds: {spec_kinds()}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k != "kind"}
    unknown = sorted(set(kwargs) - set(fields))
    if unknown:
        raise ValueError(f"{kind}: unknown field(s) {unknown}; valid fields: {sorted(fields)}")
    missing = sorted(
        name
        for name, f in fields.items()
        if name not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    )
    if missing:
        raise ValueError(f"{kind}: missing field(s) {missing}")
    for key, value in kwargs.items():
        if isinstance(value, list):
            kwargs[key] = tuple(value)
    return cls(**kwargs)


# --------------------------------------------------------------------------- kinds


@register_spec
@dataclass(frozen=True)
class UniformSpec(Spec):
    """Uniform on ``[low, high]``: ``low + d * ((high - low) * 2**-32)`` for a 32-bit draw ``d``.

    Values lie in ``[low, high]``; ``high`` itself comes out only for ranges
    narrower than 2**31 ulps of ``high``, where rounding the sum reaches it
    (``[1, nextafter(1, 2)]`` gives ``high`` for half of the draws, ``[1, 1 + 1e-7]``
    for 4 of the 2**32). ``high - low`` must be finite
    and either 0 or at least ``2**-990`` (:func:`dpa.domains.step`).

    >>> UniformSpec(low=-15, high=15).to_dict()
    {'kind': 'uniform', 'low': -15.0, 'high': 15.0, 'p': 1.0}
    """

    kind: ClassVar[str] = "uniform"
    doc_example: ClassVar[dict[str, Any] | None] = {"low": -1.0, "high": 1.0}
    low: float
    high: float

    def _validate(self) -> None:
        object.__setattr__(self, "low", domains.real(self.kind, "low", self.low))
        object.__setattr__(self, "high", domains.real(self.kind, "high", self.high))
        domains.ordered(self.kind, "low", self.low, "high", self.high)
        domains.step(self.kind, "high - low", self.low, self.high)

    @cached_property
    def _scale(self) -> float:
        return (self.high - self.low) * TWO_M32

    def program(self, b: Builder) -> Any:
        scale = b.const(self._scale, "scale", "(high - low) * 2^-32")
        return b.field(self, "low") + b.draw(0) * scale


@register_spec
@dataclass(frozen=True)
class LogUniformSpec(Spec):
    """Log-uniform on ``[low, high]``, ``0 < low <= high``: ``exp(log(low) + u * log(high / low))``.

    ``exp`` and ``log`` are :mod:`dpa.fmath`'s; the result is kept inside
    ``[low, high]`` against rounding. Both logs must lie in exp's domain
    ``[-708, 709]``: ``low >= 3.3075530036382e-308``, ``high <= 8.2184074615554e+307``
    (:func:`dpa.domains.log_in_exp_domain`).
    """

    kind: ClassVar[str] = "log_uniform"
    doc_example: ClassVar[dict[str, Any] | None] = {"low": 0.5, "high": 2.0}
    low: float
    high: float

    def _validate(self) -> None:
        object.__setattr__(self, "low", domains.real(self.kind, "low", self.low))
        object.__setattr__(self, "high", domains.real(self.kind, "high", self.high))
        a = domains.log_in_exp_domain(self.kind, "low", self.low)
        domains.ordered(self.kind, "low", self.low, "high", self.high)
        b = domains.log_in_exp_domain(self.kind, "high", self.high)
        domains.step(self.kind, "log(high) - log(low)", a, b)

    @cached_property
    def _consts(self) -> tuple[float, float]:
        a = fmath.log(self.low)
        return a, (fmath.log(self.high) - a) * TWO_M32

    def program(self, b: Builder) -> Any:
        a, s = self._consts
        a = b.const(a, "a", "log(low)")
        s = b.const(s, "s", "(log(high) - a) * 2^-32")
        x = b.exp(a + b.draw(0) * s)
        return b.maximum(b.minimum(x, b.field(self, "high")), b.field(self, "low"))


@register_spec
@dataclass(frozen=True)
class NormalSpec(Spec):
    """Normal: ``mean + std * ndtri((d + 0.5) * 2**-32)`` (inverse CDF, AS241).

    With 32-bit draws ``|ndtri|`` is at most ``NDTRI_MAX = 6.337957754553789``,
    so the values lie in ``[mean - std * NDTRI_MAX, mean + std * NDTRI_MAX]``,
    which must be finite (:func:`dpa.domains.normal_extremes`).
    """

    kind: ClassVar[str] = "normal"
    doc_example: ClassVar[dict[str, Any] | None] = {"mean": 0.0, "std": 1.0}
    mean: float
    std: float

    def _validate(self) -> None:
        object.__setattr__(self, "mean", domains.real(self.kind, "mean", self.mean))
        object.__setattr__(self, "std", domains.real(self.kind, "std", self.std))
        if self.std < 0.0:
            raise ValueError(f"{self.kind}.std must be >= 0; got {self.std}")
        domains.normal_extremes(self.kind, self.mean, self.std)

    def program(self, b: Builder) -> Any:
        return b.field(self, "mean") + b.field(self, "std") * b.ndtri(b.open_unit(0))


@register_spec
@dataclass(frozen=True)
class TruncatedNormalSpec(Spec):
    """Normal(mean, std) restricted to ``[low, high]`` (absolute bounds), by inverse CDF.

    The bounds must lie within 30 standard deviations of the mean, and
    ``|mean| + 31 * std`` must be finite (:func:`dpa.domains.truncated_normal`).
    Sampling happens on the side of the mean with less mass, mirrored, so
    tails keep their precision.
    """

    kind: ClassVar[str] = "truncated_normal"
    doc_example: ClassVar[dict[str, Any] | None] = {"mean": 0.0, "std": 1.0, "low": -1.0, "high": 2.0}
    mean: float
    std: float
    low: float
    high: float

    def _validate(self) -> None:
        for name in ("mean", "std", "low", "high"):
            object.__setattr__(self, name, domains.real(self.kind, name, getattr(self, name)))
        domains.truncated_normal(self.kind, self.mean, self.std, self.low, self.high)

    @cached_property
    def _consts(self) -> tuple[float, float, float]:
        a = (self.low - self.mean) / self.std
        b = (self.high - self.mean) / self.std
        sign = 1.0
        if a + b > 0.0:
            a, b, sign = -b, -a, -1.0
        fa, fb = fmath.ndtr(a), fmath.ndtr(b)
        return fa, (fb - fa), sign

    def program(self, b: Builder) -> Any:
        fa, span, sign = self._consts
        fa = b.const(fa, "Fa", "ndtr(a)")
        span = b.const(span, "span", "ndtr(b) - Fa")
        sign = b.const(sign, "sign", "1, or -1 when a + b > 0 (then (a, b) = (-b, -a))")
        z = b.ndtri(fa + b.open_unit(0) * span) * sign
        x = b.field(self, "mean") + b.field(self, "std") * z
        return b.maximum(b.minimum(x, b.field(self, "high")), b.field(self, "low"))


@register_spec
@dataclass(frozen=True)
class IntegerSpec(Spec):
    """Integer in ``[low, high]``, both included: ``low + floor(w * n / 2**64)``, ``n = high - low + 1``.

    One full 64-bit word per sample, so each value's probability is off by at
    most ``2**-64`` (``n <= 2**32``). Bounds are integers (``3.0`` is refused)
    in ``[-2**62, 2**62]``; the identity any int64.
    """

    kind: ClassVar[str] = "integer"
    doc_example: ClassVar[dict[str, Any] | None] = {"low": 0, "high": 9}
    n_draws: ClassVar[int] = 2
    low: int
    high: int

    def _validate(self) -> None:
        limit, text = domains.INT_LIMIT, "in [-2**62, 2**62]"
        object.__setattr__(self, "low", domains.whole(self.kind, "low", self.low, -limit, limit, text))
        object.__setattr__(self, "high", domains.whole(self.kind, "high", self.high, -limit, limit, text))
        domains.ordered(self.kind, "low", self.low, "high", self.high)
        if self.high - self.low + 1 > _TWO_32:
            raise ValueError(
                f"{self.kind}: high - low + 1 must be <= 2**32; got {self.high - self.low + 1}"
            )

    def _check_identity(self, identity: Any) -> Any:
        return domains.whole(self.kind, "identity", identity, -(2**63), 2**63 - 1, "in [-2**63, 2**63)")

    def outputs(self) -> tuple[Output, ...]:
        return (Output("", "int", self.identity_value()),)

    def program(self, b: Builder) -> Any:
        n = b.const(self.high - self.low + 1, "n", "high - low + 1")
        return b.field(self, "low") + b.mulhi(0, n)


@register_spec
@dataclass(frozen=True)
class ChoiceSpec(Spec):
    """One of ``values``, with optional ``weights``: index = number of thresholds <= the 64-bit word.

    Threshold ``i`` is ``floor(2**64 * (w_0 + ... + w_{i-1}) / total)``,
    computed exactly with rationals from the weights' exact binary values;
    equal weights when none are given. A value of weight 0 is never chosen,
    wherever it stands. Values are numbers: the output is an int (int64) when
    every value is an integer, else a double (ints must then be exactly
    representable, e.g. ``[1, 2.5]`` gives ``1.0`` and ``2.5``).
    """

    kind: ClassVar[str] = "choice"
    doc_example: ClassVar[dict[str, Any] | None] = {"values": [1, 2, 3], "weights": [1, 2, 1]}
    n_draws: ClassVar[int] = 2
    values: tuple
    weights: tuple | None = None

    def _validate(self) -> None:
        values = domains.choice_values(self.kind, self.values)
        object.__setattr__(self, "values", values)
        if self.weights is not None:
            object.__setattr__(self, "weights", domains.choice_weights(self.kind, self.weights, len(values)))

    @property
    def _is_int(self) -> bool:
        return all(isinstance(v, int) for v in self.values)

    def _check_identity(self, identity: Any) -> Any:
        if self._is_int:
            return domains.whole(self.kind, "identity", identity, -(2**63), 2**63 - 1, "in [-2**63, 2**63)")
        return domains.real(self.kind, "identity", identity)

    def outputs(self) -> tuple[Output, ...]:
        return (Output("", "int" if self._is_int else "float", self.identity_value()),)

    @cached_property
    def thresholds(self) -> tuple[int, ...]:
        """The thresholds below ``2**64`` (one reached by no word is left out: its value has weight 0)."""
        return domains.choice_thresholds(self.weights, len(self.values))

    def program(self, b: Builder) -> Any:
        # A threshold of 2**64 (trailing zero weights) is above every word: it adds nothing to the count.
        reachable = tuple(t for t in self.thresholds if t < _TWO_64)
        t = b.const(reachable, "T", "(T_i < 2^64 for i = 1 .. k-1), T_i = floor(2^64 * (w_0 + ... + w_{i-1}) / total)")
        return b.lookup(b.const(self.values, "values"), b.count_ge(0, t))


@register_spec
@dataclass(frozen=True)
class BernoulliSpec(Spec):
    """True with probability ``p``: the 32-bit draw is below ``floor(p * 2**32 + 0.5)``.

    Here ``p`` is the value's own probability, not a gate.
    """

    kind: ClassVar[str] = "bernoulli"
    doc_example: ClassVar[dict[str, Any] | None] = {"p": 0.5}

    def default_identity(self) -> Any:
        return False

    def _check_identity(self, identity: Any) -> Any:
        raise ValueError(f"{self.kind} takes no 'identity' (its p is the probability of True)")

    def outputs(self) -> tuple[Output, ...]:
        return (Output("", "bool", False),)

    def program(self, b: Builder) -> Any:
        return b.below(0, b.const(gate_threshold(self.p), "T", "floor(p * 2^32 + 0.5)"))

