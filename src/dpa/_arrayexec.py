"""The array backends: a config's programs interpreted over blocks of ids, with numpy or with torch.

One interpreter serves both libraries; :class:`NumpyPrims` and
:class:`TorchPrims` implement each primitive of :mod:`dpa.program` (the same
IEEE operations in the same order as every other backend). A block of ids
is hashed against all of the layout's rows at once, then each group of
same-shape programs (:class:`dpa._layout.Group`) runs as one 2-D pass: row
``i`` of every array is parameter ``i`` of the group, and the constants that
differ between members are columns. A config of nine uniforms is one
multiply and one add per block, not nine of each.

numpy words are ``uint64`` and draws ``uint32`` views of them; torch has no
unsigned 64-bit arithmetic, so there words are ``int64`` tensors holding the
same bits and draws ``int64`` values below 2**32 (see :mod:`dpa._prng_torch`).
"""

from __future__ import annotations

import math
import sys
from typing import Any, Sequence

import numpy as np

from dpa import _ops, fmath
from dpa._layout import Group, Layout
from dpa.program import Const, SpecProgram
from dpa.prng import xxh64_outer

__all__ = ["NumpyPrims", "TorchPrims", "ArrayProgram"]

_M32 = 0xFFFFFFFF
_SIGN64 = 1 << 63
_TWO_M32 = 2.0**-32
_TWO_M33 = 2.0**-33


def _lehmer_float(k: Any, n: int, prims: Any) -> list:
    """SPEC's Lehmer decoding with floats: k < 12! < 2**29, so every step is exact.

    ``floor(k / f)`` is exact (its rounding error, below n! * 2**-53, is less
    than the 1/f gap to the next integer), and floats avoid slow integer division.
    """
    k = prims.to_float(k)
    digits = []
    for i in range(n):
        f = float(math.factorial(n - 1 - i))
        c = prims.lib_floor(k / f)
        k = k - c * f
        digits.append(c)
    for i in range(n - 2, -1, -1):
        for j in range(i + 1, n):
            digits[j] = digits[j] + prims.to_float(digits[j] >= digits[i])
    return [prims.to_int(d) for d in digits]


