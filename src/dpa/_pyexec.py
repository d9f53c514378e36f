"""The pure-Python one-sample backend: a config's programs compiled into one Python function.

Interpreting the instructions one sample at a time would cost a Python call
per instruction. Instead :func:`compile_scalar` writes the whole config as
straight-line Python source once per layout (a statement per instruction,
constants as literals, each parameter's gate as an ``if``), compiles it, and
returns a factory; the factory binds one epoch's counter bytes and returns
``sample(sample_id) -> dict``. Python's float arithmetic is IEEE binary64
with round-to-nearest, so each statement computes exactly what the other
backends compute; only the operations Python refuses where IEEE gives a
value (division by zero, the square root of a negative) go through helpers.

Used where the C kernel is not built (or is switched off); the same source
shows what a program does, sample by sample (:func:`scalar_source`).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import xxhash

from dpa import fmath
from dpa._layout import Layout
from dpa.keys import counter_word
from dpa.program import Const, SpecProgram, Table

__all__ = ["compile_scalar", "scalar_source", "program_function"]

_M32 = 0xFFFFFFFF


def _div(a: float, b: float) -> float:
    """IEEE division where Python raises ZeroDivisionError."""
    if b != 0.0:
        return a / b
    if a != a or a == 0.0:
        return math.nan
    return math.copysign(math.inf, a) * math.copysign(1.0, b)


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x >= 0.0 else math.nan


def _floor(x: float) -> float:
    return float(math.floor(x)) if math.isfinite(x) else x


def _perm(k: int, n: int) -> tuple:
    """SPEC's Lehmer decoding of rank k into n positions."""
    digits = [(k // math.factorial(n - 1 - i)) % (n - i) for i in range(n)]
    for i in range(n - 2, -1, -1):
        for j in range(i + 1, n):
            if digits[j] >= digits[i]:
                digits[j] += 1
    return tuple(digits)


_HELPERS = {
    "_digest": xxhash.xxh64_intdigest,
    "_exp": fmath.exp,
    "_log": fmath.log,
    "_ndtri": fmath.ndtri,
    "_sqrt": _sqrt,
    "_floor": _floor,
    "_div": _div,
    "_perm": _perm,
}


class _Writer:
    """Source of one parameter's statements; registers named ``r<param>_<reg>``."""

    def __init__(self, index: int, prog: SpecProgram, pool: list) -> None:
        self.index, self.prog, self.pool = index, prog, pool
        self.lines: list[str] = []
        self.kind: dict[int, str] = {}  # register -> "int" (a Python int standing for an exact float) or "float"

    def reg(self, r: int) -> str:
        return f"r{self.index}_{r}"

    def literal(self, value: Any) -> str:
        if isinstance(value, bool) or isinstance(value, int):
            return repr(value)
        if math.isfinite(value) and not (value == 0.0 and math.copysign(1.0, value) < 0):
            return f"({value!r})" if value < 0 else repr(value)
        self.pool.append(value)
        return f"_C[{len(self.pool) - 1}]"

    def operand(self, a: Any, as_float: bool = False) -> str:
        if isinstance(a, Const):
            return self.literal(float(a.value) if as_float and a.type == "f64" else a.value)
        text = self.reg(a)
        return f"float({text})" if as_float and self.kind.get(a) == "int" else text

    def float_pair(self, a: Any, b: Any) -> tuple[str, str]:
        """Operands of a float operation: at least one must be a Python float for float semantics."""
        int_a = not isinstance(a, Const) and self.kind.get(a) == "int"
        int_b = not isinstance(b, Const) and self.kind.get(b) == "int"
        if int_a and int_b:
            return self.operand(a, True), self.operand(b)
        return self.operand(a), self.operand(b)


def _param_lines(w: _Writer, words: list[str]) -> list[str]:
    """Statements computing a parameter's registers from its words (names in ``words``)."""
    out = w.lines
    for ins in w.prog.instrs:
        op, a = ins.op, ins.args
        dst = w.reg(ins.out[0])
        if op == "word":
            out.append(f"{dst} = {words[ins.attrs[0]]}")
        elif op == "draw":
            k = ins.attrs[0]
            out.append(f"{dst} = {words[k // 2]} >> 32" if k % 2 == 0 else f"{dst} = {words[k // 2]} & {_M32}")
        elif op == "unit":
            out.append(f"{dst} = {w.operand(a[0])} * {2.0 ** -32!r}")
        elif op == "open_unit":
            out.append(f"{dst} = ({w.operand(a[0])} + 0.5) * {2.0 ** -32!r}")
        elif op == "to_float":
            out.append(f"{dst} = {w.operand(a[0])}")
            w.kind[ins.out[0]] = "int" if w.prog.types[a[0]] == "u32" else "float"
            if w.kind[ins.out[0]] == "float":
                out[-1] = f"{dst} = float({w.operand(a[0])})"
        elif op in ("add", "sub", "mul"):
            x, y = w.float_pair(a[0], a[1])
            out.append(f"{dst} = {x} {'+-*'['add sub mul'.split().index(op)]} {y}")
        elif op == "div":
            x, y = w.float_pair(a[0], a[1])
            out.append(f"{dst} = {x} / {y} if {y} else _div({x}, {y})")
        elif op == "neg":
            out.append(f"{dst} = -{w.operand(a[0], True)}")
        elif op in ("min", "max"):
            x, y = w.operand(a[0], True), w.operand(a[1], True)
            cmp = "<" if op == "min" else ">"
            out.append(f"{dst} = {y} if {y} {cmp} {x} else {x}")
        elif op in ("exp", "log", "ndtri", "sqrt", "floor"):
            out.append(f"{dst} = _{op}({w.operand(a[0], True)})")
        elif op in ("lt", "le", "gt", "ge"):
            sym = {"lt": "<", "le": "<=", "gt": ">", "ge": ">="}[op]
            out.append(f"{dst} = {w.operand(a[0])} {sym} {w.operand(a[1])}")
        elif op in ("iadd", "isub", "imul"):
            sym = {"iadd": "+", "isub": "-", "imul": "*"}[op]
            out.append(f"{dst} = {w.operand(a[0])} {sym} {w.operand(a[1])}")
        elif op == "below":
            out.append(f"{dst} = {w.operand(a[0])} < {a[1].value}")
        elif op == "mulhi":
            n = a[1].value
            x = w.operand(a[0])
            out.append(f"{dst} = ((({x} >> 32) * {n}) + ((({x} & {_M32}) * {n}) >> 32)) >> 32")
        elif op == "count_ge":
            table: Table = ins.attrs[0]
            x = w.operand(a[0])
            terms = "".join(f" + ({x} >= {t})" for t in table.values)
            out.append(f"{dst} = 0{terms}")
        elif op == "lookup":
            w.pool.append(tuple(ins.attrs[0].values))
            out.append(f"{dst} = _C[{len(w.pool) - 1}][{w.operand(a[0])}]")
        elif op == "perm_decode":
            n = ins.attrs[0].value
            w.pool.append(tuple(_perm(k, n) for k in range(math.factorial(n))) if n <= 8 else None)
            x = w.operand(a[0])
            regs = ", ".join(w.reg(r) for r in ins.out)
            if n <= 8:  # n! rows of the table: a lookup beats decoding
                out.append(f"{regs}, = _C[{len(w.pool) - 1}][{x}]")
            else:
                out.append(f"{regs}, = _perm({x}, {n})")
        elif op == "select":
            c, x, y = (w.operand(v, w.prog.types[ins.out[0]] == "f64") for v in a)
            out.append(f"{dst} = {x} if {c} else {y}")
        else:  # pragma: no cover - every primitive is handled above
            raise NotImplementedError(op)
    return out


def scalar_source(layout: Layout) -> tuple[str, list]:
    """The Python source of a layout's one-sample function, and its constant pool.

    The source defines ``_make(_K, _CB, _C)``: ``_K`` the parameters' keys in
    row order, ``_CB`` the counter words' bytes (index ``j``), ``_C`` the
    pool; it returns ``sample(sample_id) -> dict``.
    """
    pool: list = []
    n_words = max((p.n_words for p in layout.params), default=0)
    body = ["def sample(sample_id):", "    idb = sample_id.to_bytes(8, 'little')"]
    slot_values: list[str] = [""] * len(layout.names)
    for i, p in enumerate(layout.params):
        w = _Writer(i, p.program, pool)
        words = [f"w{i}_{j}" for j in range(p.n_words)]
        body.append(f"    # {p.name}: {p.spec.kind}")
        for j, word in enumerate(words):
            body.append(f"    {word} = _digest(idb + _CB{j}, _K{i})")
        stmts = _param_lines(w, words)
        results = []
        for o, slot in zip(p.program.outputs, p.slots):
            want_float = layout.dtypes[slot] == "float"
            results.append(w.operand(o, want_float) if not isinstance(o, Const) else w.literal(o.value))
            slot_values[slot] = f"o{slot}"
        assigns = [f"o{slot} = {text}" for slot, text in zip(p.slots, results)]
        if p.gate is None:
            body += [f"    {s}" for s in stmts + assigns]
        else:
            d, t = p.gate
            gate_draw = f"{words[d // 2]} >> 32" if d % 2 == 0 else f"{words[d // 2]} & {_M32}"
            body.append(f"    if ({gate_draw}) < {t}:")
            body += [f"        {s}" for s in stmts + assigns]
            body.append("    else:")
            body += [f"        o{slot} = {w.literal(v)}" for slot, v in zip(p.slots, p.identities)]
    items = ", ".join(f"{name!r}: {v}" for name, v in zip(layout.names, slot_values))
    body.append(f"    return {{{items}}}")
    head = ["def _make(_K, _CB, _C):"]
    if layout.params:
        head.append(f"    {', '.join(f'_K{i}' for i in range(len(layout.params)))}, = _K")
    if n_words:
        head.append(f"    {', '.join(f'_CB{j}' for j in range(n_words))}, = _CB")
    source = "\n".join(head + ["    " + line for line in body] + ["    return sample"])
    return source, pool


def compile_scalar(layout: Layout) -> Callable[[int], Callable[[int], dict]]:
    """A factory ``make(epoch) -> sample(sample_id) -> {output name: value}`` for a layout."""
    source, pool = scalar_source(layout)
    namespace: dict[str, Any] = dict(_HELPERS)
    exec(compile(source, f"<dpa scalar program of {len(layout.params)} parameters>", "exec"), namespace)
    make = namespace["_make"]
    keys = tuple(p.key for p in layout.params)
    n_words = max((p.n_words for p in layout.params), default=0)

    def for_epoch(epoch: int) -> Callable[[int], dict]:
        counters = tuple(counter_word(epoch, j).to_bytes(8, "little") for j in range(n_words))
        return make(keys, counters, pool)

    return for_epoch


def program_function(prog: SpecProgram) -> Callable[[Any], tuple]:
    """One program as a Python function ``words -> outputs`` (the sample's hash words, ungated)."""
    pool: list = []
    w = _Writer(0, prog, pool)
    words = [f"words[{j}]" for j in range(prog.n_words)]
    lines = _param_lines(w, words)
    outs = [w.operand(o, t == "f64") if not isinstance(o, Const) else w.literal(o.value)
            for o, t in zip(prog.outputs, prog.output_types)]
    source = "\n".join(["def _make(_C):", "    def run(words):"] + [f"        {line}" for line in lines]
                       + [f"        return ({', '.join(outs)},)", "    return run"])
    namespace: dict[str, Any] = dict(_HELPERS)
    exec(compile(source, f"<dpa {prog.kind} program>", "exec"), namespace)
    return namespace["_make"](pool)
