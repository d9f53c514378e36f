"""The fused Triton path (dpa._gpu): its program, its selection, its compiled code, and its interpreter suite.

Bit-exactness on every kind and branch is checked by running the kernel in
Triton's interpreter (tests/dpa/test_triton_interpreter.py, started here in
its own process). What the interpreter cannot show, the instructions a GPU
would run, is checked on the PTX of the kernel compiled ahead of time for an
H100 (sm_90), which needs no GPU. On a machine with CUDA the kernel is also
run on the device against the CPU.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

import dpa
from dpa._gpu import program, triton_enabled
from dpa.config import AugmentationConfig
from dpa.specs import UniformSpec
from tests.conftest import requires_torch
from tests.dpa.test_ckernel import EVERY_BRANCH

HAS_TRITON = importlib.util.find_spec("triton") is not None
requires_triton = pytest.mark.skipif(not HAS_TRITON, reason="triton is not installed (a CPU-only torch build)")
ROOT = pathlib.Path(__file__).resolve().parents[2]
ONE_OF_EACH = {
    "u": {"kind": "uniform", "low": -1.0, "high": 2.0, "p": 0.5, "identity": -0.0},
    "lu": {"kind": "log_uniform", "low": 0.01, "high": 100.0},
    "n": {"kind": "normal", "mean": 0.0, "std": 1.0},
    "tn": {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": 3.0, "high": 29.0},
    "i": {"kind": "integer", "low": -5, "high": 10, "p": 0.5, "identity": -1},
    "c": {"kind": "choice", "values": [0.5, -0.0, 2.0], "weights": [1.0, 0.0, 2.0]},
    "b": {"kind": "bernoulli", "p": 0.25},
    "crop": {"kind": "resized_crop"},
    "perm": {"kind": "permutation", "n": 5},
}


def _program_of(cfg: AugmentationConfig) -> program.Program | None:
    plan = dpa.Generator(cfg, seed=0, compiled=False).plan(epoch=0)
    return program.build_program(plan.entries, cfg.outputs)


def _kind_as_ops(kind: int, c: tuple) -> tuple[list, list]:
    """A built-in kind written as a spec program over the primitives (SPEC section 5, op by op)."""
    P = program
    one = program.float_bits(1.0)
    if kind == P.K_UNIFORM:
        return [(P.O_DRAW, 0), (P.O_AFFINE, 0, c[0], c[1])], [1]
    if kind == P.K_LOG_UNIFORM:
        a, b, low, high = c
        ops = [(P.O_DRAW, 0), (P.O_AFFINE, 0, b, a), (P.O_EXP, 1), (P.O_CONST, high), (P.O_MIN, 2, 3),
               (P.O_CONST, low), (P.O_MAX, 4, 5)]
        return ops, [6]
    if kind == P.K_NORMAL:
        mean, std = c
        ops = [(P.O_DRAW, 0), (P.O_OPEN_UNIT, 0), (P.O_NDTRI, 1), (P.O_CONST, std), (P.O_MUL, 3, 2),
               (P.O_CONST, mean), (P.O_ADD, 5, 4)]
        return ops, [6]
    if kind == P.K_TRUNC_NORMAL:
        fa, span, sign, mean, std, low, high = c
        ops = [(P.O_DRAW, 0), (P.O_OPEN_UNIT, 0), (P.O_CONST, span), (P.O_MUL, 1, 2), (P.O_CONST, fa),
               (P.O_ADD, 4, 3), (P.O_NDTRI, 5), (P.O_CONST, sign), (P.O_MUL, 6, 7), (P.O_CONST, std),
               (P.O_MUL, 9, 8), (P.O_CONST, mean), (P.O_ADD, 11, 10), (P.O_CONST, high), (P.O_MIN, 12, 13),
               (P.O_CONST, low), (P.O_MAX, 14, 15)]
        return ops, [16]
    if kind == P.K_INTEGER:
        return [(P.O_WORD, 0), (P.O_MULHI, 0, c[0]), (P.O_IADD, 1, c[1])], [2]
    if kind == P.K_CHOICE:
        return [(P.O_WORD, 0), (P.O_COUNT_GE, 0, c[0]), (P.O_LOOKUP, 1, c[1], c[2])], [2]
    if kind == P.K_BERNOULLI:
        return [(P.O_DRAW, 0), (P.O_BELOW, 0, c[0])], [1]
    if kind == P.K_BOX:
        s0, ss, r0, rs = c
        ops = [(P.O_DRAW, 0), (P.O_AFFINE, 0, ss, s0), (P.O_DRAW, 1), (P.O_AFFINE, 2, rs, r0), (P.O_EXP, 3),
               (P.O_MAX, 4, 1), (P.O_CONST, one), (P.O_DIV, 6, 1), (P.O_MIN, 5, 7), (P.O_MUL, 1, 8), (P.O_SQRT, 9),
               (P.O_MIN, 10, 6), (P.O_DIV, 1, 11), (P.O_MIN, 12, 6), (P.O_DRAW, 2), (P.O_UNIT, 14), (P.O_SUB, 6, 11),
               (P.O_MUL, 15, 16), (P.O_DRAW, 3), (P.O_UNIT, 18), (P.O_SUB, 6, 13), (P.O_MUL, 19, 20)]
        return ops, [17, 21, 11, 13]
    assert kind == P.K_PERMUTATION
    n = len(c[1])
    return [(P.O_WORD, 0), (P.O_MULHI, 0, c[0]), (P.O_LEHMER, 1, c[1])] + [(P.O_PICK, 2, j) for j in range(n)], list(
        range(3, 3 + n)
    )


def as_op_programs(prog: program.Program) -> program.Program:
    """``prog`` with every record's kind replaced by the same formula as a K_PROGRAM spec program."""
    records = tuple(
        (program.K_PROGRAM, row, nw, gate, outs, program.op_program(*_kind_as_ops(kind, consts)))
        for kind, row, nw, gate, outs, consts in prog.records
    )
    return program.Program(records, prog.layout, prog.counts)