class NumpyPrims:
    """The primitives over numpy arrays (words uint64, draws uint32, then float64/int64/bool)."""

    name = "numpy"
    ops = _ops.NP
    lib_floor = staticmethod(np.floor)

    def words(self, ids: np.ndarray, row_c: np.ndarray, row_k2: np.ndarray, out: np.ndarray, tmp: np.ndarray) -> Any:
        w = xxh64_outer(ids, row_c, row_k2, out, tmp)
        if sys.byteorder == "little":
            halves = w.view(np.uint32)
            return w, halves[:, 1::2], halves[:, 0::2]
        return w, (w >> np.uint64(32)).astype(np.uint32), (w & np.uint64(_M32)).astype(np.uint32)  # pragma: no cover

    def column(self, values: Sequence[Any], type_: str) -> Any:
        if all(v == values[0] and type(v) is type(values[0]) for v in values) and not _negzero_mix(values):
            v = values[0]
            return np.uint64(v) if type_ == "u64" else v
        dtype = {"f64": np.float64, "i64": np.int64, "u64": np.uint64, "bool": np.bool_}[type_]
        return np.array(values, dtype=dtype).reshape(-1, 1)

    def table(self, values: tuple, type_: str) -> np.ndarray:
        return np.array(values, dtype={"f64": np.float64, "i64": np.int64}[type_])

    @staticmethod
    def to_float(x: Any) -> Any:
        return x if isinstance(x, float) or x.dtype == np.float64 else x.astype(np.float64)

    @staticmethod
    def to_int(x: Any) -> Any:
        return x.astype(np.int64)

    # -- primitives ----------------------------------------------------------
    def unit(self, d: Any) -> Any:
        return np.multiply(d, _TWO_M32, dtype=np.float64)

    def open_unit(self, d: Any) -> Any:
        x = np.multiply(d, _TWO_M32, dtype=np.float64)
        x += _TWO_M33
        return x

    def to_float_op(self, x: Any, source_type: str) -> Any:
        # A draw stays uint32: the float ufuncs below cast it exactly inside the loop.
        return x if source_type == "u32" else x.astype(np.float64)

    def arith(self, op: str, a: Any, b: Any) -> Any:
        fn = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op]
        with np.errstate(all="ignore"):
            return fn(a, b, dtype=np.float64)

    def iarith(self, op: str, a: Any, b: Any) -> Any:
        fn = {"iadd": np.add, "isub": np.subtract, "imul": np.multiply}[op]
        return fn(a, b, dtype=np.int64)

    def neg(self, a: Any) -> Any:
        return np.negative(self.to_float(a))

    def minmax(self, op: str, a: Any, b: Any) -> Any:
        a, b = self.to_float(a), self.to_float(b)
        return np.where(b < a, b, a) if op == "min" else np.where(b > a, b, a)

    def unary(self, op: str, x: Any) -> Any:
        x = self.to_float(x)
        with np.errstate(all="ignore"):
            if op == "sqrt":
                return np.sqrt(x)
            if op == "floor":
                return np.floor(x)
            return getattr(fmath, op)(x, self.ops)

    def compare(self, op: str, a: Any, b: Any) -> Any:
        fn = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}[op]
        return fn(self.to_float(a), self.to_float(b))

    def below(self, d: Any, t: Any) -> Any:
        return d < t

    def mulhi(self, w: Any, n: Any) -> Any:
        n = np.uint64(n) if isinstance(n, int) else n
        hi = (w >> np.uint64(32)) * n
        lo = (w & np.uint64(_M32)) * n
        lo >>= np.uint64(32)
        hi += lo
        hi >>= np.uint64(32)
        return hi.astype(np.int64)

    def count_ge(self, w: Any, thresholds: tuple) -> Any:
        count = np.zeros(w.shape, dtype=np.int64)
        for t in thresholds:
            count += w >= np.uint64(t)
        return count

    def lookup(self, table: np.ndarray, index: Any) -> Any:
        return table[index]

    def perm_decode(self, k: Any, n: int, table: Any) -> list:
        if table is not None:
            return [column[k] for column in table]
        return _lehmer_float(k, n, self)

    def perm_table(self, n: int) -> Any:
        """Per position, the digit of every rank, for n <= 8 (8! rows: a lookup beats decoding)."""
        if n > 8:
            return None
        ks = np.arange(math.factorial(n), dtype=np.float64)
        return [np.ascontiguousarray(c) for c in _lehmer_float(ks, n, self)]

    def select(self, c: Any, a: Any, b: Any, type_: str) -> Any:
        if type_ == "f64":
            a, b = self.to_float(a), self.to_float(b)
        return np.where(c, a, b)


