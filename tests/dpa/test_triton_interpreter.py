"""The fused Triton kernel (dpa._gpu), run by Triton's interpreter on CPU tensors, bit for bit the CPU paths.

Triton decides between compiling and interpreting when a function is
decorated, from ``TRITON_INTERPRET`` in the environment, so this module runs
in its own process: tests/dpa/test_triton.py starts it with
``TRITON_INTERPRET=1 DPA_TRITON=1`` (or run it so yourself). In a process
without the interpreter it skips as a whole.

The interpreter executes the kernel's Triton operations with numpy, so these
tests check the kernel's logic (order of operations, integer widths, shifts,
masks, tails) on every kind and branch; the compiled code's instruction
choices (no fused multiply-add, IEEE division and square root) are checked
on its PTX by test_triton.py.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

if os.environ.get("TRITON_INTERPRET", "") != "1":
    pytest.skip(
        "runs in its own process under TRITON_INTERPRET=1 (tests/dpa/test_triton.py::test_interpreter_suite)",
        allow_module_level=True,
    )
torch = pytest.importorskip("torch")
triton = pytest.importorskip("triton")

import math  # noqa: E402

import triton.language as tl  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import dpa  # noqa: E402
from dpa import _ops, fmath  # noqa: E402
from dpa._gpu import fused, prims, runtime  # noqa: E402
from dpa.config import AugmentationConfig  # noqa: E402
from dpa.specs import UniformSpec, register_spec  # noqa: E402
from tests.dpa.test_backends import AllPrimitivesSpec, spec_dicts  # noqa: E402
from tests.dpa.test_ckernel import EVERY_BRANCH, SEEDS_EPOCHS  # noqa: E402
from tests.dpa.test_vectors import config_files, load_config  # noqa: E402

# The kernel's first-run check must pass on every config here: its warning fails the test.
pytestmark = pytest.mark.filterwarnings("error:dpa. the fused Triton kernel:RuntimeWarning")
CPU = torch.device("cpu")

EDGE_IDS = np.array([0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1], dtype=np.uint64)

# Corners the presets and EVERY_BRANCH do not reach.
EDGES = {
    # Choice: zero weights first and in a row (equal thresholds); float values with a signed zero.
    "c_zero": {"kind": "choice", "values": [10, 20, 30, 40, 50, 60], "weights": [0.0, 1.0, 0.0, 0.0, 2.5, 1.0]},
    "c_float": {"kind": "choice", "values": [-0.0, 2.2250738585072014e-308, 1.5e308, -2.5], "weights": [1.0, 0.0, 3.0, 1e-9]},
    "c_one": {"kind": "choice", "values": [-(2**63)], "p": 0.5, "identity": 2**63 - 1},
    # Integers: the full 2**32 span at the bounds, a single value.
    "i_low": {"kind": "integer", "low": -(2**62), "high": -(2**62) + 2**32 - 1},
    "i_high": {"kind": "integer", "low": 2**62 - 2**32 + 1, "high": 2**62},
    "i_point": {"kind": "integer", "low": -7, "high": -7, "p": 0.3, "identity": 0},
    # log_uniform across exp's whole domain [-708, 709] (SPEC 5.2: the widest config accepted), its ends, a point.
    "lu_all": {"kind": "log_uniform", "low": 3.30755300363822e-308, "high": 8.218407461555439e307},
    "lu_top": {"kind": "log_uniform", "low": 1e300, "high": 8.218407461555439e307},
    "lu_sub": {"kind": "log_uniform", "low": 3.30755300363822e-308, "high": 1e-300},
    "lu_point": {"kind": "log_uniform", "low": 2.5, "high": 2.5},
    # Truncated normal: both far tails (mirrored and not), a narrow window, the centre.
    "tn_hi": {"kind": "truncated_normal", "mean": 1.0, "std": 2.0, "low": 60.0, "high": 61.0},
    "tn_lo": {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": -30.0, "high": -29.0},
    "tn_narrow": {"kind": "truncated_normal", "mean": 0.0, "std": 1e-3, "low": 1e-9, "high": 2e-9},
    "tn_mid": {"kind": "truncated_normal", "mean": -0.0, "std": 1.0, "low": -0.5, "high": 0.5, "p": 0.5, "identity": -0.0},
    # Clamps of equal signed zeros keep the first operand (SPEC section 4): -0.0 here, +0.0 mirrored.
    "tn_zero": {"kind": "truncated_normal", "mean": -0.0, "std": 3e10, "low": 0.0, "high": 2.0**-511},
    "tn_zero_m": {"kind": "truncated_normal", "mean": 0.0, "std": 3e10, "low": -(2.0**-511), "high": -0.0},
    # Normal with std 0 and a negative-zero mean; signed-zero identities; gates at both ends.
    "n_zero": {"kind": "normal", "mean": -0.0, "std": 0.0, "p": 1e-9, "identity": 1.0},
    "u_neg0": {"kind": "uniform", "low": -1.0, "high": 1.0, "p": 0.5, "identity": -0.0},
    "u_open": {"kind": "uniform", "low": 0.0, "high": 1e-298, "p": 0.9999999999, "identity": 5.0},
    "b_half": {"kind": "bernoulli", "p": 0.5},
    "b_tiny": {"kind": "bernoulli", "p": 1e-9},
    # Boxes with extreme ratios and scales.
    "box_small": {"kind": "resized_crop", "scale": [1e-12, 1e-6], "ratio": [3.30755300363822e-308, 8.218407461555439e307]},
    "box_full": {"kind": "erasing", "scale": [1.0, 1.0], "ratio": [1.0, 1.0], "p": 0.25},
    # Every permutation size, gated and not.
    **{f"perm{n}": {"kind": "permutation", "n": n, **({"p": 0.7} if n % 2 else {})} for n in range(2, 13)},
}


def as_tensor(ids: np.ndarray):
    return torch.from_numpy(np.ascontiguousarray(ids).view(np.int64).copy())


def ids_under_test(n_random: int = 400, n_seq: int = 600) -> np.ndarray:
    rand = np.random.default_rng(17).integers(0, 2**64, size=n_random, dtype=np.uint64)
    return np.concatenate([EDGE_IDS, np.arange(n_seq, dtype=np.uint64), rand])


def fused_values(cfg: AugmentationConfig, seed: int, epoch: int, ids: np.ndarray) -> dict:
    """The kernel's outputs through the generator's path (first-run check included), the kernel asserted to have run."""
    plan = dpa.Generator(cfg, seed=seed, compiled=False).plan(epoch=epoch)
    out = plan.torch(as_tensor(ids))
    assert runtime.active(plan, CPU)
    return out


def assert_fused_equals_cpu(cfg: AugmentationConfig, seed: int, epoch: int, ids: np.ndarray, n_scalar: int = 12) -> None:
    """The kernel against the numpy path, the C kernel where built, and the scalar path, bit for bit."""
    got = fused_values(cfg, seed, epoch, ids)
    plans = [dpa.Generator(cfg, seed=seed, compiled=False).plan(epoch=epoch), dpa.Generator(cfg, seed=seed).plan(epoch=epoch)]
    for plan in plans:
        want = plan.numpy(ids)
        assert list(got) == list(want)
        for name, values in want.items():
            g = got[name].numpy()
            assert g.dtype == values.dtype, name
            # Compare bits: == would let -0.0 pass for 0.0.
            message = f"{name} seed={seed} epoch={epoch}"
            np.testing.assert_array_equal(g.view(np.uint8), values.view(np.uint8), err_msg=message)
    for k in range(min(n_scalar, len(ids))):
        scalar = dpa.gen_augmentation_params(int(ids[k]), cfg, seed=seed, epoch=epoch)
        for name, value in scalar.items():
            g = got[name][k].item()
            assert type(g) is type(value) and (g == value) and math.copysign(1, g) == math.copysign(1, value), name


@pytest.mark.parametrize("seed, epoch", SEEDS_EPOCHS)
def test_every_kind_and_branch(seed: int, epoch: int) -> None:
    assert_fused_equals_cpu(AugmentationConfig(EVERY_BRANCH), seed, epoch, ids_under_test())


def test_edges_of_every_kind() -> None:
    assert_fused_equals_cpu(AugmentationConfig(EDGES), 7, 2**32 - 1, ids_under_test(300, 212))


def test_corners_the_cpu_paths_trip_on() -> None:
    """Configs some CPU path used to trip on.

    A choice whose last weight is 0 has a threshold of 2**64, which no word
    reaches (the C and numpy paths raised OverflowError building it, before
    issue 11). A box whose area underflows (scale 1e-300) divided by a zero
    width; it is refused now (SPEC 5.2: scale[0] >= 2**-511), and the smallest
    box accepted is computed alike everywhere.
    """
    ids = ids_under_test(40, 20)
    cfg = AugmentationConfig({"c": {"kind": "choice", "values": [1, 2, 3, 4], "weights": [1.0, 0.0, 2.0, 0.0]}})
    got = fused_values(cfg, 3, 4, ids)["c"].tolist()
    pure = dpa.Generator(cfg, seed=3, compiled=False).plan(epoch=4)
    assert got == [pure.scalar(int(i))["c"] for i in ids]
    assert set(got) == {1, 3}
    with pytest.raises(ValueError, match="scale\\[0\\] must be >= 2\\*\\*-511"):
        AugmentationConfig({"box": {"kind": "resized_crop", "scale": [1e-300, 1e-300]}})
    tiny = {"kind": "resized_crop", "scale": [2.0**-511, 2.0**-511], "ratio": [3.30755300363822e-308, 8.218407461555439e307]}
    cfg = AugmentationConfig({"box": tiny})
    with np.errstate(all="raise"):  # no division by zero, no overflow
        got = fused_values(cfg, 3, 4, ids)
        want = dpa.Generator(cfg, seed=3, compiled=False).plan(epoch=4).numpy(ids)
    for name in want:
        np.testing.assert_array_equal(got[name].numpy().view(np.uint64), want[name].view(np.uint64), err_msg=name)


@pytest.mark.parametrize("name", config_files())
def test_golden_vectors(name: str) -> None:
    """Every file of tests/vectors that pins a config: the presets and every kind under every gate."""
    data, cfg = load_config(name)
    ids = np.array([int(i) for i in data["ids"]], dtype=np.uint64)
    for case in data["cases"]:
        got = fused_values(cfg, int(case["seed"]), case["epoch"], ids)
        assert list(got) == list(case["params"])
        for out, expected in case["params"].items():
            assert got[out].tolist() == expected, f"{name} {out} seed={case['seed']} epoch={case['epoch']}"


@pytest.mark.parametrize("p", [1.0, 0.5])
def test_a_user_kind_of_every_primitive(p: float) -> None:
    """Every primitive of dpa.program through the walker (neg, floor, comparisons, select, i64 arithmetic...)."""
    cfg = AugmentationConfig({"all": AllPrimitivesSpec(p=p), "u": {"kind": "uniform", "low": 0, "high": 1}})
    assert_fused_equals_cpu(cfg, 7, 2, ids_under_test(300, 212))


@pytest.mark.parametrize("n", [0, 1, fused.BLOCK - 1, fused.BLOCK, fused.BLOCK + 1])
def test_batch_sizes_and_tails(n: int) -> None:
    cfg = dpa.get_preset("aggressive")
    ids = np.arange(2**64 - n, 2**64, dtype=np.uint64) if n else np.empty(0, dtype=np.uint64)
    got = fused_values(cfg, 1, 2, ids)
    want = dpa.Generator(cfg, seed=1).plan(epoch=2).numpy(ids)
    for name in want:
        assert got[name].shape == (n,) and got[name].numpy().dtype == want[name].dtype
        np.testing.assert_array_equal(got[name].numpy(), want[name])


def test_strided_ids() -> None:
    cfg = dpa.get_preset("moderate")
    ids = ids_under_test(100, 100)
    strided = as_tensor(ids)[::3]
    assert not strided.is_contiguous()
    got = dpa.Generator(cfg, seed=5).plan(epoch=0).torch(strided)
    want = dpa.Generator(cfg, seed=5).plan(epoch=0).numpy(ids[::3])
    for name in want:
        np.testing.assert_array_equal(got[name].numpy(), want[name])


@settings(max_examples=8, deadline=None)
@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), spec_dicts(), min_size=1, max_size=5),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**32 - 1),
)
def test_random_configs(specs: dict, seed: int, epoch: int) -> None:
    try:
        cfg = AugmentationConfig(specs)
    except ValueError:  # two composites whose flat names collide
        return
    assert_fused_equals_cpu(cfg, seed, epoch, ids_under_test(100, 50), n_scalar=3)


# ---------------------------------------------------------------- the building blocks alone


@triton.jit
def _unary_kernel(x_ptr, out_ptr, n, FN: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=1.0)
    if FN == "exp":
        y = prims.exp(x)
    elif FN == "log":
        y = prims.log(x)
    elif FN == "ndtri":
        y = prims.ndtri(x)
    else:
        y = prims.sqrt(x)
    tl.store(out_ptr + offs, y, mask=mask)


def _run_unary(fn: str, x: np.ndarray) -> np.ndarray:
    out = torch.empty(len(x), dtype=torch.float64)
    _unary_kernel[(triton.cdiv(len(x), 1024),)](torch.from_numpy(x.copy()), out, len(x), FN=fn, BLOCK=1024)
    return out.numpy()


def _float_inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    tiny = np.array([5e-324, 1e-323, 2.2250738585072014e-308, 2.225073858507201e-308, 1e-310])
    huge = np.array([1.7976931348623157e308, 1e308, 8.98846567431158e307])
    return {
        # exp's arguments reach log(5e-324) ~ -744.44 .. log(DBL_MAX) ~ 709.78 (k from -1075 to 1024).
        "exp": np.concatenate(
            [np.linspace(-745.0, 709.78, 3001), [-744.44, -708.4, -745.1332, 709.782712893384, 0.0, -0.0],
             fmath.log(np.concatenate([tiny, huge]), _ops.NP)]
        ),
        "log": np.concatenate([tiny, huge, np.exp(np.linspace(-700, 700, 1001)), rng.uniform(1e-3, 10, 1000)]),
        "ndtri": np.concatenate(
            [(np.arange(0, 2**32, 2**22, dtype=np.float64) + 0.5) * 2.0**-32,
             [2.0**-33, 1 - 2.0**-33, 1e-300, 4.9e-198, 0.075, 0.925, 0.5, 0.5 - 2**-40]]
        ),
        "sqrt": np.concatenate([tiny, huge, rng.uniform(0, 4, 1000), [0.0, 1.0, 2.0]]),
    }


@pytest.mark.parametrize("fn", ["exp", "log", "ndtri", "sqrt"])
def test_float_primitives_equal_fmath(fn: str) -> None:
    x = _float_inputs()[fn]
    want = getattr(fmath, fn)(x, _ops.NP)
    got = _run_unary(fn, x)
    np.testing.assert_array_equal(got.view(np.uint64), want.view(np.uint64), err_msg=fn)
    scalar = np.array([getattr(fmath, fn)(float(v)) for v in x])  # and the scalar (Python float) path
    np.testing.assert_array_equal(got.view(np.uint64), scalar.view(np.uint64), err_msg=fn)


@triton.jit
def _int_kernel(w_ptr, out_ptr, n, N: tl.constexpr, T: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    w = prims.as_u64(tl.load(w_ptr + offs, mask=mask, other=0))
    tl.store(out_ptr + offs, prims.mulhi(w, N).to(tl.int64, bitcast=True), mask=mask)
    tl.store(out_ptr + n + offs, prims.count_ge(w, T), mask=mask)


@pytest.mark.parametrize("n_range", [1, 2, 3, 479001600, 2**32 - 1, 2**32])
def test_mulhi_and_unsigned_counts(n_range: int) -> None:
    words = np.concatenate(
        [np.array([0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1], dtype=np.uint64),
         np.random.default_rng(9).integers(0, 2**64, 500, dtype=np.uint64)]
    )
    thresholds = (0, 1, 2**32, 2**63 - 1, 2**63, 2**63, 2**64 - 1)
    out = torch.empty(2 * len(words), dtype=torch.int64)
    _int_kernel[(1,)](as_tensor(words), out, len(words), N=n_range, T=thresholds, BLOCK=1024)
    got = out.numpy()
    assert got[: len(words)].tolist() == [int(w) * n_range >> 64 for w in words]
    assert got[len(words) :].tolist() == [sum(int(w) >= t for t in thresholds) for w in words]


# ---------------------------------------------------------------- the hook in Generator's torch path


def test_plan_torch_runs_the_fused_kernel() -> None:
    cfg = dpa.get_preset("mild")
    ids = ids_under_test(50, 50)
    plan = dpa.Generator(cfg, seed=11).plan(epoch=1)
    got = plan.torch(as_tensor(ids))
    assert runtime.active(plan, "cpu")
    want = plan.numpy(ids)
    for name in want:
        np.testing.assert_array_equal(got[name].numpy(), want[name])
    # Each output its own tensor (not rows of a shared buffer), with the dtype of the CPU paths.
    storages = {got[name].untyped_storage().data_ptr() for name in got}
    assert len(storages) == len(got) and all(got[name].is_contiguous() for name in got)


def test_disabled_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = dpa.Generator(dpa.get_preset("mild"), seed=12).plan(epoch=1)
    monkeypatch.setenv("DPA_DISABLE_TRITON", "1")
    got = plan.torch(as_tensor(np.arange(20, dtype=np.uint64)))
    assert plan.kernels == {}
    assert got["rotation"].tolist() == plan.numpy(np.arange(20, dtype=np.uint64))["rotation"].tolist()


def test_a_users_kind_runs_in_the_fused_kernel() -> None:
    """A kind registered from outside dpa reaches the kernel as its spec program, with the CPU's bits."""

    @register_spec
    class _Jitter(UniformSpec):
        kind = "test_triton_jitter"

        def program(self, b):
            return (b.unit(0) - 0.5) * (self.high - self.low) + b.exp(b.open_unit(0) * 0.5)

    cfg = AugmentationConfig({"a": {"kind": "test_triton_jitter", "low": 0.0, "high": 3.0, "p": 0.5, "identity": -0.0},
                              "b": {"kind": "normal", "mean": 0, "std": 1}})
    assert_fused_equals_cpu(cfg, 0, 0, np.arange(300, dtype=np.uint64), n_scalar=3)


