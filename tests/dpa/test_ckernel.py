"""The compiled kernel (dpa._ckernel) gives the numpy path's bits for every spec kind and edge.

The golden vectors and the scalar == batch tests run on both kernels (the
``kernel`` fixture); here the two are compared directly on configs that reach
every branch of the C code: gates on every kind, the exp argument outside the
fast range, the edges of exp's domain, permutations with and without a table,
choice with weights (zero weights anywhere), integers spanning 2**32 values.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest

import dpa
from dpa import prng
from dpa.config import AugmentationConfig
from dpa.specs import Output, UniformSpec, register_spec

needs_kernel = pytest.mark.skipif(prng.compiled_kernel() is None, reason="dpa._ckernel is not built here")

EVERY_BRANCH = {
    "lu": {"kind": "log_uniform", "low": 0.01, "high": 100.0},
    "lu_wide": {"kind": "log_uniform", "low": 1e-300, "high": 1e300, "p": 0.7, "identity": 1.0},
    "lu_far": {"kind": "log_uniform", "low": 1e-305, "high": 1e305},
    "lu_domain_edges": {"kind": "log_uniform", "low": 3.30755300363822e-308, "high": 8.218407461555439e307},
    "n": {"kind": "normal", "mean": 1.0, "std": 2.0},
    "n_gated": {"kind": "normal", "mean": 0.0, "std": 1.0, "p": 0.5, "identity": 0.0},
    "tn": {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": -1.0, "high": 2.5, "p": 0.3, "identity": 0.0},
    "tn_tail": {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": 3.0, "high": 29.0},
    "i": {"kind": "integer", "low": -5, "high": 2**32 - 6},
    "i_gated": {"kind": "integer", "low": 0, "high": 9, "p": 0.5, "identity": -1},
    "c": {"kind": "choice", "values": [1, 2, 3], "weights": [0.2, 0.5, 0.3]},
    "c_zero_last": {"kind": "choice", "values": [1, 2, 3], "weights": [1.0, 2.0, 0.0]},
    "c_zeros": {"kind": "choice", "values": [1.5, 2, 3, 4], "weights": [0.0, 2.0, 0.0, 0.0]},
    "c_float": {"kind": "choice", "values": [0.5, 1.5], "p": 0.4, "identity": 0.0},
    "b": {"kind": "bernoulli", "p": 0.3},
    "b0": {"kind": "bernoulli", "p": 0.0},
    "b1": {"kind": "bernoulli", "p": 1.0},
    "crop": {"kind": "resized_crop", "scale": [0.08, 1.0], "ratio": [1e-5, 1e5], "p": 0.6},
    "crop_far": {"kind": "resized_crop", "scale": [0.5, 1.0], "ratio": [3.30755300363822e-308, 1e300]},
    "crop_tiny": {"kind": "resized_crop", "scale": [2.0**-511, 2.0**-500], "ratio": [1e-300, 1e300]},
    "erase": {"kind": "erasing", "p": 0.5},
    "perm12": {"kind": "permutation", "n": 12, "p": 0.9},
    "perm8": {"kind": "permutation", "n": 8},
    "perm2": {"kind": "permutation", "n": 2},
    "u_point": {"kind": "uniform", "low": 3.0, "high": 3.0},
    "u_gated": {"kind": "uniform", "low": -1.0, "high": 1.0, "p": 0.25, "identity": 7.0},
}

SEEDS_EPOCHS = [(0, 0), (42, 3), (2**64 - 1, 2**32 - 1)]


def ids_under_test(n_random: int = 20_000) -> np.ndarray:
    edges = np.array([0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1], dtype=np.uint64)
    rand = np.random.default_rng(11).integers(0, 2**64, size=n_random, dtype=np.uint64, endpoint=False)
    return np.concatenate([edges, np.arange(3000, dtype=np.uint64), rand])


def assert_same(cfg: AugmentationConfig, seed: int, epoch: int, ids: np.ndarray, n_scalar: int = 20) -> None:
    compiled, pure = dpa.Generator(cfg, seed=seed), dpa.Generator(cfg, seed=seed, compiled=False)
    assert compiled.compiled and not pure.compiled
    got, want = compiled.batch(ids, epoch=epoch), pure.batch(ids, epoch=epoch)
    assert list(got) == list(want)
    for name in want:
        assert got[name].dtype == want[name].dtype, name
        np.testing.assert_array_equal(got[name], want[name], err_msg=f"{name} seed={seed} epoch={epoch}")
    for sid in ids[:n_scalar]:
        a, b = compiled.params(int(sid), epoch=epoch), pure.params(int(sid), epoch=epoch)
        assert list(a.items()) == list(b.items())
        assert [type(v) for v in a.values()] == [type(v) for v in b.values()]


@needs_kernel
@pytest.mark.parametrize("seed, epoch", SEEDS_EPOCHS)
def test_every_kind_and_branch_matches_numpy(seed: int, epoch: int) -> None:
    assert_same(AugmentationConfig(EVERY_BRANCH), seed, epoch, ids_under_test())


@needs_kernel
def test_strided_and_reversed_ids() -> None:
    ids = ids_under_test(2000)
    assert_same(AugmentationConfig(EVERY_BRANCH), 1, 2, ids[::3])
    assert_same(AugmentationConfig(EVERY_BRANCH), 1, 2, ids[::-1])


@needs_kernel
@pytest.mark.parametrize("preset", dpa.preset_names())
def test_presets_match_numpy_on_a_million_ids(preset: str) -> None:
    ids = np.arange(2**64 - 500_000, 2**64, dtype=np.uint64)
    ids = np.concatenate([ids, np.arange(500_000, dtype=np.uint64)])
    assert_same(dpa.get_preset(preset), 5, 1, ids)


@needs_kernel
def test_a_subclassed_kind_runs_compiled() -> None:
    """A subclass that overrides the formula runs its own program, on the kernel too."""

    @register_spec
    class _DoubledUniform(UniformSpec):
        kind = "test_doubled_uniform"

        def program(self, b):
            return 2.0 * super().program(b)

    cfg = AugmentationConfig({"a": {"kind": "test_doubled_uniform", "low": 0.0, "high": 1.0}, "b": {"kind": "bernoulli"}})
    assert dpa.Generator(cfg).compiled
    plain = dpa.gen_augmentation_params(3, AugmentationConfig({"a": {"kind": "uniform", "low": 0.0, "high": 1.0}}))
    assert dpa.gen_augmentation_params(3, cfg)["a"] == 2 * plain["a"]
    assert dpa.gen_augmentation_batch([3], cfg)["a"][0] == 2 * plain["a"]


@needs_kernel
def test_program_checks_its_buffers() -> None:
    gen = dpa.Generator(dpa.get_preset("mild"))
    program = gen.plan()._program
    n_out = len(dpa.get_preset("mild").outputs)
    ids = np.arange(10, dtype=np.uint64)
    outs = gen._allocate(10)
    with pytest.raises(ValueError, match=f"tuple of {n_out} buffers"):
        program.fill(ids, tuple(outs)[:-1])
    short = gen._allocate(5)
    with pytest.raises(ValueError, match="bytes; .* needed"):
        program.fill(ids, tuple(short))
    with pytest.raises(ValueError, match="uint64"):
        program.fill(np.arange(3, dtype=np.uint8), tuple(outs))
    kernel = prng.compiled_kernel()
    with pytest.raises(ValueError, match="1 or len"):
        kernel.xxh64_pair(ids, ids[:3], ids, np.empty(10, dtype=np.uint64))


@needs_kernel
def test_disabled_by_environment_gives_the_same_bits() -> None:
    code = (
        "import dpa, numpy as np, sys\n"
        "from dpa import prng\n"
        "assert prng.compiled_kernel() is None\n"
        "b = dpa.gen_augmentation_batch(np.arange(1000, dtype=np.uint64), dpa.get_preset('aggressive'), seed=9)\n"
        "np.save(sys.argv[1], np.stack([v.astype(np.float64) for v in b.values()]))\n"
    )
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"dpa_nock_{os.getpid()}.npy")
    env = dict(os.environ, DPA_DISABLE_CKERNEL="1")
    subprocess.run([sys.executable, "-c", code, out], check=True, env=env)
    try:
        ref = dpa.gen_augmentation_batch(np.arange(1000, dtype=np.uint64), dpa.get_preset("aggressive"), seed=9)
        np.testing.assert_array_equal(np.load(out), np.stack([v.astype(np.float64) for v in ref.values()]))
    finally:
        os.remove(out)


@needs_kernel
def test_plans_compile_wherever_the_kernel_is_built() -> None:
    for name in dpa.preset_names():
        assert dpa.Generator(dpa.get_preset(name)).compiled


def _can_build_extensions() -> bool:
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
    return shutil.which(compiler) is not None and os.path.exists(headers)


@pytest.mark.skipif(not _can_build_extensions(), reason="no C compiler or no Python headers on this machine")
@pytest.mark.skipif(os.environ.get("DPA_DISABLE_CKERNEL", "") not in ("", "0"), reason="disabled by DPA_DISABLE_CKERNEL")
def test_kernel_is_built_where_a_compiler_exists() -> None:
    """An install that silently fell back to numpy would pass every other test, only slower."""
    assert prng.compiled_kernel() is not None


@needs_kernel
def test_no_memory_growth_over_many_calls() -> None:
    """The kernel allocates per call (scratch, buffers, result dicts): a leak would show in RSS."""
    import psutil

    gen = dpa.Generator(dpa.get_preset("moderate"), seed=1)
    ids = np.arange(20_000, dtype=np.uint64)
    proc = psutil.Process()

    def work() -> None:
        for _ in range(50):
            gen.batch(ids, epoch=2)
        for i in range(20_000):
            gen.params(i, epoch=2)

    work()  # warm up allocator pools
    before = proc.memory_info().rss
    for _ in range(5):
        work()
    grown = proc.memory_info().rss - before
    # 250 fills and 100,000 dicts: one leaked block per call would be megabytes.
    assert grown < 4 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"


@needs_kernel
def test_rows_equal_the_python_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    from dpa.stream import param_rows

    arrays = dpa.Generator(AugmentationConfig(EVERY_BRANCH), seed=3).batch(ids_under_test(500), epoch=1)
    compiled = param_rows(arrays)
    monkeypatch.setattr(prng, "_ckernel", None)
    pure = param_rows(arrays)
    assert compiled == pure
    assert all(list(a.items()) == list(b.items()) for a, b in zip(compiled, pure))
    assert all([type(v) for v in a.values()] == [type(v) for v in b.values()] for a, b in zip(compiled, pure))
    # Arrays the kernel does not take (other dtypes, strided views) go the Python way, same values.
    odd = {"f32": np.arange(4, dtype=np.float32), "strided": np.arange(8, dtype=np.float64)[::2]}
    monkeypatch.undo()
    assert param_rows(odd) == [{"f32": float(i), "strided": 2.0 * i} for i in range(4)]


@needs_kernel
def test_rows_checks_its_arguments() -> None:
    rows = prng.compiled_kernel().rows
    with pytest.raises(ValueError, match="one name and one type code per array"):
        rows(("a", "b"), (np.zeros(2),), "f")
    with pytest.raises(ValueError, match="arrays of one length"):
        rows(("a", "b"), (np.zeros(2), np.zeros(3)), "ff")
    with pytest.raises(ValueError, match="arrays of one length"):
        rows(("a",), (np.zeros(2),), "x")
    assert rows((), (), "") == []


def _code(*instrs: tuple) -> bytes:
    """Instructions as the kernel reads them: 8 int32 each (op, d, a, b, c, x, y, z)."""
    return np.array([list(i) + [0] * (8 - len(i)) for i in instrs], dtype=np.int32).tobytes()


def _loc(kind: str, index: int) -> int:
    from dpa import _cplan

    return (getattr(_cplan, "L_" + kind) << 24) | index


@needs_kernel
def test_the_kernel_refuses_code_that_could_reach_outside_its_buffers() -> None:
    """_cplan never writes such code; the kernel checks anyway (memory safety does not rest on Python)."""
    from dpa._cplan import opcodes

    kernel = prng.compiled_kernel()
    op = opcodes()
    pool = np.array([0x3FF0000000000000, 5, 2], dtype=np.uint64).tobytes()  # 1.0, then integers

    def make(code: bytes, nregs: int = 1, types: str = "fb") -> object:
        return kernel.Kernel(code, pool, nregs, 2, ("a", "b"), types)

    good = _code((op["unit"], _loc("OUT", 0), _loc("HI", 1)))
    make(good)  # the baseline is accepted
    bad = [
        (_code((99, _loc("OUT", 0), _loc("HI", 1))), "unknown opcode 99"),
        (_code((op["unit"], _loc("OUT", 2), _loc("HI", 1))), "operand 0"),  # no output slot 2
        (_code((op["unit"], _loc("OUT", 1), _loc("HI", 1))), "operand 0"),  # a bool slot written as f64
        (_code((op["unit"], _loc("OUT", 0), _loc("HI", 2))), "operand 1"),  # no hash row 2
        (_code((op["unit"], _loc("IMM", 0), _loc("HI", 0))), "operand 0"),  # an immediate as destination
        (_code((op["unit"], _loc("REG", 1), _loc("HI", 0))), "operand 0"),  # no register 1
        (_code((op["add"], _loc("REG", 0), _loc("REG", 0), _loc("IMM", 0))), "destination is also operand 1"),
        (_code((op["neg"], _loc("OUT", 0), _loc("IMM", 0))), "operand 1"),  # unary ops read arrays only
        (_code((op["lookup"], _loc("REG", 0), _loc("REG", 0), 0, 0, 2, 5)), "destination is also operand 1"),
        (_code((op["lookup"], _loc("OUT", 0), _loc("REG", 0), 0, 0, 2, 5)), "table outside the pool"),
        (_code((op["perm_decode"], 0, _loc("REG", 0), 0, 0, 1, 20)), "destinations in the pool"),
        (_code((op["perm_decode"], 0, _loc("REG", 0), 0, 0, 1, 2)), "destination 0 is not an i64 register"),
        (_code((op["close"], _loc("OUT", 0), _loc("HI", 0), _loc("IMM", 1), _loc("REG", 0))), "identity must be an immediate"),
        (good[:-4], "code must hold 32-byte items"),  # not whole instructions
    ]
    for code, fragment in bad:
        with pytest.raises(ValueError) as info:
            make(code)
        assert fragment in str(info.value), (fragment, str(info.value))
    with pytest.raises(ValueError, match="type codes"):
        make(good, types="fx")


@register_spec
@dataclass(frozen=True)
class _FusedForms(dpa.Spec):
    """Every form _cplan fuses into one 'affine' instruction (c + draw * s, in its spellings)."""

    kind: ClassVar[str] = "test_fused_forms"
    n_draws: ClassVar[int] = 2
    c: float = 0.0
    s: float = 1.0

    def outputs(self):
        return tuple(Output(f"_{i}", "float", 0.0) for i in range(6))

    def program(self, b):
        d = b.draw(0)
        return (self.c - d * self.s, d * self.s - self.c, self.c + b.unit(1), b.unit(1) - self.c,
                self.c - b.unit(0), self.s * d + self.c)


@needs_kernel
@pytest.mark.parametrize("c", [0.0, -0.0, 0.5, -1e300, 5e-324, 1e308])
def test_fused_affine_forms_keep_every_bit(c: float) -> None:
    """Signed zeros, subnormals and overflow included: compared as bit patterns."""
    ids = np.concatenate([np.arange(500, dtype=np.uint64), np.array([2**64 - 1, 2**63], dtype=np.uint64)])
    for s in (1.0, -1.0, 0.0, -0.0, 1e-300, 3e300, 2.0**-1074):
        cfg = AugmentationConfig({"x": _FusedForms(c=c, s=s)})
        got = dpa.Generator(cfg).batch(ids, executor="compiled")
        want = dpa.Generator(cfg, compiled=False).batch(ids, executor="numpy")
        for name in want:
            assert np.array_equal(got[name].view(np.uint64), want[name].view(np.uint64)), (c, s, name)


@register_spec
@dataclass(frozen=True)
class _FusedExp(dpa.Spec):
    """exp(c + draw * s): _cplan fuses it into one 'affine_exp' instruction; exp of a value used twice it does not."""

    kind: ClassVar[str] = "test_fused_exp"
    n_draws: ClassVar[int] = 2
    c: float = 0.0
    s: float = 1.0

    def outputs(self):
        return tuple(Output(f"_{i}", "float", 0.0) for i in range(4))

    def program(self, b):
        twice = self.c + b.unit(1) * self.s
        return (b.exp(self.c + b.draw(0) * self.s), b.exp(b.draw(1) * self.s - self.c), b.exp(twice), twice)


@needs_kernel
@pytest.mark.parametrize("c", [0.0, -0.0, 3.5, -699.0, 700.0, -745.5, 709.9, 1e300])
def test_fused_exp_keeps_every_bit(c: float) -> None:
    """Arguments inside and outside the fast exp's range, straddling it, overflowing, NaN: compared as bits."""
    from dpa._cplan import lower, opcodes
    from dpa._layout import Layout

    code, _, _ = lower(Layout(AugmentationConfig({"x": _FusedExp(c=0.5, s=1e-7)}), 0))
    assert list(code[::8]).count(opcodes()["affine_exp"]) == 2
    ids = np.concatenate([np.arange(700, dtype=np.uint64), np.array([2**64 - 1, 2**63], dtype=np.uint64)])
    for s in (1.0, -1.0, 0.0, 1e-7, -3e-7, 2.0**-32, 1.7e-7, 1e300, float("inf")):
        cfg = AugmentationConfig({"x": _FusedExp(c=c, s=s)})
        got = dpa.Generator(cfg).batch(ids, executor="compiled")
        want = dpa.Generator(cfg, compiled=False).batch(ids, executor="numpy")
        gen = dpa.Generator(cfg)
        for name in want:
            assert np.array_equal(got[name].view(np.uint64), want[name].view(np.uint64)), (c, s, name)
            assert gen.params(int(ids[-1]))[name] == want[name][-1] or np.isnan(want[name][-1]), (c, s, name)
