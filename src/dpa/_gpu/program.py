"""A config as the fused kernel's program: every parameter's spec program lowered to plain tuples.

Pure Python (no triton, no torch), so it is cheap to build and testable
anywhere. There is no per-kind code here or anywhere in :mod:`dpa._gpu`:
every parameter, a built-in kind or a user's, reaches the kernel as its
recorded :class:`dpa.program.SpecProgram` (the one definition of its
formula), lowered op by op by :func:`lower`. :func:`build_program` makes
one record per parameter::

    (row, n_words, (gate_draw, gate_threshold), outputs, ops, results)

* ``row``, ``n_words``: the parameter's first hash row and word count (its
  words are rows ``row .. row + n_words - 1`` of the plan's row constants);
* the gate: ``gate_draw = -1`` when ungated, else the draw index and
  ``T(p)``; the outputs keep their values where ``draw < T(p)``;
* ``outputs``: ``(dtype code, output index, identity)`` per output of the
  spec, where the index is the output's position in the config (the
  kernel's output pointer) and a float identity is given as its IEEE bits;
* ``ops``, ``results``: the lowered spec program and the registers that
  hold its outputs.

The kernel takes the records as a ``tl.constexpr`` and unrolls them at
compile time (:mod:`dpa._gpu.walker`): one compiled kernel per distinct
program, straight-line code, while the per-(seed, epoch) hash row constants
travel as a tensor, so a new seed or epoch never recompiles.

The op list is static single assignment: op ``i`` writes register ``i``
and reads only registers before it. Each op is ``(code, operands...)``;
``r`` is a register, floats travel as their IEEE bits (:func:`float_bits`,
so the kernel rebuilds the very doubles the specs hold, signed zeros
included). One op per primitive of :data:`dpa.program.PRIMITIVES`, with
its meaning there:

===============================  =====================  =====================================
code                             operands               result
===============================  =====================  =====================================
O_DRAW, O_WORD                   k (draw), j (word)     uint64
O_CONST                          type, value            f64 (bits), i64 or bool constant
O_UNIT, O_OPEN_UNIT, O_TO_FLOAT  r                      f64
O_ADD, O_SUB, O_MUL, O_DIV       r1, r2                 f64
O_NEG, O_EXP, O_LOG, O_SQRT,     r                      f64
O_NDTRI, O_FLOOR
O_MIN, O_MAX                     r1, r2                 f64 (``r2 if r2 < r1 else r1``; ``>``)
O_LT, O_LE, O_GT, O_GE           r1, r2                 bool
O_IADD, O_ISUB, O_IMUL           r1, r2                 i64
O_BELOW                          r, threshold           bool ``r < threshold``
O_MULHI                          r, n                   i64 ``floor(r * n / 2**64)``
O_COUNT_GE                       r, thresholds          i64
O_LOOKUP                         r, values, is_float    ``values[r]``
O_LEHMER                         r, radices             n i64 values, one tuple register
O_PICK                           r, j                   element ``j`` of a tuple register
O_SELECT                         c, r1, r2              ``r1`` where ``c``, else ``r2``
===============================  =====================  =====================================
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any, Sequence

__all__ = [
    "FLOAT",
    "INT",
    "BOOL",
    "OP_NAMES",
    "Program",
    "build_program",
    "lower",
    "float_bits",
    "row_constants",
]

# The op codes, one per primitive (plus O_CONST and O_PICK); the walker switches on them at compile time.
OP_NAMES = (
    "draw", "word", "const", "pick", "below", "mulhi", "count_ge", "lookup", "perm_decode", "select",
    # one register operand (codes O_UNIT ..)
    "unit", "open_unit", "to_float", "neg", "exp", "log", "sqrt", "ndtri", "floor",
    # two register operands (codes O_ADD ..)
    "add", "sub", "mul", "div", "min", "max", "lt", "le", "gt", "ge", "iadd", "isub", "imul",
)
(O_DRAW, O_WORD, O_CONST, O_PICK, O_BELOW, O_MULHI, O_COUNT_GE, O_LOOKUP, O_LEHMER, O_SELECT,
 O_UNIT, O_OPEN_UNIT, O_TO_FLOAT, O_NEG, O_EXP, O_LOG, O_SQRT, O_NDTRI, O_FLOOR,
 O_ADD, O_SUB, O_MUL, O_DIV, O_MIN, O_MAX, O_LT, O_LE, O_GT, O_GE, O_IADD, O_ISUB, O_IMUL) = range(len(OP_NAMES))
_CODE = {name: code for code, name in enumerate(OP_NAMES)}
# Primitives whose operands are all registers (constants among them become O_CONST registers first).
_REGISTER_OPS = frozenset(("unit", "open_unit", "to_float", "add", "sub", "mul", "div", "neg", "min", "max", "exp",
                           "log", "sqrt", "ndtri", "floor", "lt", "le", "gt", "ge", "iadd", "isub", "imul", "select"))
FLOAT, INT, BOOL = range(3)
_DTYPE_CODES = {"float": FLOAT, "int": INT, "bool": BOOL}
_TYPE_CODES = {"f64": FLOAT, "i64": INT, "bool": BOOL}
_MASK64 = (1 << 64) - 1


def float_bits(x: float) -> int:
    """The IEEE-754 binary64 bits of ``x`` as an unsigned int (``-0.0`` -> ``1 << 63``)."""
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


@dataclass(frozen=True)
class Program:
    """A config's fused-kernel program.

    Attributes:
        records: one record per parameter (module docstring), the kernel's constexpr.
        names: the output names, in config order (the kernel's output pointers' order).
        dtypes: the outputs' dtype codes (:data:`FLOAT`, :data:`INT`, :data:`BOOL`), in that order.
    """

    records: tuple
    names: tuple[str, ...]
    dtypes: tuple[int, ...]


def lower(prog: Any) -> tuple[tuple, tuple] | None:
    """A :class:`dpa.program.SpecProgram` as the kernel's ``(ops, results)``; None if it uses an unknown primitive.

    The translation is one op per instruction: register operands are
    renumbered, constant operands become ``O_CONST`` registers (floats as
    bits), attributes (draw and word indices, tables, thresholds) stay
    immediates. Every primitive of :data:`dpa.program.PRIMITIVES` has an op;
    None is only for a primitive added there later without one here, and
    then the config runs on the torch kernels, with the same bits.

    Args:
        prog: the spec's recorded program (``spec.recorded_program``).

    Returns:
        ``(ops, results)`` as nested tuples of ints and bools (hashable, a
        kernel constexpr): the op list, and the register of each output.
    """
    ops: list[tuple] = []
    reg: dict[int, int] = {}  # the program's register -> the kernel's

    def emit(op: tuple) -> int:
        ops.append(op)
        return len(ops) - 1

    def operand(a: Any) -> int:
        if not isinstance(a, int):  # a Const
            return emit(_const(a.type, a.value))
        return reg[a]

    for ins in prog.instrs:
        op, args, out = ins.op, ins.args, ins.out
        if op in ("draw", "word"):
            reg[out[0]] = emit((_CODE[op], int(ins.attrs[0])))
        elif op in _REGISTER_OPS:
            reg[out[0]] = emit((_CODE[op], *(operand(a) for a in args)))
        elif op in ("below", "mulhi"):
            reg[out[0]] = emit((_CODE[op], reg[args[0]], int(args[1].value)))
        elif op == "count_ge":
            reg[out[0]] = emit((O_COUNT_GE, reg[args[0]], tuple(int(t) for t in ins.attrs[0].values)))
        elif op == "lookup":
            table = ins.attrs[0]
            is_float = table.type == "f64"
            values = tuple(float_bits(v) if is_float else int(v) for v in table.values)
            reg[out[0]] = emit((O_LOOKUP, reg[args[0]], values, is_float))
        elif op == "perm_decode":
            n = int(ins.attrs[0].value)
            whole = emit((O_LEHMER, reg[args[0]], tuple(math.factorial(n - 1 - i) for i in range(n))))
            for j, r in enumerate(out):
                reg[r] = emit((O_PICK, whole, j))
        else:
            return None
    results = tuple(
        emit(_const(t, o.value)) if not isinstance(o, int) else reg[o] for o, t in zip(prog.outputs, prog.output_types)
    )
    return tuple(ops), results


def _const(type_: str, value: Any) -> tuple:
    code = _TYPE_CODES[type_]
    return (O_CONST, code, float_bits(value) if code == FLOAT else int(value))


def _identity(dtype: int, value: Any) -> int:
    if value is None:  # an ungated spec may have none; the kernel never reads it then
        return 0
    return float_bits(value) if dtype == FLOAT else int(value)


def build_program(entries: Sequence[Any], outputs: Sequence[Any]) -> Program | None:
    """The kernel program of a plan's parameters, or None when one uses a primitive the kernel lacks.

    Args:
        entries: the plan's parameters, each with ``program`` (its recorded
            spec program), ``names`` (its flat output names), ``row0``,
            ``n_words``, ``gate`` (``(draw, threshold)`` or None) and ``identities``.
        outputs: the config's outputs (``name``, ``dtype``) in config order.

    Returns:
        A :class:`Program` (see :func:`lower` for when it is None).
    """
    index = {out.name: (k, _DTYPE_CODES[out.dtype]) for k, out in enumerate(outputs)}
    records = []
    for e in entries:
        lowered = lower(e.program)
        if lowered is None:
            return None
        gate = (-1, 0) if e.gate is None else (int(e.gate[0]), int(e.gate[1]))
        outs = tuple(
            (index[name][1], index[name][0], _identity(index[name][1], ident))
            for name, ident in zip(e.names, e.identities)
        )
        records.append((int(e.row0), int(e.n_words), gate, outs, *lowered))
    return Program(tuple(records), tuple(o.name for o in outputs), tuple(_DTYPE_CODES[o.dtype] for o in outputs))


def row_constants(row_c: Any, row_k2: Any) -> list[int]:
    """The plan's per-row hash constants interleaved ``c0, k2_0, c1, k2_1, ...`` as int64 values.

    The kernel reads them from an int64 tensor; uint64 values above 2**63
    are stored as the int64 with the same bits.
    """
    out = []
    for c, k2 in zip((int(x) for x in row_c.ravel()), (int(x) for x in row_k2.ravel())):
        for v in (c, k2):
            v &= _MASK64
            out.append(v - (1 << 64) if v >> 63 else v)
    return out