class TorchPrims:
    """The primitives over torch tensors on any device (words and draws as int64)."""

    name = "torch"

    def __init__(self, device: Any) -> None:
        import torch

        from dpa import _prng_torch

        self.torch, self.device = torch, device
        self.ops = _ops.TorchOps()
        self._srl, self._signed, self._rows = _prng_torch.srl, _prng_torch.to_signed, _prng_torch.xxh64_rows_torch
        self.lib_floor = torch.floor

    def words(self, ids: Any, row_c: Any, row_k2: Any) -> Any:
        w = self._rows(ids, row_c, row_k2)
        return w, self._srl(w, 32), w & _M32

    def column(self, values: Sequence[Any], type_: str) -> Any:
        if all(v == values[0] and type(v) is type(values[0]) for v in values) and not _negzero_mix(values):
            return self._signed(values[0]) if type_ == "u64" else values[0]
        t = self.torch
        dtype = {"f64": t.float64, "i64": t.int64, "u64": t.int64, "bool": t.bool}[type_]
        vals = [self._signed(v) for v in values] if type_ == "u64" else list(values)
        return t.tensor(vals, dtype=dtype, device=self.device).view(-1, 1)

    def table(self, values: tuple, type_: str) -> Any:
        t = self.torch
        return t.tensor(values, dtype=t.float64 if type_ == "f64" else t.int64, device=self.device)

    def _tensor(self, x: Any, dtype: Any) -> Any:
        t = self.torch
        return x if isinstance(x, t.Tensor) else t.tensor(x, dtype=dtype, device=self.device)

    def to_float(self, x: Any) -> Any:
        return x if isinstance(x, float) else x.to(self.torch.float64)

    def to_int(self, x: Any) -> Any:
        return x.to(self.torch.int64)

    def unit(self, d: Any) -> Any:
        return d.to(self.torch.float64) * _TWO_M32

    def open_unit(self, d: Any) -> Any:
        return d.to(self.torch.float64) * _TWO_M32 + _TWO_M33

    def to_float_op(self, x: Any, source_type: str) -> Any:
        return x.to(self.torch.float64)

    def arith(self, op: str, a: Any, b: Any) -> Any:
        if op == "add":
            return a + b
        if op == "sub":
            return a - b
        if op == "mul":
            return a * b
        return a / b

    def iarith(self, op: str, a: Any, b: Any) -> Any:
        return self.arith(op[1:], a, b)

    def neg(self, a: Any) -> Any:
        return -a

    def minmax(self, op: str, a: Any, b: Any) -> Any:
        t = self.torch
        a, b = self._tensor(a, t.float64), self._tensor(b, t.float64)
        return t.where(b < a, b, a) if op == "min" else t.where(b > a, b, a)

    def unary(self, op: str, x: Any) -> Any:
        if op == "sqrt":
            return self.ops.sqrt(x)
        if op == "floor":
            return self.torch.floor(x)
        return getattr(fmath, op)(x, self.ops)

    def compare(self, op: str, a: Any, b: Any) -> Any:
        if op == "lt":
            return a < b
        if op == "le":
            return a <= b
        if op == "gt":
            return a > b
        return a >= b

    def below(self, d: Any, t: Any) -> Any:
        return d < t

    def mulhi(self, w: Any, n: Any) -> Any:
        # Products of 32-bit halves wrap in int64 exactly as in uint64; only the right shifts must be logical.
        srl = self._srl
        hi = srl(w, 32) * n
        lo = (w & _M32) * n
        return srl(hi + srl(lo, 32), 32)

    def count_ge(self, w: Any, thresholds: tuple) -> Any:
        # Unsigned order on int64 bits: flip the sign bit, then compare signed.
        t = self.torch
        w = w ^ self._signed(_SIGN64)
        count = t.zeros(w.shape, dtype=t.int64, device=w.device)
        for th in thresholds:
            count += w >= self._signed(th ^ _SIGN64)
        return count

    def lookup(self, table: Any, index: Any) -> Any:
        return table[index]

    def perm_decode(self, k: Any, n: int, table: Any) -> list:
        return _lehmer_float(k, n, self)

    def perm_table(self, n: int) -> Any:
        return None

    def select(self, c: Any, a: Any, b: Any, type_: str) -> Any:
        t = self.torch
        dtype = {"f64": t.float64, "i64": t.int64, "bool": t.bool}[type_]
        return t.where(c, self._tensor(a, dtype), self._tensor(b, dtype))


def _negzero_mix(values: Sequence[Any]) -> bool:
    """0.0 and -0.0 compare equal but are different constants."""
    return any(isinstance(v, float) and v == 0.0 and math.copysign(1.0, v) < 0 for v in values) and any(
        isinstance(v, float) and v == 0.0 and math.copysign(1.0, v) > 0 for v in values
    )