# ---------------------------------------------------------------- the program (pure Python)


def test_program_layout_follows_the_config() -> None:
    cfg = AugmentationConfig(EVERY_BRANCH)
    prog = _program_of(cfg)
    assert prog is not None
    assert [name for name, _, _ in prog.layout] == list(cfg.output_names)
    codes = {"float": program.FLOAT, "int": program.INT, "bool": program.BOOL}
    for (name, code, slot), out in zip(prog.layout, cfg.outputs):
        assert code == codes[out.dtype], name
    for code in range(3):  # slots of one dtype are 0, 1, 2, ... in config order
        assert [slot for _, c, slot in prog.layout if c == code] == list(range(prog.counts[code]))
    assert len(prog.records) == len(cfg)
    hash(prog.records)  # a valid tl.constexpr: hashable plain data


@pytest.mark.parametrize(
    "spec, kind, gate, consts",
    [
        # (spec dict, kind code, gate, constants): floats travel as their IEEE bits.
        ({"kind": "uniform", "low": -0.0, "high": 0.0, "p": 0.5, "identity": -0.0}, program.K_UNIFORM, (1, 2**31),
         (0, 1 << 63)),
        ({"kind": "bernoulli", "p": 0.25}, program.K_BERNOULLI, (-1, 0), (2**30,)),
        ({"kind": "integer", "low": -(2**62), "high": -(2**62) + 2**32 - 1}, program.K_INTEGER, (-1, 0),
         (2**32, -(2**62))),
        ({"kind": "permutation", "n": 4, "p": 0.75}, program.K_PERMUTATION, (2, 3 << 30), (24, (6, 2, 1, 1))),
        ({"kind": "choice", "values": [1, 2, 3], "weights": [1.0, 1.0, 0.0]}, program.K_CHOICE, (-1, 0),
         ((2**63,), (1, 2, 3), False)),
    ],
)
def test_program_records(spec: dict, kind: int, gate: tuple, consts: tuple) -> None:
    prog = _program_of(AugmentationConfig({"x": spec}))
    (record,) = prog.records
    assert record[0] == kind and record[3] == gate and record[5] == consts


