"""dpa.program: recording spec programs (operand order, types, refusals) and reading them back."""

from __future__ import annotations

import math

import pytest

from dpa.program import PRIMITIVES, Builder, Const, ProgramError
from dpa.specs import spec_from_dict


def record(n_draws: int, fn, dtypes=("float",)):
    b = Builder(n_draws, "test")
    return b.finish(fn(b), list(dtypes))


def ops(prog) -> list[str]:
    return [ins.op for ins in prog.instrs]


# Each row: a program and the (op, args) of its last instruction, operands in the order written.
ORDER = [
    (lambda b: 1.0 - b.unit(0), "sub", ("c", "r")),
    (lambda b: b.unit(0) - 1.0, "sub", ("r", "c")),
    (lambda b: 2.0 / b.unit(0), "div", ("c", "r")),
    (lambda b: b.unit(0) / 2.0, "div", ("r", "c")),
    (lambda b: 3.0 + b.unit(0), "add", ("c", "r")),
    (lambda b: b.unit(0) * 3.0, "mul", ("r", "c")),
    (lambda b: b.minimum(2.0, b.unit(0)), "min", ("c", "r")),
    (lambda b: b.maximum(b.unit(0), 2.0), "max", ("r", "c")),
]


@pytest.mark.parametrize("fn, op, kinds", ORDER)
def test_operands_are_recorded_in_the_order_written(fn, op, kinds) -> None:
    last = record(1, fn).instrs[-1]
    assert last.op == op
    assert tuple("c" if isinstance(a, Const) else "r" for a in last.args) == kinds


def test_constants_fold_in_python_and_draws_convert_exactly() -> None:
    prog = record(1, lambda b: (2.0 - 0.5) * b.draw(0) + 0.25)
    assert ops(prog) == ["draw", "to_float", "mul", "add"]
    assert ops(record(1, lambda b: b.draw(0) + 1)) == ["draw", "to_float", "add"]  # exact: a draw is below 2**32
    assert [a.value for i in prog.instrs for a in i.args if isinstance(a, Const)] == [1.5, 0.25]


def test_integer_arithmetic_stays_integer() -> None:
    prog = record(2, lambda b: 3 + b.mulhi(0, 10) * 2, ["int"])
    assert ops(prog) == ["word", "mulhi", "imul", "iadd"]
    assert prog.output_types == ("i64",)


def test_named_constants_show_in_the_listing() -> None:
    def fn(b):
        scale = b.const(0.5 * 2.0**-32, "scale", "(high - low) * 2^-32")
        return b.const(-1.0, "low") + b.draw(0) * scale

    text = record(1, fn).format()
    assert text.splitlines() == ["out = low + d0 * scale", "where scale = (high - low) * 2^-32"]


def test_shape_leaves_out_constant_values() -> None:
    a = spec_from_dict({"kind": "uniform", "low": 0, "high": 1}).recorded_program
    b = spec_from_dict({"kind": "uniform", "low": -5, "high": 7}).recorded_program
    c = spec_from_dict({"kind": "normal", "mean": 0, "std": 1}).recorded_program
    assert a.shape() == b.shape() != c.shape()
    assert a.constants() != b.constants()
    assert hash(a) != hash(b)


# Each row: a program that must be refused while recording, and a fragment of the message.
REFUSED = [
    (1, lambda b: b.draw(1), "draw index must be an integer in [0, 1)"),
    (1, lambda b: b.mulhi(0, 4), "2 * j + 1 < n_draws = 1"),  # word 0 holds the gate draw
    (1, lambda b: b.unit(0) if b.unit(0) < 0.5 else b.unit(0), "no truth value"),
    (1, lambda b: float(b.unit(0)), "float()"),
    (1, lambda b: b.exp(1.0), "exp of a constant"),
    (2, lambda b: b.word(0) * 2.0, "u64 value cannot take part in float arithmetic"),
    (2, lambda b: b.lookup((1.0, 2.0), b.mulhi(0, 3)), "below the table's length 2"),
    (2, lambda b: b.lookup((1.0, 2.0), 1), "lookup's index must be an i64 value"),
    (2, lambda b: b.perm_decode(b.mulhi(0, 100), 4)[0] * 1.0, "below n! = 24"),
    (2, lambda b: b.perm_decode(0, 13)[0] * 1.0, "perm_decode's n must be an integer in [2, 12]"),
    (2, lambda b: b.mulhi(0, 0) * 1.0, "mulhi's n must be in [1, 4294967296]"),
    (1, lambda b: b.below(0, 2**33), "below's threshold must be in [0, 4294967296]"),
    (1, lambda b: b.select(b.unit(0), 1.0, 2.0), "select's condition must be a bool"),
    (1, lambda b: b.select(b.unit(0) < 0.5, 1.0, True), "one type"),
    (1, lambda b: (b.unit(0), b.unit(0)), "returned 2 value(s); the kind declares 1"),
    (1, lambda b: b.unit(0) < 0.5, "a 'float' output needs f64"),
    (1, lambda b: "x", "expected a program value or a number"),
]


@pytest.mark.parametrize("n_draws, fn, fragment", REFUSED)
def test_bad_programs_are_refused_while_recording(n_draws, fn, fragment) -> None:
    with pytest.raises(ProgramError) as info:
        record(n_draws, fn)
    assert fragment in str(info.value)


def test_values_of_another_builder_are_refused() -> None:
    other = Builder(1).unit(0)
    with pytest.raises(ProgramError, match="another program's builder"):
        record(1, lambda b: b.unit(0) + other)


def test_constant_outputs_and_shared_registers_are_allowed() -> None:
    prog = record(1, lambda b: (b.unit(0), b.unit(0) * 0 + 1.0, 7.0)[::2] + (b.unit(0),), ["float"] * 3)
    assert isinstance(prog.outputs[1], Const) and prog.outputs[1].value == 7.0


def test_every_primitive_is_documented_with_its_gpu_counterpart() -> None:
    for name, prim in PRIMITIVES.items():
        assert prim.name == name and prim.doc and prim.triton


def test_perm_decode_shorthand_is_mulhi_of_n_factorial() -> None:
    prog = record(2, lambda b: b.perm_decode(0, 5), ["int"] * 5)
    mulhi = next(i for i in prog.instrs if i.op == "mulhi")
    assert mulhi.args[1].value == math.factorial(5)
