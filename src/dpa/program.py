"""Spec programs: each spec kind's formula, written once, run by every backend.

A spec kind defines one method, ``program(self, b)``, written against a
:class:`Builder` of symbolic values. Calling it *records* a
:class:`SpecProgram`: a flat list of primitive instructions in SSA form
(every register written once) with typed registers and constants. The
backends never see the kind's Python code, only its program:

* the Python one-sample path compiles a config's programs into one Python
  function (:mod:`dpa._pyexec`);
* numpy and torch interpret them over blocks of ids (:mod:`dpa._arrayexec`);
* the C kernel interprets them over cache-sized blocks (:mod:`dpa._cplan`
  lowers a program to its opcodes, ``_ckernel.c`` runs them);
* a GPU kernel generator maps each primitive onto one device function.

So a kind, built in or registered by a user, is defined in one place and
runs on every backend, at compiled speed where the C kernel is built.

>>> b = Builder(n_draws=1)
>>> x = 2.0 + b.draw(0) * 0.5
>>> prog = b.finish([x], ["float"])
>>> print(prog.format())
out = 2.0 + d0 * 0.5

Arithmetic records exactly the operations written, in the order written:
IEEE ``+`` and ``*`` are commutative, ``-`` and ``/`` are not, and ``1.0 - w``
is recorded as ``sub(1.0, w)``. Constants computed from Python floats before
they meet a symbolic value are ordinary Python arithmetic, done once when
the program is recorded (host constants: ``(high - low) * 2**-32``).

Register types: ``u64`` (a 64-bit hash word), ``u32`` (a 32-bit draw),
``f64`` (IEEE binary64), ``i64`` (signed 64-bit) and ``bool``. The
primitives are listed in :data:`PRIMITIVES`; docs/KINDS.md shows how to
write a kind and docs/SPEC.md section 5 holds every built-in kind's program,
generated from these definitions.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple, Sequence

__all__ = [
    "Builder",
    "Value",
    "Const",
    "Table",
    "Instr",
    "SpecProgram",
    "Primitive",
    "PRIMITIVES",
    "ProgramError",
    "OUTPUT_TYPES",
]

TWO_M32 = 2.0**-32
_TWO_32 = 1 << 32
_TWO_64 = 1 << 64
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1

# Output dtype of a spec (``Output.dtype``) -> register type that feeds it.
OUTPUT_TYPES = {"float": "f64", "int": "i64", "bool": "bool"}

# Largest permutation a program may decode: 12! < 2**32, so mulhi(w, n!) reaches every rank.
MAX_PERM_N = 12


class ProgramError(TypeError):
    """A spec program uses a primitive with operands it does not accept (raised while recording)."""


class Const(NamedTuple):
    """An immediate constant operand: its value, register type, and optionally a name and formula for docs.

    ``name`` and ``formula`` change no value; the pretty-printer (and the
    generated SPEC section) shows ``name`` in place of the number and lists
    ``name = formula`` below the program.
    """

    value: Any
    type: str
    name: str | None = None
    formula: str | None = None


class Table(NamedTuple):
    """A constant table attribute (choice thresholds, lookup values), with an optional name and formula."""

    values: tuple
    type: str
    name: str | None = None
    formula: str | None = None


class Instr(NamedTuple):
    """One instruction: ``out = op(args; attrs)``.

    Attributes:
        op: the primitive's name (a key of :data:`PRIMITIVES`).
        out: the registers written (one, or ``n`` for ``perm_decode``).
        args: operands, each a register index (``int``) or a :class:`Const`.
        attrs: fixed attributes that shape the code (a draw index, a table).
    """

    op: str
    out: tuple
    args: tuple
    attrs: tuple = ()


@dataclass(frozen=True)
class Primitive:
    """What a primitive takes and gives, for validation, executors and docs.

    Attributes:
        name: the opcode.
        args: the operand types (``"f64"``, ``"u32"``... or ``"any"`` for select's values).
        result: the result type (``"same"``: the type of the value operands).
        doc: its exact meaning.
        triton: the device function it maps onto (``dpa._gpu.prims``), or the Triton expression.
    """

    name: str
    args: tuple
    result: str
    doc: str
    triton: str


def _p(name: str, args: tuple, result: str, doc: str, triton: str) -> tuple[str, Primitive]:
    return name, Primitive(name, args, result, doc, triton)


PRIMITIVES: dict[str, Primitive] = dict(
    [
        _p("word", (), "u64", "hash word j of the parameter's stream (attr j)", "words[j]"),
        _p("draw", (), "u32", "draw k: the high half of word k // 2 when k is even, else its low half (attr k)", "draw"),
        _p("unit", ("u32",), "f64", "d * 2**-32, exact: [0, 1)", "unit"),
        _p("open_unit", ("u32",), "f64", "(d + 0.5) * 2**-32 = d * 2**-32 + 2**-33, exact: (0, 1)", "open_unit"),
        _p("to_float", ("int",), "f64", "the integer as a double (exact for draws; nearest for i64)", ".to(tl.float64)"),
        _p("add", ("f64", "f64"), "f64", "a + b", "a + b"),
        _p("sub", ("f64", "f64"), "f64", "a - b", "a - b"),
        _p("mul", ("f64", "f64"), "f64", "a * b", "a * b"),
        _p("div", ("f64", "f64"), "f64", "a / b", "a / b"),
        _p("neg", ("f64",), "f64", "-a (flips the sign, zeros included)", "-a"),
        _p("min", ("f64", "f64"), "f64", "b if b < a else a", "fmin"),
        _p("max", ("f64", "f64"), "f64", "b if b > a else a", "fmax"),
        _p("exp", ("f64",), "f64", "dpa's exp (SPEC section 4)", "exp"),
        _p("log", ("f64",), "f64", "dpa's log (SPEC section 4)", "log"),
        _p("sqrt", ("f64",), "f64", "correctly rounded square root", "sqrt"),
        _p("ndtri", ("f64",), "f64", "dpa's normal quantile (SPEC section 4)", "ndtri"),
        _p("floor", ("f64",), "f64", "floor", "tl.floor"),
        _p("lt", ("f64", "f64"), "bool", "a < b", "a < b"),
        _p("le", ("f64", "f64"), "bool", "a <= b", "a <= b"),
        _p("gt", ("f64", "f64"), "bool", "a > b", "a > b"),
        _p("ge", ("f64", "f64"), "bool", "a >= b", "a >= b"),
        _p("iadd", ("i64", "i64"), "i64", "a + b (must not overflow int64)", "a + b"),
        _p("isub", ("i64", "i64"), "i64", "a - b (must not overflow int64)", "a - b"),
        _p("imul", ("i64", "i64"), "i64", "a * b (must not overflow int64)", "a * b"),
        _p("below", ("u32", "u64"), "bool", "d < T (a threshold T <= 2**32: gates and bernoulli)", "below"),
        _p("mulhi", ("u64", "u64"), "i64", "floor(w * n / 2**64) for 1 <= n <= 2**32, as SPEC section 5 computes it",
           "mulhi"),
        _p("count_ge", ("u64",), "i64", "#{i : w >= T[i]}, unsigned (attr: table T)", "count_ge"),
        _p("lookup", ("i64",), "table", "values[index] (attr: the table; index below its length)", "lookup"),
        _p("perm_decode", ("i64",), "i64", "the n outputs of the Lehmer decoding of rank k < n! (attr n)", "lehmer"),
        _p("select", ("bool", "any", "any"), "same", "a where cond, else b", "tl.where"),
    ]
)

_FLOAT_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/"}
_INT_BINARY = {"add": "iadd", "sub": "isub", "mul": "imul"}
_COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_SWAPPED = {"lt": "gt", "le": "ge", "gt": "lt", "ge": "le"}


def _is_int(x: Any) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _is_real(x: Any) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


class Value:
    """A symbolic value while a program is recorded: a register, or a constant (:meth:`Builder.const`).

    Supports ``+ - * /``, unary ``-`` and ``< <= > >=`` with other values
    and Python numbers, recording each operation with its operands in the
    order written. It has no truth value: use :meth:`Builder.select` where
    Python code would branch.
    """

    __slots__ = ("builder", "ref", "type")

    def __init__(self, builder: "Builder", ref: Any, type_: str) -> None:
        self.builder = builder
        self.ref = ref  # a register index, or a Const
        self.type = type_

    def __repr__(self) -> str:
        where = f"r{self.ref}" if isinstance(self.ref, int) else repr(self.ref.value)
        return f"<{self.type} {where}>"

    # Arithmetic: the builder decides types and conversions.
    def __add__(self, other: Any) -> "Value":
        return self.builder._arith("add", self, other)

    def __radd__(self, other: Any) -> "Value":
        return self.builder._arith("add", other, self)

    def __sub__(self, other: Any) -> "Value":
        return self.builder._arith("sub", self, other)

    def __rsub__(self, other: Any) -> "Value":
        return self.builder._arith("sub", other, self)

    def __mul__(self, other: Any) -> "Value":
        return self.builder._arith("mul", self, other)

    def __rmul__(self, other: Any) -> "Value":
        return self.builder._arith("mul", other, self)

    def __truediv__(self, other: Any) -> "Value":
        return self.builder._arith("div", self, other)

    def __rtruediv__(self, other: Any) -> "Value":
        return self.builder._arith("div", other, self)

    def __neg__(self) -> "Value":
        return self.builder._neg(self)

    def __lt__(self, other: Any) -> "Value":
        return self.builder._compare("lt", self, other)

    def __le__(self, other: Any) -> "Value":
        return self.builder._compare("le", self, other)

    def __gt__(self, other: Any) -> "Value":
        return self.builder._compare("gt", self, other)

    def __ge__(self, other: Any) -> "Value":
        return self.builder._compare("ge", self, other)

    def __bool__(self) -> bool:
        raise ProgramError(
            "a spec program's value has no truth value while it is recorded (it stands for every sample at "
            "once): write b.select(condition, a, b) instead of if/else, b.minimum/b.maximum instead of min/max"
        )

    def __float__(self) -> float:
        raise ProgramError("a spec program's value is symbolic: it cannot be converted with float(); use b.to_float")

    def __int__(self) -> int:
        raise ProgramError("a spec program's value is symbolic: it cannot be converted with int()")

    __index__ = __int__


class Builder:
    """Records a spec program. Kinds receive one as ``b`` in ``program(self, b)``.

    Args:
        n_draws: the 32-bit value draws the kind declares (``Spec.n_draws``):
            ``b.draw(k)`` takes ``0 <= k < n_draws``, ``b.word(j)`` takes
            ``2 * j + 1 < n_draws`` (a word holds draws ``2j`` and ``2j + 1``;
            the gate draw, number ``n_draws``, is never readable).
        kind: the kind's name, for error messages.

    Every method returns a :class:`Value` (or a tuple of them for
    :meth:`perm_decode`); arguments may be values or Python numbers.
    """

    def __init__(self, n_draws: int, kind: str = "program") -> None:
        if not _is_int(n_draws) or n_draws < 0:
            raise ValueError(f"n_draws must be an integer >= 0; got {n_draws!r}")
        self.n_draws = int(n_draws)
        self.kind = kind
        self._instrs: list[Instr] = []
        self._types: list[str] = []
        self._bounds: dict[int, int] = {}  # i64 register -> largest value it can hold (for table indexes)
        self._memo: dict[tuple, Value] = {}

    # -- recording -----------------------------------------------------------
    def _emit(self, op: str, types: Sequence[str], args: tuple = (), attrs: tuple = ()) -> list[Value]:
        out = []
        for t in types:
            out.append(len(self._types))
            self._types.append(t)
        self._instrs.append(Instr(op, tuple(out), tuple(args), tuple(attrs)))
        return [Value(self, r, t) for r, t in zip(out, types)]

    def _error(self, message: str) -> ProgramError:
        return ProgramError(f"{self.kind} program: {message}")

    def _value(self, x: Any, want: str | None = None) -> Value:
        """``x`` as a Value: values pass, Python numbers become constants (of type ``want`` if given)."""
        if isinstance(x, Value):
            if x.builder is not self:
                raise self._error("a value from another program's builder was used")
            return x
        if isinstance(x, bool):
            if want in (None, "bool"):
                return Value(self, Const(bool(x), "bool"), "bool")
            raise self._error(f"a bool constant ({x!r}) where a number is needed")
        if _is_int(x) and want != "f64":
            x = int(x)
            if not _I64_MIN <= x <= _I64_MAX:
                raise self._error(f"integer constant {x} is outside int64")
            return Value(self, Const(x, "i64"), "i64")
        if _is_real(x):
            return Value(self, Const(float(x), "f64"), "f64")
        raise self._error(f"expected a program value or a number; got {x!r} of type {type(x).__name__}")

    def _float(self, x: Any) -> Value:
        v = self._value(x, "f64")
        if v.type == "f64":
            return v
        if v.type in ("u32", "i64"):
            if isinstance(v.ref, Const):
                return Value(self, Const(float(v.ref.value), "f64", v.ref.name, v.ref.formula), "f64")
            return self.to_float(v)
        hint = "words feed mulhi and count_ge" if v.type == "u64" else "choose between values with b.select"
        raise self._error(f"a {v.type} value cannot take part in float arithmetic ({hint})")

    def _arith(self, op: str, a: Any, b: Any) -> Value:
        va, vb = self._value(a), self._value(b)
        if va.type == "i64" and vb.type == "i64" and op in _INT_BINARY:
            if isinstance(va.ref, Const) and isinstance(vb.ref, Const):
                return self._value(_fold_int(op, va.ref.value, vb.ref.value))
            return self._emit(_INT_BINARY[op], ["i64"], (va.ref, vb.ref))[0]
        fa, fb = self._float(va), self._float(vb)
        if isinstance(fa.ref, Const) and isinstance(fb.ref, Const):
            return self._value(_fold_float(op, fa.ref.value, fb.ref.value))
        return self._emit(op, ["f64"], (fa.ref, fb.ref))[0]

    def _neg(self, a: Value) -> Value:
        fa = self._float(a)
        if isinstance(fa.ref, Const):
            return self._value(-fa.ref.value)
        return self._emit("neg", ["f64"], (fa.ref,))[0]

    def _compare(self, op: str, a: Any, b: Any) -> Value:
        va = self._value(a)
        if va.type == "u32" and op == "lt":
            return self.below(va, b)
        if va.type == "u32":
            raise self._error(f"draws compare only as draw < threshold (b.below); got {_COMPARE[op]}")
        fa, fb = self._float(va), self._float(b)
        if isinstance(fa.ref, Const) and isinstance(fb.ref, Const):
            return self._value(bool(_fold_compare(op, fa.ref.value, fb.ref.value)))
        return self._emit(op, ["bool"], (fa.ref, fb.ref))[0]

    # -- sources -------------------------------------------------------------
    def draw(self, k: int) -> Value:
        """Draw ``k`` (a 32-bit unsigned integer value): the high half of word ``k // 2`` if ``k`` is even."""
        if not _is_int(k) or not 0 <= k < self.n_draws:
            raise self._error(f"draw index must be an integer in [0, {self.n_draws}) (n_draws); got {k!r}")
        key = ("draw", int(k))
        if key not in self._memo:
            self._memo[key] = self._emit("draw", ["u32"], (), (int(k),))[0]
        return self._memo[key]

    def word(self, j: int) -> Value:
        """Hash word ``j`` (64 bits), holding draws ``2j`` and ``2j + 1``: for mulhi and count_ge."""
        if not _is_int(j) or not 0 <= j or 2 * j + 1 >= self.n_draws:
            raise self._error(
                f"word index must be an integer with 2 * j + 1 < n_draws = {self.n_draws} (a word holds two "
                f"value draws; the gate draw must stay unread); got {j!r}"
            )
        key = ("word", int(j))
        if key not in self._memo:
            self._memo[key] = self._emit("word", ["u64"], (), (int(j),))[0]
        return self._memo[key]

    def const(self, value: Any, name: str | None = None, formula: str | None = None) -> Value:
        """A constant, optionally named for the docs (``b.const(self.low, "low")``); changes no value.

        Args:
            value: a Python number (int: i64, float: f64, bool), or a
                tuple of numbers (a table for :meth:`lookup` / :meth:`count_ge`).
            name: shown by :meth:`SpecProgram.format` in place of the number.
            formula: how the host computed it, shown as ``name = formula``.
        """
        if isinstance(value, tuple):
            return _TableValue(self, value, name, formula)  # type: ignore[return-value]
        v = self._value(value)
        if isinstance(v.ref, Const):
            return Value(self, v.ref._replace(name=name, formula=formula), v.type)
        raise self._error("b.const takes a Python number or tuple")

    def field(self, spec: Any, name: str) -> Value:
        """The spec's field ``name`` as a constant named after it (``b.field(self, "low")``)."""
        return self.const(getattr(spec, name), name)

    # -- conversions ---------------------------------------------------------
    def _draw_arg(self, d: Any) -> Value:
        v = self.draw(d) if _is_int(d) else self._value(d)
        if v.type != "u32":
            raise self._error(f"expected a draw (b.draw(k)) or a draw index; got a {v.type} value")
        return v

    def _word_arg(self, w: Any) -> Value:
        v = self.word(w) if _is_int(w) else self._value(w)
        if v.type != "u64":
            raise self._error(f"expected a word (b.word(j)) or a word index; got a {v.type} value")
        return v

    def unit(self, d: Any) -> Value:
        """``d * 2**-32`` in [0, 1), exact; ``d`` is a draw or a draw index."""
        return self._emit("unit", ["f64"], (self._draw_arg(d).ref,))[0]

    def open_unit(self, d: Any) -> Value:
        """``(d + 0.5) * 2**-32`` in (0, 1), exact (never 0 or 1: safe for ndtri and log)."""
        return self._emit("open_unit", ["f64"], (self._draw_arg(d).ref,))[0]

    def to_float(self, x: Any) -> Value:
        """A draw or an i64 value as a double (exact for draws and for integers up to 2**53)."""
        v = self._value(x)
        if v.type == "f64":
            return v
        if v.type not in ("u32", "i64"):
            raise self._error(f"to_float takes a draw or an i64 value; got {v.type}")
        if isinstance(v.ref, Const):
            return self._value(float(v.ref.value))
        return self._emit("to_float", ["f64"], (v.ref,))[0]

    # -- float functions -----------------------------------------------------
    def _unary(self, op: str, x: Any) -> Value:
        v = self._float(x)
        if isinstance(v.ref, Const):
            raise self._error(f"{op} of a constant: compute host constants in Python (dpa.fmath.{op})")
        return self._emit(op, ["f64"], (v.ref,))[0]

    def exp(self, x: Any) -> Value:
        """dpa's exp (SPEC section 4), for finite arguments in [-745, 709.78]."""
        return self._unary("exp", x)

    def log(self, x: Any) -> Value:
        """dpa's natural log (SPEC section 4), for finite x > 0."""
        return self._unary("log", x)

    def sqrt(self, x: Any) -> Value:
        """The correctly rounded square root."""
        return self._unary("sqrt", x)

    def ndtri(self, x: Any) -> Value:
        """dpa's standard normal quantile (SPEC section 4), for 0 < x < 1."""
        return self._unary("ndtri", x)

    def floor(self, x: Any) -> Value:
        """floor(x), as a double."""
        return self._unary("floor", x)

    def minimum(self, a: Any, b: Any) -> Value:
        """``b if b < a else a`` (Python's ``min(a, b)``), operands in this order."""
        return self._binary("min", a, b)

    def maximum(self, a: Any, b: Any) -> Value:
        """``b if b > a else a`` (Python's ``max(a, b)``), operands in this order."""
        return self._binary("max", a, b)

    def _binary(self, op: str, a: Any, b: Any) -> Value:
        fa, fb = self._float(a), self._float(b)
        if isinstance(fa.ref, Const) and isinstance(fb.ref, Const):
            x, y = fa.ref.value, fb.ref.value
            return self._value((y if y < x else x) if op == "min" else (y if y > x else x))
        return self._emit(op, ["f64"], (fa.ref, fb.ref))[0]

    # -- integers ------------------------------------------------------------
    def _u64_const(self, x: Any, what: str, low: int, high: int) -> Const:
        if isinstance(x, Value) and isinstance(x.ref, Const) and x.type == "i64":
            const = x.ref
        elif _is_int(x):
            const = Const(int(x), "i64")
        else:
            raise self._error(f"{what} must be a Python integer (a host constant); got {x!r}")
        if not low <= const.value <= high:
            raise self._error(f"{what} must be in [{low}, {high}]; got {const.value}")
        return Const(int(const.value), "u64", const.name, const.formula)

    def below(self, d: Any, threshold: Any) -> Value:
        """``d < threshold`` for a draw and an integer ``0 <= threshold <= 2**32``."""
        dv = self._draw_arg(d)
        t = self._u64_const(threshold, "below's threshold", 0, _TWO_32)
        return self._emit("below", ["bool"], (dv.ref, t))[0]

    def mulhi(self, w: Any, n: Any) -> Value:
        """``floor(w * n / 2**64)`` for a word and an integer ``1 <= n <= 2**32``: an i64 in ``[0, n)``."""
        wv = self._word_arg(w)
        nc = self._u64_const(n, "mulhi's n", 1, _TWO_32)
        out = self._emit("mulhi", ["i64"], (wv.ref, nc))[0]
        self._bounds[out.ref] = nc.value - 1
        return out

    def count_ge(self, w: Any, thresholds: Any) -> Value:
        """How many of ``thresholds`` (integers in [0, 2**64)) are <= the word, as an i64."""
        wv = self._word_arg(w)
        table = _as_table(self, thresholds, "count_ge's thresholds")
        if not all(_is_int(t) and 0 <= t < _TWO_64 for t in table.values):
            raise self._error(f"count_ge's thresholds must be integers in [0, 2**64); got {list(table.values)}")
        table = table._replace(values=tuple(int(t) for t in table.values), type="u64")
        out = self._emit("count_ge", ["i64"], (wv.ref,), (table,))[0]
        self._bounds[out.ref] = len(table.values)
        return out

    def lookup(self, values: Any, index: Any) -> Value:
        """``values[index]``: i64 values if all are ints, else f64. ``index`` must be bounded by the table.

        The index must come from :meth:`mulhi` (with ``n <= len(values)``)
        or :meth:`count_ge` (with fewer thresholds than values), so that no
        backend can read outside the table.
        """
        table = _as_table(self, values, "lookup's values")
        if not table.values:
            raise self._error("lookup's values must not be empty")
        if all(_is_int(v) for v in table.values):
            if not all(_I64_MIN <= v <= _I64_MAX for v in table.values):
                raise self._error("lookup's integer values must fit in int64")
            table = table._replace(values=tuple(int(v) for v in table.values), type="i64")
        elif all(_is_real(v) for v in table.values):
            table = table._replace(values=tuple(float(v) for v in table.values), type="f64")
        else:
            raise self._error(f"lookup's values must be numbers (all ints or reals); got {list(table.values)}")
        iv = self._value(index)
        if iv.type != "i64" or isinstance(iv.ref, Const):
            raise self._error("lookup's index must be an i64 value from mulhi or count_ge")
        bound = self._bounds.get(iv.ref)
        if bound is None or bound >= len(table.values):
            raise self._error(
                f"lookup's index must be known to stay below the table's length {len(table.values)} "
                f"(from mulhi(w, n) with n <= {len(table.values)}, or count_ge with fewer thresholds)"
            )
        return self._emit("lookup", [table.type], (iv.ref,), (table,))[0]

    def perm_decode(self, rank: Any, n: Any) -> tuple:
        """The permutation of ``n`` items (2..12) with Lehmer rank ``rank``: ``n`` i64 values (SPEC section 5).

        ``rank`` is an i64 value below ``n!`` (``b.mulhi(w, math.factorial(n))``),
        or a word index ``j`` as a shorthand for exactly that.
        """
        nn = n.ref.value if isinstance(n, Value) and isinstance(n.ref, Const) else n
        if not _is_int(nn) or not 2 <= nn <= MAX_PERM_N:
            raise self._error(f"perm_decode's n must be an integer in [2, {MAX_PERM_N}]; got {n!r}")
        nn = int(nn)
        attr = n.ref._replace(type="i64") if isinstance(n, Value) else Const(nn, "i64")
        if _is_int(rank):
            rank = self.mulhi(self.word(rank), math.factorial(nn))
        rv = self._value(rank)
        bound = self._bounds.get(rv.ref) if rv.type == "i64" and isinstance(rv.ref, int) else None
        if bound is None or bound >= math.factorial(nn):
            raise self._error(f"perm_decode's rank must be an i64 value known to be below n! = {math.factorial(nn)} "
                              f"(b.mulhi(word, n!))")
        outs = self._emit("perm_decode", ["i64"] * nn, (rv.ref,), (attr,))
        for v in outs:
            self._bounds[v.ref] = nn - 1
        return tuple(outs)

    def select(self, cond: Any, a: Any, b: Any) -> Value:
        """``a`` where ``cond`` holds, else ``b`` (both f64, both i64, or both bool)."""
        c = self._value(cond)
        if c.type != "bool":
            raise self._error(f"select's condition must be a bool value (a comparison, b.below); got {c.type}")
        va, vb = self._value(a), self._value(b)
        if va.type != vb.type:
            if {va.type, vb.type} <= {"f64", "i64", "u32"}:
                va, vb = self._float(va), self._float(vb)
            else:
                raise self._error(f"select's values must have one type; got {va.type} and {vb.type}")
        if va.type not in ("f64", "i64", "bool"):
            raise self._error(f"select chooses between f64, i64 or bool values; got {va.type}")
        if isinstance(c.ref, Const):
            return va if c.ref.value else vb
        return self._emit("select", [va.type], (c.ref, va.ref, vb.ref))[0]

    # -- result --------------------------------------------------------------
    def finish(self, outputs: Any, dtypes: Sequence[str]) -> "SpecProgram":
        """Close the recording: ``outputs`` (a value, number, or sequence of them) against the output dtypes.

        Raises:
            ProgramError: the count or the types do not match ``dtypes``
                (``"float"``/``"int"``/``"bool"`` per output).
        """
        if isinstance(outputs, (Value, numbers.Number)):
            outputs = (outputs,)
        outputs = tuple(outputs)
        if len(outputs) != len(dtypes):
            raise self._error(f"returned {len(outputs)} value(s); the kind declares {len(dtypes)} output(s)")
        refs = []
        for i, (value, dtype) in enumerate(zip(outputs, dtypes)):
            want = OUTPUT_TYPES[dtype]
            v = self._value(value, want)
            if v.type == "i64" and want == "f64" and isinstance(v.ref, Const):
                v = self._float(v)
            if v.type != want:
                raise self._error(f"output {i} is a {v.type} value; a {dtype!r} output needs {want}")
            refs.append(v.ref)
        return SpecProgram(
            kind=self.kind,
            n_draws=self.n_draws,
            instrs=tuple(self._instrs),
            types=tuple(self._types),
            outputs=tuple(refs),
            output_types=tuple(OUTPUT_TYPES[d] for d in dtypes),
        )


class _TableValue:
    """A named table from :meth:`Builder.const`, accepted where a table is."""

    def __init__(self, builder: Builder, values: tuple, name: str | None, formula: str | None) -> None:
        self.table = Table(tuple(values), "", name, formula)

    def __bool__(self) -> bool:
        raise ProgramError("a table has no truth value")


def _as_table(builder: Builder, x: Any, what: str) -> Table:
    if isinstance(x, _TableValue):
        return x.table
    if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
        raise builder._error(f"{what} must be a sequence of numbers; got {x!r}")
    return Table(tuple(x), "")


def _fold_float(op: str, a: float, b: float) -> float:
    return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b, "div": lambda: a / b}[op]()