def test_identities_and_zero_signs_survive() -> None:
    prog = _program_of(AugmentationConfig({"u": {"kind": "uniform", "low": 0, "high": 1, "p": 0.1, "identity": -0.0}}))
    (record,) = prog.records
    assert record[4] == ((program.FLOAT, 0, program.float_bits(-0.0)),)
    assert program.float_bits(-0.0) == 1 << 63


def test_other_kinds_run_as_their_spec_programs() -> None:
    """A subclass (or a user's kind) has no device function: its recorded program becomes a K_PROGRAM record."""

    class _Shifted(UniformSpec):
        kind = "test_triton_shifted"

        def program(self, b):
            return super().program(b) + 1.0

    cfg = AugmentationConfig({"a": _Shifted(low=0.0, high=1.0), "b": {"kind": "bernoulli"}})
    (shifted, bern) = _program_of(cfg).records
    assert shifted[0] == program.K_PROGRAM and bern[0] == program.K_BERNOULLI
    ops, outputs = shifted[5]
    assert [op[0] for op in ops] == [program.O_DRAW, program.O_AFFINE, program.O_CONST, program.O_MUL,
                                     program.O_CONST, program.O_ADD, program.O_CONST, program.O_ADD]


def test_a_program_the_walker_cannot_express_has_no_program() -> None:
    class _Floored(UniformSpec):
        kind = "test_triton_floored"

        def program(self, b):
            return b.floor(super().program(b))

    assert _program_of(AugmentationConfig({"a": _Floored(low=0.0, high=9.0)})) is None


