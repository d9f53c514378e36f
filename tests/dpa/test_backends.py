"""Every backend runs the same spec programs to the same bits: compiled, numpy, Python one by one, torch.

The differential tests draw random configs over every built-in kind and a
user kind that uses every primitive (so every opcode of every backend runs),
with gates, and compare the C kernel (batch and one sample), the numpy
interpreter, the generated Python function and the torch interpreter on CPU
tensors. Where the C kernel is not built its comparison is skipped here and
``test_kernel_is_built_where_a_compiler_exists`` fails instead; without torch
the torch comparison is left out (dpa's CI installs torch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dpa
from dpa import prng
from dpa.specs import Output, Spec, register_spec
from tests.conftest import HAS_TORCH

EDGE_IDS = [0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1]


@register_spec
@dataclass(frozen=True)
class AllPrimitivesSpec(Spec):
    """A user kind built from every primitive of dpa.program (outputs of all three dtypes)."""

    kind: ClassVar[str] = "test_all_primitives"
    n_draws: ClassVar[int] = 6
    scale: float = 1.5

    def outputs(self) -> tuple[Output, ...]:
        floats = [Output(f"_f{i}", "float", 0.0) for i in range(9)]
        ints = [Output(f"_i{i}", "int", 0) for i in range(5 + 3 + 10)]
        return tuple(floats + ints + [Output("_b0", "bool", False), Output("_b1", "bool", False)])

    def default_identity(self) -> Any:
        return tuple(o.identity for o in self.outputs())

    def _check_identity(self, identity: Any) -> Any:
        raise ValueError("test_all_primitives has a fixed identity")

    def program(self, b: Any) -> Any:
        u, o = b.unit(0), b.open_unit(1)
        x = b.log(o) * self.scale - b.exp(u) / (1.0 + u)
        y = b.sqrt(u) + b.ndtri(o)
        z = b.floor(x * 10.0)
        lo, hi = b.minimum(x, y), b.maximum(2.0, y)
        k = b.mulhi(1, 7)
        c = b.count_ge(2, (2**62, 2**63, 3 * 2**62))
        v = b.lookup((1.5, -2.5, 3.25, -0.0), c)
        iv = b.lookup((10, 20, 30, 40, 50, 60, -70), k)
        i2 = k * 3 - c + 5
        p3 = b.perm_decode(b.mulhi(1, 6), 3)
        p10 = b.perm_decode(b.mulhi(2, math.factorial(10)), 10)
        flag = b.select(u < 0.5, x > y, o >= 0.25)
        le = u <= o
        sel_i = b.select(le, k, c)
        sel_f = b.select(b.below(0, 2**31), lo, hi)
        floats = (x, y, z, -z, lo, hi, v, b.to_float(i2), sel_f)
        return floats + (k, c, iv, i2, sel_i) + p3 + p10 + (flag, le)


def backends_agree(cfg: dpa.AugmentationConfig, seed: int, epoch: int, ids: np.ndarray, n_scalar: int = 8) -> None:
    """Every executor gives the numpy interpreter's arrays; the one-sample paths give its rows."""
    gen, pure = dpa.Generator(cfg, seed=seed), dpa.Generator(cfg, seed=seed, compiled=False)
    ref = pure.batch(ids, epoch=epoch, executor="numpy")
    executors = {"python": pure}
    if prng.compiled_kernel() is not None:
        assert gen.compiled
        executors["compiled"] = gen
    if HAS_TORCH:
        executors["torch"] = pure
    for name, g in executors.items():
        got = g.batch(ids, epoch=epoch, executor=name)
        assert list(got) == list(ref)
        for out in ref:
            assert got[out].dtype == ref[out].dtype, (name, out)
            np.testing.assert_array_equal(got[out], ref[out], err_msg=f"{name}: {out} seed={seed} epoch={epoch}")
    for k in range(min(n_scalar, len(ids))):
        want = {out: ref[out][k].item() for out in ref}
        for g in (gen, pure):
            row = g.params(int(ids[k]), epoch=epoch)
            assert row == want and [type(v) for v in row.values()] == [type(v) for v in want.values()]


def ids_under_test(n: int = 600) -> np.ndarray:
    rand = np.random.default_rng(3).integers(0, 2**64, size=n, dtype=np.uint64, endpoint=False)
    return np.concatenate([np.array(EDGE_IDS, dtype=np.uint64), rand])


@pytest.mark.parametrize("p", [1.0, 0.5, 0.0])
def test_a_user_kind_of_every_primitive_agrees_everywhere(p: float) -> None:
    cfg = dpa.AugmentationConfig({"all": AllPrimitivesSpec(p=p), "u": {"kind": "uniform", "low": 0, "high": 1}})
    backends_agree(cfg, 7, 2, ids_under_test(3000))


