"""Lower a config's spec programs to the C kernel's instructions (``dpa._ckernel``, ``_interp.h``).

The kernel interprets fixed-width instructions over blocks of ids; this
module turns every parameter's :class:`~dpa.program.SpecProgram` into them:

* each value gets a location: a draw or word is read straight from its hash
  row (no instruction), an output is computed straight into its output
  array, temporaries get scratch registers (reused once dead, never the
  destination of an instruction that reads them);
* ``c + draw * s``, with ``c``, ``s`` constants (in any operand order, as
  a subtraction, or with ``unit(draw)`` for ``draw * 2**-32``) becomes one
  ``affine`` instruction, which computes exactly the same double, and
  ``exp`` of such a value (its only use) one ``affine_exp`` instruction:
  one pass over a block instead of two, and the kernel knows the range of
  the argument without looking at it;
* a gated parameter's outputs get a ``close`` instruction each: where the
  gate draw is at or above the threshold, the output takes its identity.

Nothing here knows a spec kind: any program, a user's too, runs compiled.
``DPA_DISABLE_CKERNEL=1`` in the environment turns the kernel off (see
:func:`dpa.prng.compiled_kernel`).
"""

from __future__ import annotations

import struct
from array import array
from typing import Any

from dpa import prng
from dpa._layout import Layout, Param
from dpa.program import Const, SpecProgram

__all__ = ["opcodes", "lower", "compile_kernel", "bind"]

L_REG, L_OUT, L_WORD, L_HI, L_LO, L_IMM = 1, 2, 3, 4, 5, 6
_TYPE_CODES = {"float": "f", "int": "i", "bool": "b"}
# Primitives that are one instruction with the same name.
_DIRECT = {"unit", "open_unit", "add", "sub", "mul", "div", "neg", "min", "max", "exp", "log", "sqrt", "ndtri",
           "floor", "lt", "le", "gt", "ge", "iadd", "isub", "imul", "below", "mulhi", "count_ge", "lookup"}


def _loc(kind: int, index: int) -> int:
    if not 0 <= index < 1 << 24:
        raise ValueError(f"operand index {index} out of range")
    return (kind << 24) | index


def _bits(value: Any, type_: str) -> int:
    if type_ == "f64":
        return struct.unpack("<Q", struct.pack("<d", float(value)))[0]
    return int(value) & ((1 << 64) - 1)


def opcodes() -> dict[str, int]:
    """The kernel's opcode numbers by name (``_interp.h`` defines them; the kernel must be built)."""
    kernel = prng.compiled_kernel()
    if kernel is None:
        raise RuntimeError("the C kernel is not built here (no C compiler at install time, or DPA_DISABLE_CKERNEL)")
    return {name: i for i, name in enumerate(kernel.OPCODES)}


class _Lowering:
    """Accumulates instructions and the constant pool for a whole layout."""

    def __init__(self) -> None:
        self.op = opcodes()
        self.code = array("i")
        self.pool = array("Q")
        self.free: list[int] = []
        self.nregs = 0

    def imm(self, value: Any, type_: str) -> int:
        self.pool.append(_bits(value, type_))
        return _loc(L_IMM, len(self.pool) - 1)

    def table(self, values: Any, type_: str) -> tuple[int, int]:
        at = len(self.pool)
        self.pool.extend(_bits(v, type_) for v in values)
        return at, len(values)

    def emit(self, op: str, d: int = 0, a: int = 0, b: int = 0, c: int = 0, x: int = 0, y: int = 0) -> None:
        self.code.extend((self.op[op], d, a, b, c, x, y, 0))

    def reg(self) -> int:
        if self.free:
            return _loc(L_REG, self.free.pop())
        self.nregs += 1
        return _loc(L_REG, self.nregs - 1)

    def release(self, loc: int) -> None:
        if loc >> 24 == L_REG:
            self.free.append(loc & 0xFFFFFF)


_TWO_M32 = 2.0**-32


def _scaled_draw(prog: SpecProgram, defs: dict, uses: list[int], r: Any) -> tuple[int, float, list[int]] | None:
    """``(draw register, s, temporaries)`` when register ``r`` is exactly ``draw * s``, single use, else None.

    ``to_float(d) * s`` and ``s * to_float(d)`` (IEEE ``*`` is commutative), and
    ``unit(d)``, which is ``d * 2**-32`` exactly.
    """
    if not isinstance(r, int) or uses[r] != 1:
        return None
    ins = defs[r]
    if ins.op == "unit":
        return ins.args[0], _TWO_M32, [r]
    if ins.op != "mul":
        return None
    for s, t in (ins.args, ins.args[::-1]):
        if (isinstance(s, Const) and isinstance(t, int) and uses[t] == 1 and defs[t].op == "to_float"
                and prog.types[defs[t].args[0]] == "u32"):
            return defs[t].args[0], s.value, [r, t]
    return None


def _fusions(prog: SpecProgram, uses: list[int]) -> dict[int, tuple[int, float, float, list[int]]]:
    """Instructions that are ``c + draw * s`` exactly: index -> (draw register, s, c, registers made unnecessary).

    ``x + c`` and ``c + x`` are the same IEEE sum, ``x - c`` is ``x + (-c)`` and
    ``c - d * s`` is ``c + d * (-s)`` (negation is exact), so each becomes one
    ``affine`` instruction, which computes ``c + u32d(d) * s``.
    """
    defs = {r: ins for ins in prog.instrs for r in ins.out}
    fused = {}
    for idx, ins in enumerate(prog.instrs):
        if ins.op not in ("add", "sub"):
            continue
        a, b = ins.args
        candidates = [(a, b, 1.0, 1.0), (b, a, 1.0, 1.0)] if ins.op == "add" else [(a, b, 1.0, -1.0), (b, a, -1.0, 1.0)]
        for x, c, sign_s, sign_c in candidates:
            found = _scaled_draw(prog, defs, uses, x) if isinstance(c, Const) else None
            if found is not None:
                draw, scale, temps = found
                fused[idx] = (draw, sign_s * scale, sign_c * c.value, temps)
                break
    return fused