# ---------------------------------------------------------------- the first-run check and the fallback


@triton.jit
def _wrong_kernel(ids_ptr, rows_ptr, outs, n, PROGRAM: tl.constexpr, BLOCK: tl.constexpr):
    """A kernel that runs but computes the wrong values: ids instead of parameters."""
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    ids = tl.load(ids_ptr + offs, mask=mask, other=0)
    for j in tl.static_range(len(outs)):
        tl.store(outs[j] + offs, ids.to(outs[j].dtype.element_ty), mask=mask)


@triton.jit
def _broken_kernel(ids_ptr, rows_ptr, outs, n, PROGRAM: tl.constexpr, BLOCK: tl.constexpr):
    """A kernel that does not build: its trace fails."""
    tl.static_assert(BLOCK < 0, "a kernel that cannot be built")


@pytest.mark.filterwarnings("default")
@pytest.mark.parametrize("kernel, what", [(_wrong_kernel, "gave values that differ"), (_broken_kernel, "failed to")])
def test_a_kernel_that_fails_its_first_run_falls_back_once(monkeypatch: pytest.MonkeyPatch, kernel, what: str) -> None:
    """A wrong or unbuildable kernel: one RuntimeWarning, then the torch kernels, for that config, for good."""
    monkeypatch.setattr(runtime, "_VERDICTS", {})  # this process's verdicts, fresh (restored afterwards)
    monkeypatch.setattr(fused, "fused_kernel", kernel)
    cfg = dpa.get_preset("moderate")
    gen = dpa.Generator(cfg, seed=3)
    ids = ids_under_test(40, 60)
    with pytest.warns(RuntimeWarning) as caught:
        got = gen.batch(ids, epoch=1, backend="torch", executor="torch")
    (warning,) = [w for w in caught if "fused Triton kernel" in str(w.message)]
    message = str(warning.message)
    assert what in message and "cpu" in message and "report" in message and "DPA_DISABLE_TRITON=1" in message
    want = gen.batch(ids, epoch=1)
    for name in want:
        np.testing.assert_array_equal(got[name].numpy().view(np.uint8), want[name].view(np.uint8), err_msg=name)
    assert not runtime.active(gen.plan(epoch=1), "cpu")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: neither this plan nor another epoch's plan of the config warns again
        again = gen.batch(ids, epoch=1, backend="torch", executor="torch")
        other_epoch = gen.batch(ids, epoch=2, backend="torch", executor="torch")
    assert not runtime.active(gen.plan(epoch=2), "cpu")
    np.testing.assert_array_equal(again["rotation"].numpy(), want["rotation"])
    np.testing.assert_array_equal(other_epoch["rotation"].numpy(), gen.batch(ids, epoch=2)["rotation"])
    # Another config is checked on its own (and, with the same faulty kernel, fails on its own).
    with pytest.warns(RuntimeWarning, match=what):
        dpa.Generator(dpa.get_preset("mild"), seed=3).batch(ids, backend="torch", executor="torch")


def test_a_kernel_that_passes_its_check_is_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check runs once per compiled kernel and device in a process: a new seed or epoch reuses its verdict."""
    monkeypatch.setattr(runtime, "_VERDICTS", {})
    cfg = AugmentationConfig({"u": {"kind": "uniform", "low": 0.0, "high": 1.0}})
    dpa.Generator(cfg, seed=1).batch(range(10), backend="torch", executor="torch")
    assert list(runtime._VERDICTS.values()) == [True]
    calls = []
    monkeypatch.setattr(runtime, "_check", lambda *a: calls.append(a) or True)
    gen = dpa.Generator(cfg, seed=2)
    gen.batch(range(10), epoch=5, backend="torch", executor="torch")
    assert calls == [] and runtime.active(gen.plan(epoch=5), "cpu")