def _fold_int(op: str, a: int, b: int) -> int:
    return {"add": a + b, "sub": a - b, "mul": a * b}[op]


def _fold_compare(op: str, a: float, b: float) -> bool:
    return {"lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]


# --------------------------------------------------------------------------- the program


@dataclass(frozen=True)
class SpecProgram:
    """A recorded spec program: immutable, hashable, the single definition every backend runs.

    Attributes:
        kind: the spec kind it was recorded from.
        n_draws: the value draws it may read (the gate, if any, is draw ``n_draws``).
        instrs: the instructions, in order (:class:`Instr`).
        types: the type of every register.
        outputs: per output, the register (``int``) or :class:`Const` that holds it.
        output_types: per output, its register type (``f64``, ``i64`` or ``bool``).
    """

    kind: str
    n_draws: int
    instrs: tuple
    types: tuple
    outputs: tuple
    output_types: tuple

    @property
    def n_words(self) -> int:
        """Hash words holding the value draws (without a gate)."""
        return (self.n_draws + 1) // 2

    def shape(self) -> tuple:
        """The program with its scalar constants' values left out: programs of one shape differ only in them.

        Backends that interpret over arrays stack same-shape programs of a
        config (all its uniforms, say) into one 2-D pass.
        """
        def strip(a: Any) -> Any:
            return ("c", a.type) if isinstance(a, Const) else a

        instrs = tuple((i.op, i.out, tuple(strip(a) for a in i.args), _attr_key(i.attrs)) for i in self.instrs)
        return (instrs, self.types, tuple(strip(o) for o in self.outputs), self.output_types, self.n_draws)

    def constants(self) -> tuple:
        """The scalar constants, in the order :meth:`shape` leaves them out (operands, then outputs)."""
        out = [a for i in self.instrs for a in i.args if isinstance(a, Const)]
        return tuple(out + [o for o in self.outputs if isinstance(o, Const)])

    def uses(self) -> list[int]:
        """How many times each register is read (outputs count)."""
        count = [0] * len(self.types)
        for ins in self.instrs:
            for a in ins.args:
                if isinstance(a, int):
                    count[a] += 1
        for o in self.outputs:
            if isinstance(o, int):
                count[o] += 1
        return count

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_run", None)  # a compiled function: made again where it is needed
        return state

    def run(self, words: Sequence[int]) -> tuple:
        """The outputs for one sample's hash words (Python ints below 2**64), before gating, as Python values.

        The reference evaluation (the Python backend's code for this program),
        e.g. for the extreme draws: ``spec.recorded_program.run([0])``.

        >>> from dpa.specs import UniformSpec
        >>> UniformSpec(low=2.0, high=4.0).recorded_program.run([0])
        (2.0,)
        """
        fn = self.__dict__.get("_run")
        if fn is None:
            from dpa._pyexec import program_function

            fn = program_function(self)
            object.__setattr__(self, "_run", fn)
        return fn(words)

    def format(self, names: Sequence[str] | None = None, *, constants: bool = True) -> str:
        """The program as readable expressions: one line per output, shared values as ``let`` lines.

        Args:
            names: the output names (default ``out``, or ``out0, out1, ...``).
            constants: list named constants with their formulas below the program.
        """
        return _format(self, names, constants)


def _attr_key(attrs: tuple) -> tuple:
    return tuple((a.values, a.type) if isinstance(a, Table) else (a.value, a.type) if isinstance(a, Const) else a
                 for a in attrs)


# --------------------------------------------------------------------------- pretty-printing

_PREC = {"add": 1, "sub": 1, "iadd": 1, "isub": 1, "mul": 2, "div": 2, "imul": 2}
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "iadd": "+", "isub": "-", "imul": "*",
          "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _num(x: Any) -> str:
    if isinstance(x, float):
        if x == 2.0**-32:
            return "2^-32"
        if x == 2.0**-33:
            return "2^-33"
    return repr(x)


def _definitions_first(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Order ``(name, formula)`` pairs so that a name comes before the formulas that use it."""
    import re

    left, out = list(items), []
    while left:
        names = {n for n, _ in left}
        pick = next((i for i, (n, f) in enumerate(left)
                     if not any(re.search(rf"\b{re.escape(m)}\b", f) for m in names - {n})), 0)
        out.append(left.pop(pick))
    return out


def _format(prog: SpecProgram, names: Sequence[str] | None, list_constants: bool) -> str:
    uses = prog.uses()
    n_out = len(prog.outputs)
    if names is None:
        names = ["out"] if n_out == 1 else [f"out{i}" for i in range(n_out)]
    expr: dict[int, tuple[str, int]] = {}  # register -> (text, precedence; 9 = atomic)
    lines: list[str] = []
    named: dict[str, str | None] = {}
    let_count = 0

    def operand(a: Any) -> tuple[str, int]:
        if isinstance(a, Const):
            if a.name:
                named.setdefault(a.name, a.formula)
                return a.name, 9
            return _num(a.value), 9
        return expr[a]

    def table(t: Any) -> str:
        if isinstance(t, (Table, Const)) and t.name:
            named.setdefault(t.name, t.formula)
            return t.name
        return repr(list(t.values)) if isinstance(t, Table) else repr(t.value if isinstance(t, Const) else t)

    def wrap(text_prec: tuple[str, int], prec: int, right: bool = False) -> str:
        text, p = text_prec
        return f"({text})" if p < prec or (right and p == prec) else text

    for ins in prog.instrs:
        op = ins.op
        if op == "draw":
            text = (f"d{ins.attrs[0]}", 9)
        elif op == "word":
            text = (f"w{ins.attrs[0]}", 9)
        elif op == "to_float":
            text = operand(ins.args[0]) if prog.types[ins.args[0]] == "u32" else (f"float({operand(ins.args[0])[0]})", 9)
        elif op in _PREC:
            p = _PREC[op]
            text = (f"{wrap(operand(ins.args[0]), p)} {_INFIX[op]} {wrap(operand(ins.args[1]), p, right=True)}", p)
        elif op in _COMPARE:
            text = (f"{wrap(operand(ins.args[0]), 1)} {_INFIX[op]} {wrap(operand(ins.args[1]), 1)}", 0)
        elif op == "neg":
            text = (f"-{wrap(operand(ins.args[0]), 3)}", 3)
        elif op == "below":
            text = (f"{wrap(operand(ins.args[0]), 1)} < {operand(ins.args[1])[0]}", 0)
        elif op in ("count_ge", "lookup"):
            text = (f"{op}({operand(ins.args[0])[0]}, {table(ins.attrs[0])})", 9)
        elif op == "perm_decode":
            text = (f"perm_decode({operand(ins.args[0])[0]}, {table(ins.attrs[0])})", 9)
        elif op == "select":
            c, a, b = (operand(x)[0] for x in ins.args)
            text = (f"{a} if {c} else {b}", -1)
        else:
            text = (f"{op}({', '.join(operand(a)[0] for a in ins.args)})", 9)
        if len(ins.out) > 1:  # perm_decode: always a named tuple
            name = f"p{let_count}"
            let_count += 1
            lines.append(f"let {name} = {text[0]}")
            for k, r in enumerate(ins.out):
                expr[r] = (f"{name}[{k}]", 9)
            continue
        r = ins.out[0]
        if op in ("draw", "word") or uses[r] <= 1:
            expr[r] = text
        else:
            name = f"x{let_count}"
            let_count += 1
            lines.append(f"let {name} = {text[0]}")
            expr[r] = (name, 9)
    for name, o in zip(names, prog.outputs):
        lines.append(f"{name} = {operand(o)[0]}")
    if list_constants:
        # In the order the program first uses them.
        order = [a.name for ins in prog.instrs for a in (*ins.args, *ins.attrs) if isinstance(a, (Const, Table))]
        formulas = _definitions_first([(n, named[n]) for n in dict.fromkeys(order) if named.get(n)])
        for k, (name, formula) in enumerate(formulas):
            lines.append(f"{'where' if k == 0 else '     '} {name} = {formula}")
    return "\n".join(lines)