class _GroupPlan:
    """A group's program with its constants as columns (or scalars where all members agree)."""

    def __init__(self, group: Group, prims: Any) -> None:
        self.group = group
        self.prog: SpecProgram = group.params[0].program
        members = [p.program for p in group.params]
        per_member = [m.constants() for m in members]
        columns = []
        for i, c in enumerate(per_member[0]):
            columns.append(prims.column([consts[i].value for consts in per_member], c.type))
        self.columns = columns
        self.tables = {}
        for idx, ins in enumerate(self.prog.instrs):
            if ins.op == "lookup":
                self.tables[idx] = prims.table(ins.attrs[0].values, ins.attrs[0].type)
            elif ins.op == "perm_decode":
                self.tables[idx] = prims.perm_table(ins.attrs[0].value)
        gate = group.params[0].gate
        self.gate = None
        if gate is not None:
            self.gate = (gate[0], prims.column([p.gate[1] for p in group.params], "u64"))
            self.identities = [
                prims.column([p.identities[j] for p in group.params], _ident_type(t))
                for j, t in enumerate(self.prog.output_types)
            ]

    def run(self, prims: Any, words: Any, hi: Any, lo: Any) -> list:
        """Every output of every member for one block: arrays of shape (members, m) or broadcastable."""
        g, prog = self.group, self.prog
        c, nw = len(g.params), g.n_words
        stop = g.row0 + c * nw

        def draw(k: int) -> Any:
            rows = hi if k % 2 == 0 else lo
            return rows[g.row0 + k // 2 : stop : nw]

        regs: list[Any] = [None] * len(prog.types)
        consts = iter(self.columns)

        def arg(a: Any) -> Any:
            return next(consts) if isinstance(a, Const) else regs[a]

        for idx, ins in enumerate(prog.instrs):
            op = ins.op
            args = [arg(a) for a in ins.args]
            if op == "draw":
                value = draw(ins.attrs[0])
            elif op == "word":
                value = words[g.row0 + ins.attrs[0] : stop : nw]
            elif op in ("unit", "open_unit"):
                value = getattr(prims, op)(args[0])
            elif op == "to_float":
                value = prims.to_float_op(args[0], prog.types[ins.args[0]])
            elif op in ("add", "sub", "mul", "div"):
                value = prims.arith(op, *args)
            elif op in ("iadd", "isub", "imul"):
                value = prims.iarith(op, *args)
            elif op == "neg":
                value = prims.neg(args[0])
            elif op in ("min", "max"):
                value = prims.minmax(op, *args)
            elif op in ("exp", "log", "sqrt", "ndtri", "floor"):
                value = prims.unary(op, args[0])
            elif op in ("lt", "le", "gt", "ge"):
                value = prims.compare(op, *args)
            elif op == "below":
                value = prims.below(*args)
            elif op == "mulhi":
                value = prims.mulhi(*args)
            elif op == "count_ge":
                value = prims.count_ge(args[0], ins.attrs[0].values)
            elif op == "lookup":
                value = prims.lookup(self.tables[idx], args[0])
            elif op == "perm_decode":
                for r, v in zip(ins.out, prims.perm_decode(args[0], ins.attrs[0].value, self.tables[idx])):
                    regs[r] = v
                continue
            elif op == "select":
                value = prims.select(*args, prog.types[ins.out[0]])
            else:  # pragma: no cover - every primitive is handled above
                raise NotImplementedError(op)
            regs[ins.out[0]] = value
        outs = []
        for o, t in zip(prog.outputs, prog.output_types):
            v = next(consts) if isinstance(o, Const) else regs[o]
            outs.append(prims.to_float(v) if t == "f64" and not isinstance(v, float) else v)
        if self.gate is not None:
            d, threshold = self.gate
            is_open = prims.below(draw(d), threshold)
            outs = [prims.select(is_open, v, ident, t) for v, ident, t in zip(outs, self.identities,
                                                                                prog.output_types)]
        return outs


def _ident_type(output_type: str) -> str:
    return output_type


class ArrayProgram:
    """A layout ready to run over blocks of ids with one array library.

    Args:
        layout: the config's layout.
        prims: :class:`NumpyPrims` or :class:`TorchPrims`.
    """

    def __init__(self, layout: Layout, prims: Any) -> None:
        self.layout, self.prims = layout, prims
        self.plans = [_GroupPlan(g, prims) for g in layout.groups]

    def block(self, words: Any, hi: Any, lo: Any, outs: Sequence[Any], start: int, stop: int) -> None:
        """Write outputs ``[start, stop)`` (slot order) from one block's words."""
        for plan in self.plans:
            values = plan.run(self.prims, words, hi, lo)
            for i, p in enumerate(plan.group.params):
                for slot, v in zip(p.slots, values):
                    outs[slot][start:stop] = _member(v, i)


def _member(v: Any, i: int) -> Any:
    """Row ``i`` of a group result: (members, m) arrays, (1, m) shared rows, (members, 1) columns, scalars."""
    shape = getattr(v, "shape", ())
    if len(shape) != 2:
        return v
    return v[i if shape[0] > 1 else 0] if shape[1] != 1 or shape[0] > 1 else v[0, 0]
