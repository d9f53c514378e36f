"""The fused Triton path (dpa._gpu): its program, its selection, its compiled code, and its interpreter suite.

Bit-exactness on every kind and branch is checked by running the kernel in
Triton's interpreter (tests/dpa/test_triton_interpreter.py, started here in
its own process). What the interpreter cannot show, the instructions a GPU
would run, is checked on the PTX of the kernel compiled ahead of time for an
H100 (sm_90), which needs no GPU. On a machine with CUDA the kernel is also
run on the device against the CPU.
"""

from __future__ import annotations

import dataclasses
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
from tests.dpa.test_backends import AllPrimitivesSpec
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


# ---------------------------------------------------------------- the program (pure Python)


def test_program_follows_the_config() -> None:
    cfg = AugmentationConfig(EVERY_BRANCH)
    prog = _program_of(cfg)
    assert prog is not None
    assert prog.names == tuple(cfg.output_names)
    codes = {"float": program.FLOAT, "int": program.INT, "bool": program.BOOL}
    assert prog.dtypes == tuple(codes[o.dtype] for o in cfg.outputs)
    assert len(prog.records) == len(cfg)
    # Every output is stored exactly once, through its own pointer (its index in the config).
    stored = sorted(out[1] for record in prog.records for out in record[3])
    assert stored == list(range(len(cfg.outputs)))
    hash(prog.records)  # a valid tl.constexpr: hashable plain data


def test_a_gated_spec_keeps_its_gate_identity_and_zero_signs() -> None:
    prog = _program_of(AugmentationConfig({"u": {"kind": "uniform", "low": -0.0, "high": 0.0, "p": 0.5,
                                                 "identity": -0.0}}))
    ((row, n_words, gate, outs, ops, results),) = prog.records
    assert (row, n_words, gate) == (0, 1, (1, 2**31))
    assert outs == ((program.FLOAT, 0, 1 << 63),)  # the identity -0.0 as its bits
    assert program.float_bits(-0.0) == 1 << 63
    # low + d0 * scale, op by op from the spec program: the low -0.0 survives as bits too.
    assert [op[0] for op in ops] == [program.O_DRAW, program.O_TO_FLOAT, program.O_CONST, program.O_MUL,
                                     program.O_CONST, program.O_ADD]
    assert (program.O_CONST, program.FLOAT, 1 << 63) in ops and results == (5,)


@pytest.mark.parametrize("specs", [ONE_OF_EACH, EVERY_BRANCH, {"all": AllPrimitivesSpec(p=0.5)}],
                         ids=["one_of_each", "every_branch", "all_primitives"])
def test_every_spec_program_lowers_op_for_op(specs: dict) -> None:
    """Built-in kinds and a user's kind alike: one op per instruction (constants as registers), nothing per kind."""
    cfg = AugmentationConfig(specs)
    plan = dpa.Generator(cfg, seed=0, compiled=False).plan(epoch=0)
    prog = program.build_program(plan.entries, cfg.outputs)
    for e, record in zip(plan.entries, prog.records):
        ops = record[4]
        names = [program.OP_NAMES[op[0]] for op in ops if op[0] not in (program.O_CONST, program.O_PICK)]
        assert names == [ins.op for ins in e.program.instrs], e.name
        for i, op in enumerate(ops):  # single assignment: operands are earlier registers
            regs = op[1:] if op[0] >= program.O_UNIT or op[0] == program.O_SELECT else op[1:2]
            assert op[0] in (program.O_DRAW, program.O_WORD, program.O_CONST) or all(0 <= r < i for r in regs), op


def test_every_primitive_has_an_op() -> None:
    from dpa.program import PRIMITIVES

    assert set(PRIMITIVES) <= set(program.OP_NAMES)


def test_an_unknown_primitive_leaves_the_config_to_the_torch_kernels() -> None:
    """A primitive added to dpa.program without a kernel op: lower says None, so build_program does."""
    from dpa.program import Instr

    spec = UniformSpec(low=0.0, high=1.0)
    prog = spec.recorded_program
    odd = dataclasses.replace(prog, instrs=prog.instrs + (Instr("not_a_primitive", (len(prog.types),), ()),))
    assert program.lower(odd) is None
    assert program.lower(prog) is not None


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
    """Automatic for CUDA tensors (not testable here); CPU tensors only under the interpreter, on request."""
    import torch

    ids = torch.arange(4)
    for name in ("DPA_TRITON", "DPA_DISABLE_TRITON", "TRITON_INTERPRET"):
        monkeypatch.delenv(name, raising=False)
    assert not triton_enabled(ids)  # a CPU tensor: the torch (numpy, C) kernels
    monkeypatch.setenv("DPA_TRITON", "1")
    assert not triton_enabled(ids)  # outside the interpreter
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert triton_enabled(ids) == HAS_TRITON
    for value in ("1", "true", "YES", "on"):
        monkeypatch.setenv("DPA_DISABLE_TRITON", value)
        assert not triton_enabled(ids)
    monkeypatch.setenv("DPA_DISABLE_TRITON", "0")
    assert triton_enabled(ids) == HAS_TRITON
    monkeypatch.delenv("DPA_TRITON")
    assert not triton_enabled(ids)  # TRITON_INTERPRET alone (a user debugging their own kernels) changes nothing