@pytest.mark.parametrize("weights", [[1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 2.0], [3.0, 0.0, 0.0, 0.0]])
def test_choices_with_zero_weights_agree_everywhere(weights: list) -> None:
    """A trailing zero weight makes a threshold of 2**64, which no word reaches (and no uint64 holds)."""
    cfg = dpa.AugmentationConfig({"c": {"kind": "choice", "values": list(range(len(weights))), "weights": weights}})
    backends_agree(cfg, 5, 1, ids_under_test(2000))
    chosen = set(dpa.Generator(cfg).batch(range(5000))["c"].tolist())
    assert chosen == {i for i, w in enumerate(weights) if w > 0}


def test_a_user_kind_runs_on_the_compiled_kernel() -> None:
    if prng.compiled_kernel() is None:
        pytest.skip("dpa._ckernel is not built here (test_kernel_is_built_where_a_compiler_exists checks CI)")
    gen = dpa.Generator({"all": AllPrimitivesSpec()}, seed=1)
    assert gen.compiled
    gen.batch(range(10), executor="compiled")  # raises where the kernel would not run it


_bounds = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, allow_subnormal=False)
_prob = st.sampled_from([1.0, 0.0, 0.5, 0.999, 1e-9])


BUILT_IN = ("uniform", "log_uniform", "normal", "truncated_normal", "integer", "choice", "bernoulli",
            "resized_crop", "erasing", "permutation")


@st.composite
def spec_dicts(draw: st.DrawFn, kinds: tuple = BUILT_IN + ("all",)) -> Any:
    """A spec of one of ``kinds`` (``"all"``: the user kind of every primitive) with random fields and gate."""
    kind = draw(st.sampled_from(kinds))
    p = draw(_prob)
    if kind == "uniform":
        lo, hi = sorted([draw(_bounds), draw(_bounds)])
        return {"kind": kind, "low": lo, "high": hi, "p": p, "identity": draw(_bounds)}
    if kind == "log_uniform":
        lo, hi = sorted([draw(st.floats(1e-300, 1e300)), draw(st.floats(1e-300, 1e300))])
        return {"kind": kind, "low": lo, "high": hi, "p": p, "identity": 1.0}
    if kind == "normal":
        return {"kind": kind, "mean": draw(_bounds), "std": draw(st.floats(0, 1e3, allow_subnormal=False)), "p": p,
                "identity": 0.0}
    if kind == "truncated_normal":
        a, b = sorted(draw(st.lists(st.floats(-29, 29), min_size=2, max_size=2, unique=True)))
        return {"kind": kind, "mean": 0.0, "std": 1.0, "low": a, "high": b, "p": p, "identity": 0.0}
    if kind == "integer":
        lo = draw(st.integers(-(2**40), 2**40))
        return {"kind": kind, "low": lo, "high": lo + draw(st.integers(0, 2**32 - 1)), "p": p, "identity": 0}
    if kind == "choice":
        values = draw(st.lists(st.integers(-100, 100), min_size=1, max_size=6))
        if draw(st.booleans()):
            values = [v + 0.5 for v in values]
        weights = draw(st.none() | st.lists(st.sampled_from([0.0, 0.5]) | st.floats(0.01, 10), min_size=len(values),
                                            max_size=len(values)).filter(lambda w: sum(w) > 0))
        return {"kind": kind, "values": values, "weights": weights, "p": p, "identity": 0}
    if kind == "bernoulli":
        return {"kind": kind, "p": p}
    if kind in ("resized_crop", "erasing"):
        s0, s1 = sorted([draw(st.floats(1e-6, 1.0)), draw(st.floats(1e-6, 1.0))])
        r0, r1 = sorted([draw(st.floats(1e-3, 1e3)), draw(st.floats(1e-3, 1e3))])
        return {"kind": kind, "scale": [s0, s1], "ratio": [r0, r1], "p": p}
    if kind == "permutation":
        return {"kind": kind, "n": draw(st.integers(2, 12)), "p": p}
    return AllPrimitivesSpec(scale=draw(_bounds), p=p)


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(st.from_regex(r"[a-z]{1,6}", fullmatch=True), spec_dicts(), min_size=1, max_size=5),
    st.integers(0, 2**64 - 1),
    st.integers(0, 2**32 - 1),
)
def test_random_configs_agree_on_every_backend(specs: dict, seed: int, epoch: int) -> None:
    try:
        cfg = dpa.AugmentationConfig(specs)
    except ValueError:  # two composites whose flat names collide, e.g. "a" + "_x" vs "a_x"
        return
    backends_agree(cfg, seed, epoch, ids_under_test(200), n_scalar=3)


def test_the_executor_argument_is_checked() -> None:
    gen = dpa.Generator(dpa.get_preset("mild"), compiled=False)
    with pytest.raises(ValueError, match="executor must be None or one of"):
        gen.batch([1], executor="gpu")
    with pytest.raises(ValueError, match="switched off for this generator"):
        gen.batch([1], executor="compiled")