def _lower_param(lw: _Lowering, p: Param, types: str) -> None:
    prog = p.program
    uses = prog.uses()
    fused = _fusions(prog, uses)
    skipped = {r for (_, _, _, temps) in fused.values() for r in temps}
    # exp(c + draw * s) with the affine value used once: idx of the exp -> the affine's fusion.
    affine_of = {prog.instrs[idx].out[0]: f for idx, f in fused.items()}
    exp_fused = {idx: affine_of[ins.args[0]] for idx, ins in enumerate(prog.instrs)
                 if ins.op == "exp" and ins.args[0] in affine_of and uses[ins.args[0]] == 1}
    skipped |= {prog.instrs[idx].args[0] for idx in exp_fused}
    where: dict[int, int] = {}  # register -> location
    remaining = list(uses)
    # Outputs are computed straight into their arrays: the first output of each register.
    out_home: dict[int, int] = {}
    for o, slot in zip(prog.outputs, p.slots):
        if isinstance(o, int) and o not in out_home:
            out_home[o] = _loc(L_OUT, slot)

    def operand(a: Any) -> int:
        if isinstance(a, Const):
            return lw.imm(a.value, a.type)
        return where[a]

    def done(args: Any) -> None:
        for a in args:
            if isinstance(a, int):
                remaining[a] -= 1
                if remaining[a] == 0 and a not in out_home:
                    lw.release(where[a])

    for idx, ins in enumerate(prog.instrs):
        op = ins.op
        if op == "draw":
            k = ins.attrs[0]
            where[ins.out[0]] = _loc(L_HI if k % 2 == 0 else L_LO, p.row0 + k // 2)
            continue
        if op == "word":
            where[ins.out[0]] = _loc(L_WORD, p.row0 + ins.attrs[0])
            continue
        if ins.out[0] in skipped:
            continue
        dsts = [out_home.get(r) or lw.reg() for r in ins.out]
        for r, d in zip(ins.out, dsts):
            where[r] = d
        if idx in fused or idx in exp_fused:
            draw, scale, offset, _ = fused[idx] if idx in fused else exp_fused[idx]
            lw.emit("affine" if idx in fused else "affine_exp", dsts[0], where[draw], lw.imm(scale, "f64"),
                    lw.imm(offset, "f64"))
            done([draw])
            continue
        args = [operand(a) for a in ins.args]
        if op == "to_float":
            lw.emit("to_float_d" if prog.types[ins.args[0]] == "u32" else "to_float_i", dsts[0], args[0])
        elif op in ("count_ge", "lookup"):
            at, n = lw.table(ins.attrs[0].values, ins.attrs[0].type)
            lw.emit(op, dsts[0], args[0], x=at, y=n)
        elif op == "perm_decode":
            at, n = lw.table(dsts, "i64")
            lw.emit("perm_decode", 0, args[0], x=at, y=n)
        elif op == "select":
            lw.emit("select_b" if prog.types[ins.out[0]] == "bool" else "select", dsts[0], *args)
        elif op in _DIRECT:
            lw.emit(op, dsts[0], *args)
        else:  # pragma: no cover - every primitive is handled above
            raise NotImplementedError(op)
        done(ins.args)
        for r in ins.out:
            if uses[r] == 0 and r not in out_home:
                lw.release(where[r])
    # Outputs not computed in place: constants, and a register that feeds two outputs.
    for o, slot, t in zip(prog.outputs, p.slots, prog.output_types):
        home = _loc(L_OUT, slot)
        if isinstance(o, int) and out_home.get(o) == home:
            continue
        lw.emit("move_b" if t == "bool" else "move", home, operand(o))
    if p.gate is not None:
        draw, threshold = p.gate
        gate = _loc(L_HI if draw % 2 == 0 else L_LO, p.row0 + draw // 2)
        for slot, ident, t in zip(p.slots, p.identities, prog.output_types):
            lw.emit("close_b" if t == "bool" else "close", _loc(L_OUT, slot), gate, lw.imm(threshold, "u64"),
                    lw.imm(ident, t))



def lower(layout: Layout) -> tuple[array, array, int]:
    """The kernel's code (int32, 8 per instruction), constant pool (uint64) and register count for a layout."""
    lw = _Lowering()
    types = "".join(_TYPE_CODES[d] for d in layout.dtypes)
    for p in layout.params:
        _lower_param(lw, p, types)
    return lw.code, lw.pool, lw.nregs


def compile_kernel(layout: Layout) -> Any:
    """A ``_ckernel.Kernel`` for a layout (epoch-independent), or None when the kernel is not built."""
    kernel = prng.compiled_kernel()
    if kernel is None:
        return None
    code, pool, nregs = lower(layout)
    types = "".join(_TYPE_CODES[d] for d in layout.dtypes)
    return kernel.Kernel(code, pool, nregs, layout.n_rows, tuple(layout.names), types)


def bind(kernel: Any, layout: Layout, row_k2: Any) -> Any:
    """``kernel`` bound to one epoch's row constants: a ``_ckernel.Program`` with ``fill`` and ``one``."""
    return kernel.bind(layout.row_c.reshape(-1), row_k2.reshape(-1))