@requires_torch
def test_the_torch_path_serves_when_the_kernel_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("DPA_TRITON", "1")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    plan = dpa.Generator(dpa.get_preset("mild"), seed=4).plan(epoch=0)
    ids = np.arange(50, dtype=np.uint64)
    got = plan.torch(torch.from_numpy(ids.view(np.int64).copy()))
    assert plan.kernels == {}  # the fused kernel was not asked
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
    """The H100 build of every kind and every primitive: no fused multiply-add, IEEE division and square root,
    no approximation, no flush to zero, and no float32 arithmetic (a constant typed float32 would show here)."""
    from dpa._gpu import fused

    cfg = AugmentationConfig({**ONE_OF_EACH, "all": AllPrimitivesSpec(p=0.5)})
    ops = _ptx_ops(fused.compile_for(_program_of(cfg)).asm["ptx"])
    f64 = {op for op in ops if op.endswith(".f64")}
    assert {"div.rn.f64", "sqrt.rn.f64", "mul.rn.f64", "add.rn.f64", "sub.rn.f64", "neg.f64",
            "cvt.rmi.f64.f64"} <= f64, sorted(f64)
    assert not [op for op in ops if op.startswith(("fma", "mad")) and ".f" in op], sorted(ops)  # integer mad wraps exactly
    assert not [op for op in ops if ".approx" in op or ".ftz" in op or ".full" in op], sorted(ops)
    assert not [op for op in ops if op.endswith(".f32")], sorted(ops)


@requires_triton
def test_contraction_would_show_in_the_ptx() -> None:
    """The check above can fail: with fusion allowed, the uniform's d * scale + low becomes an fma."""
    from dpa._gpu import fused

    prog = _program_of(AugmentationConfig({"u": {"kind": "uniform", "low": -1.0, "high": 2.0}}))
    assert "fma.rn.f64" in _ptx_ops(fused.compile_for(prog, enable_fp_fusion=True).asm["ptx"])
    assert "fma.rn.f64" not in _ptx_ops(fused.compile_for(prog).asm["ptx"])


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
    """On a GPU: the kernel is selected by itself, passes its first-run check, and gives the CPU's bits."""
    import warnings

    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (the interpreter suite covers the kernel's logic)")
    from dpa._gpu import runtime
    from dpa.generate import generator_for
    from tests.dpa.test_triton_interpreter import EDGES

    monkeypatch.delenv("DPA_DISABLE_TRITON", raising=False)
    rng = np.random.default_rng(1)
    ids = np.concatenate([np.arange(100_000, dtype=np.uint64), rng.integers(0, 2**64, 100_000, dtype=np.uint64),
                          np.array([2**63, 2**64 - 1], dtype=np.uint64)])
    configs = [dpa.get_preset(p) for p in dpa.preset_names()]
    configs += [AugmentationConfig(EVERY_BRANCH), AugmentationConfig(EDGES),
                AugmentationConfig({"all": AllPrimitivesSpec(p=0.5)})]
    for cfg in configs:
        for seed, epoch in [(0, 0), (2**64 - 1, 2**32 - 1)]:
            with warnings.catch_warnings():
                warnings.simplefilter("error", RuntimeWarning)  # a failed first-run check fails here
                got = dpa.gen_augmentation_batch(ids, cfg, seed=seed, epoch=epoch, backend="torch", device="cuda")
            assert runtime.active(generator_for(cfg, seed).plan(epoch=epoch), "cuda:0")  # the fused kernel ran
            want = dpa.Generator(cfg, seed=seed, compiled=False).plan(epoch=epoch).numpy(ids)
            for name in want:
                got_bits = got[name].cpu().numpy().view(np.uint8)
                np.testing.assert_array_equal(got_bits, want[name].view(np.uint8), err_msg=name)


@requires_torch
@requires_triton
def test_readme_gpu_example() -> None:
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    blocks = re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), flags=re.S)
    (block,) = [b for b in blocks if "# the fused Triton kernel" in b]
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    params = namespace["params"]
    assert params["rotation"].device.type == "cuda"
    want = dpa.gen_augmentation_batch(range(4096), dpa.get_preset("moderate"), seed=0, epoch=3)
    for name in want:
        np.testing.assert_array_equal(params[name].cpu().numpy(), want[name], err_msg=name)