@pytest.mark.parametrize(
    "ops, outputs, message",
    [
        ([(99, 0)], [0], "unknown op code 99"),
        ([(program.O_DRAW, 0), (program.O_EXP,)], [1], "code 12 takes 1 operand"),
        ([(program.O_DRAW, 0), (program.O_ADD, 0, 1)], [1], "operand 2 must be a register in \\[0, 1\\)"),
        ([(program.O_DRAW, 0)], [], "outputs must be registers"),
        ([(program.O_DRAW, 0)], [1], "outputs must be registers in \\[0, 1\\)"),
    ],
)
def test_op_program_refuses_malformed_programs(ops: list, outputs: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        program.op_program(ops, outputs)


def test_every_kind_lowers_to_a_valid_op_program() -> None:
    prog = as_op_programs(_program_of(AugmentationConfig(ONE_OF_EACH)))
    assert {r[0] for r in prog.records} == {program.K_PROGRAM}
    hash(prog.records)


def test_row_constants_are_int64_bits() -> None:
    plan = dpa.Generator(dpa.get_preset("mild"), seed=2**64 - 1, compiled=False).plan(epoch=7)
    rows = program.row_constants(plan.row_c, plan.row_k2)
    assert len(rows) == 2 * plan.n_rows
    assert all(-(2**63) <= v < 2**63 for v in rows)
    assert [v & (2**64 - 1) for v in rows[0::2]] == [int(x) for x in plan.row_c.ravel()]
    assert [v & (2**64 - 1) for v in rows[1::2]] == [int(x) for x in plan.row_k2.ravel()]


def test_the_package_ships() -> None:
    """pyproject lists its packages one by one: dpa._gpu must be among them, or a wheel would lack it."""
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "dpa._gpu" in setuptools["packages"]


# ---------------------------------------------------------------- selection


def test_import_dpa_imports_neither_triton_nor_torch() -> None:
    code = (
        "import sys, dpa\n"
        "dpa.gen_augmentation_batch(range(5), dpa.get_preset('moderate'))\n"
        "bad = [m for m in ('triton', 'torch', 'dpa._gpu', 'dpa._gpu.fused') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@requires_torch
def test_selection_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    ids = torch.arange(4)
    for name in ("DPA_TRITON", "DPA_DISABLE_TRITON", "TRITON_INTERPRET"):
        monkeypatch.delenv(name, raising=False)
    assert not triton_enabled(ids)  # off by default until checked on a GPU
    monkeypatch.setenv("DPA_TRITON", "1")
    assert not triton_enabled(ids)  # a CPU tensor, outside the interpreter
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert triton_enabled(ids) == HAS_TRITON
    for value in ("1", "true", "YES", "on"):
        monkeypatch.setenv("DPA_DISABLE_TRITON", value)
        assert not triton_enabled(ids)
    monkeypatch.setenv("DPA_DISABLE_TRITON", "0")
    assert triton_enabled(ids) == HAS_TRITON


@requires_torch
def test_the_torch_path_serves_when_the_kernel_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("DPA_TRITON", "1")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    plan = dpa.Generator(dpa.get_preset("mild"), seed=4).plan(epoch=0)
    ids = np.arange(50, dtype=np.uint64)
    got = plan.torch(torch.from_numpy(ids.view(np.int64).copy()))
    if "dpa._gpu.fused" in sys.modules:
        assert plan not in sys.modules["dpa._gpu.fused"]._PLANS
    want = plan.numpy(ids)
    for name in want:
        np.testing.assert_array_equal(got[name].numpy(), want[name])


# ---------------------------------------------------------------- the compiled code (no GPU needed)


@requires_triton
def test_constant_tables_are_fmath_doubles() -> None:
    from dpa import fmath
    from dpa._gpu import prims

    tables = {"EXP_C": fmath._EXP_COEF, "LOG_C": fmath._LOG_COEF, "ND_A": fmath._A, "ND_B": fmath._B,
              "ND_C": fmath._C, "ND_D": fmath._D, "ND_E": fmath._E, "ND_F": fmath._F}
    for name, coef in tables.items():
        assert tuple(getattr(prims, name).value) == tuple(program.float_bits(c) for c in coef), name
    for name in ("LN2_HI", "LN2_LO", "INV_LN2", "SQRT_HALF"):
        assert getattr(prims, name).value == program.float_bits(getattr(fmath, name)), name


def _ptx_ops(ptx: str) -> set[str]:
    return set(re.findall(r"^\s*(?:@!?%p\d+\s+)?([a-z]+(?:\.[a-z0-9]+)+)", ptx, re.M))


@requires_triton
def test_compiled_kernel_rounds_every_float64_operation() -> None:
    """The H100 build: no fused multiply-add, IEEE division and square root, no flush to zero."""
    from dpa._gpu import fused

    ops = _ptx_ops(fused.compile_for(_program_of(AugmentationConfig(ONE_OF_EACH))).asm["ptx"])
    f64 = {op for op in ops if op.endswith(".f64")}
    assert {"div.rn.f64", "sqrt.rn.f64", "mul.rn.f64", "add.rn.f64", "cvt.rmi.f64.f64"} <= f64, sorted(f64)
    assert not [op for op in f64 if op.startswith(("fma", "mad"))], sorted(f64)
    assert not [op for op in f64 if ".approx" in op or ".ftz" in op or ".full" in op], sorted(f64)


@requires_triton
def test_compiled_spec_programs_round_every_float64_operation() -> None:
    """The spec-program walker compiles to the same kind of code: every kind as ops, no fma."""
    from dpa._gpu import fused

    ops = _ptx_ops(fused.compile_for(as_op_programs(_program_of(AugmentationConfig(ONE_OF_EACH)))).asm["ptx"])
    f64 = {op for op in ops if op.endswith(".f64")}
    assert {"div.rn.f64", "sqrt.rn.f64"} <= f64 and not [op for op in f64 if op.startswith(("fma", "mad"))], sorted(f64)


@requires_triton
def test_contraction_would_show_in_the_ptx() -> None:
    """The check above can fail: with fusion allowed, the uniform's d * scale + low becomes an fma."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from dpa._gpu import fused

    prog = _program_of(AugmentationConfig({"u": {"kind": "uniform", "low": -1.0, "high": 2.0}}))
    kernel = fused.compile_for(prog)
    constexprs = {"PROGRAM": prog.records, "BLOCK": fused.BLOCK}
    src = ASTSource(fn=fused.fused_kernel, signature=fused.SIGNATURE, constexprs=constexprs)
    fusing = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"enable_fp_fusion": True})
    assert "fma.rn.f64" in _ptx_ops(fusing.asm["ptx"])
    assert "fma.rn.f64" not in _ptx_ops(kernel.asm["ptx"])


# ---------------------------------------------------------------- the interpreter suite, in its own process


@requires_torch
@requires_triton
def test_interpreter_suite() -> None:
    """tests/dpa/test_triton_interpreter.py under TRITON_INTERPRET=1: bit-exact on every kind and branch."""
    env = {k: v for k, v in os.environ.items() if k not in ("DPA_DISABLE_TRITON", "PYTEST_ADDOPTS")}
    env.update(TRITON_INTERPRET="1", DPA_TRITON="1")
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/dpa/test_triton_interpreter.py"]
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    tail = (run.stdout + run.stderr)[-6000:]
    assert run.returncode == 0, tail
    assert re.search(r"\b\d+ passed\b", run.stdout) and "skipped" not in run.stdout, tail


# ---------------------------------------------------------------- on a GPU, where there is one


@requires_torch
@requires_triton
def test_fused_kernel_on_cuda_equals_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (the interpreter suite covers the kernel's logic)")
    from dpa._gpu import fused
    from dpa.generate import generator_for
    from tests.dpa.test_triton_interpreter import EDGES

    monkeypatch.setenv("DPA_TRITON", "1")
    monkeypatch.delenv("DPA_DISABLE_TRITON", raising=False)
    rng = np.random.default_rng(1)
    ids = np.concatenate([np.arange(100_000, dtype=np.uint64), rng.integers(0, 2**64, 100_000, dtype=np.uint64),
                          np.array([2**63, 2**64 - 1], dtype=np.uint64)])
    configs = [dpa.get_preset(p) for p in dpa.preset_names()]
    configs += [AugmentationConfig(EVERY_BRANCH), AugmentationConfig(EDGES)]
    for cfg in configs:
        for seed, epoch in [(0, 0), (2**64 - 1, 2**32 - 1)]:
            got = dpa.gen_augmentation_batch(ids, cfg, seed=seed, epoch=epoch, backend="torch", device="cuda")
            assert generator_for(cfg, seed).plan(epoch=epoch) in fused._PLANS  # the fused kernel ran
            want = dpa.Generator(cfg, seed=seed, compiled=False).plan(epoch=epoch).numpy(ids)
            for name in want:
                got_bits = got[name].cpu().numpy().view(np.uint8)
                np.testing.assert_array_equal(got_bits, want[name].view(np.uint8), err_msg=name)


@requires_torch
@requires_triton
def test_readme_gpu_example(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    from dpa._gpu import fused

    monkeypatch.setenv("DPA_TRITON", "0")  # restored after the block sets it
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    (block,) = [b for b in blocks if b.startswith('import os\nos.environ["DPA_TRITON"] = "1"')]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    params = namespace["params"]
    assert len(fused._PLANS) > 0 and params["rotation"].device.type == "cuda"
    want = dpa.gen_augmentation_batch(range(4096), dpa.get_preset("moderate"), seed=0, epoch=3)
    for name in want:
        np.testing.assert_array_equal(params[name].cpu().numpy(), want[name], err_msg=name)
