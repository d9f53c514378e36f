"""Spec kinds: validation, dict round trips and the distributions they produce."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import dpa
from dpa import AugmentationConfig
from dpa.specs import spec_from_dict, spec_kinds
from tests.conftest import HAS_TORCH

N = 200_000


def draw(spec_dict: dict, n: int = N, seed: int = 11) -> dict[str, np.ndarray]:
    cfg = dpa.AugmentationConfig({"x": spec_dict})
    return dpa.gen_augmentation_batch(range(n), cfg, seed=seed)


# Each row: a spec dict, the error type, and a fragment the message must hold.
BAD_SPECS = [
    ({"kind": "uniform", "low": 2, "high": 1}, ValueError, "low must be <= high; got low=2.0, high=1.0"),
    ({"kind": "uniform", "low": float("nan"), "high": 1}, ValueError, "uniform.low must be finite; got nan"),
    ({"kind": "uniform", "low": 0, "high": float("inf")}, ValueError, "uniform.high must be finite; got inf"),
    ({"kind": "uniform", "low": "0", "high": 1}, TypeError, "uniform.low must be a real number"),
    ({"kind": "uniform", "low": 0, "high": 1, "p": 1.5}, ValueError, "uniform.p must be a probability in [0, 1]; got 1.5"),
    ({"kind": "uniform", "low": 0, "high": 1, "p": -0.1}, ValueError, "in [0, 1]; got -0.1"),
    ({"kind": "uniform", "low": 0, "high": 1, "p": 0.5}, ValueError, "needs an 'identity'"),
    ({"kind": "uniform", "low": 0}, ValueError, "missing field(s) ['high']"),
    ({"kind": "uniform", "low": 0, "high": 1, "hgih": 2}, ValueError, "unknown field(s) ['hgih']"),
    ({"kind": "unifrom", "low": 0, "high": 1}, ValueError, "unknown spec kind 'unifrom'; valid kinds:"),
    ({"low": 0, "high": 1}, ValueError, "a spec needs a 'kind' key"),
    ({"kind": "log_uniform", "low": 0, "high": 1}, ValueError, "log_uniform.low must be > 0; got 0.0"),
    ({"kind": "normal", "mean": 0, "std": -1}, ValueError, "normal.std must be >= 0; got -1.0"),
    ({"kind": "truncated_normal", "mean": 0, "std": 1, "low": 1, "high": 1}, ValueError, "low must be < high"),
    ({"kind": "truncated_normal", "mean": 0, "std": 1, "low": -40, "high": 1}, ValueError, "within 30 std"),
    ({"kind": "truncated_normal", "mean": 0, "std": 0, "low": -1, "high": 1}, ValueError, "std must be > 0"),
    ({"kind": "integer", "low": 5, "high": 1}, ValueError, "low must be <= high"),
    ({"kind": "integer", "low": 0, "high": 2**33}, ValueError, "high - low + 1 must be <= 2**32"),
    ({"kind": "integer", "low": 0.5, "high": 3}, TypeError, "integer.low must be an integer"),
    ({"kind": "choice", "values": []}, ValueError, "non-empty list"),
    ({"kind": "choice", "values": [1, 2], "weights": [1]}, ValueError, "one weight per value (2); got 1"),
    ({"kind": "choice", "values": [1, 2], "weights": [-1, 2]}, ValueError, "weights must be >= 0"),
    ({"kind": "choice", "values": [1, 2], "weights": [0, 0]}, ValueError, "positive sum"),
    ({"kind": "choice", "values": "ab"}, TypeError, "choice.values must be a non-empty list"),
    ({"kind": "bernoulli", "p": 2}, ValueError, "bernoulli.p must be a probability in [0, 1]; got 2.0"),
    ({"kind": "bernoulli", "p": 0.5, "identity": True}, ValueError, "takes no 'identity'"),
    ({"kind": "resized_crop", "scale": [0, 1]}, ValueError, "0 < low <= high <= 1"),
    ({"kind": "resized_crop", "scale": [0.5, 1.5]}, ValueError, "0 < low <= high <= 1"),
    ({"kind": "resized_crop", "ratio": [2, 1]}, ValueError, "resized_crop.ratio must be ordered"),
    ({"kind": "resized_crop", "ratio": [0, 1]}, ValueError, "ratio must be > 0"),
    ({"kind": "resized_crop", "scale": [0.5]}, TypeError, "must be a pair"),
    ({"kind": "erasing", "p": 0.5, "identity": 1}, ValueError, "fixed identity"),
    ({"kind": "permutation", "n": 1}, ValueError, "permutation.n must be in [2, 12]; got 1"),
    ({"kind": "permutation", "n": 13}, ValueError, "permutation.n must be in [2, 12]; got 13"),
]


@pytest.mark.parametrize("spec, exc, fragment", BAD_SPECS)
def test_bad_specs_are_refused_with_a_clear_message(spec, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        spec_from_dict(spec)
    assert fragment in str(info.value)


def test_spec_dict_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="a spec must be a dict"):
        spec_from_dict(["uniform"])


GOOD_SPECS = [
    {"kind": "uniform", "low": -15, "high": 15},
    {"kind": "uniform", "low": 0.8, "high": 1.2, "p": 0.3, "identity": 1.0},
    {"kind": "log_uniform", "low": 0.5, "high": 2.0},
    {"kind": "normal", "mean": 0, "std": 1},
    {"kind": "truncated_normal", "mean": 0, "std": 1, "low": -1, "high": 2},
    {"kind": "integer", "low": -3, "high": 7},
    {"kind": "choice", "values": [1, 2, 3], "weights": [0.2, 0.3, 0.5]},
    {"kind": "choice", "values": [0.5, 1.5]},
    {"kind": "bernoulli", "p": 0.5},
    {"kind": "resized_crop", "scale": [0.08, 1.0], "ratio": [0.75, 1.3333333333333333]},
    {"kind": "erasing", "p": 0.5},
    {"kind": "permutation", "n": 4},
]


@pytest.mark.parametrize("spec", GOOD_SPECS)
def test_dict_round_trip(spec: dict) -> None:
    built = spec_from_dict(spec)
    again = spec_from_dict(built.to_dict())
    assert again == built
    assert again.to_dict() == built.to_dict()
    assert built.to_dict()["kind"] == spec["kind"]


def test_all_kinds_are_listed() -> None:
    assert set(spec_kinds()) >= {
        "uniform", "log_uniform", "normal", "truncated_normal", "integer", "choice", "bernoulli",
        "resized_crop", "erasing", "permutation",
    }


# ----------------------------------------------------------------- distributions
# Fixed seeds make every statistic below a fixed number: these tests cannot flake.


def ks_pvalue(x: np.ndarray, cdf) -> float:
    return stats.kstest(x, cdf).pvalue


def test_uniform() -> None:
    x = draw({"kind": "uniform", "low": -15, "high": 15})["x"]
    assert x.min() >= -15 and x.max() < 15
    assert abs(x.mean()) < 0.1 and abs(x.var() - 900 / 12) < 0.5
    assert ks_pvalue(x, stats.uniform(-15, 30).cdf) > 1e-3


def test_log_uniform() -> None:
    x = draw({"kind": "log_uniform", "low": 0.5, "high": 2.0})["x"]
    assert x.min() >= 0.5 and x.max() <= 2.0
    assert ks_pvalue(x, stats.loguniform(0.5, 2.0).cdf) > 1e-3


def test_normal() -> None:
    x = draw({"kind": "normal", "mean": 2.0, "std": 3.0})["x"]
    assert abs(x.mean() - 2.0) < 0.03 and abs(x.std() - 3.0) < 0.03
    assert abs(stats.skew(x)) < 0.03 and abs(stats.kurtosis(x)) < 0.06
    assert ks_pvalue(x, stats.norm(2.0, 3.0).cdf) > 1e-3


@pytest.mark.parametrize("low, high", [(-1.0, 2.0), (1.0, 3.0), (-4.0, -2.5), (-0.1, 0.1)])
def test_truncated_normal(low: float, high: float) -> None:
    x = draw({"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": low, "high": high})["x"]
    assert x.min() >= low and x.max() <= high
    assert ks_pvalue(x, stats.truncnorm(low, high).cdf) > 1e-3


def chi2_pvalue(counts: np.ndarray, probs: np.ndarray) -> float:
    return stats.chisquare(counts, probs * counts.sum()).pvalue


def test_integer() -> None:
    x = draw({"kind": "integer", "low": -3, "high": 7})["x"]
    assert x.dtype == np.int64 and x.min() == -3 and x.max() == 7
    counts = np.bincount(x + 3, minlength=11)
    assert chi2_pvalue(counts, np.full(11, 1 / 11)) > 1e-3


def test_weighted_choice() -> None:
    x = draw({"kind": "choice", "values": [10, 20, 30], "weights": [0.2, 0.3, 0.5]})["x"]
    counts = np.array([(x == v).sum() for v in (10, 20, 30)])
    assert counts.sum() == N
    assert chi2_pvalue(counts, np.array([0.2, 0.3, 0.5])) > 1e-3


def test_bernoulli() -> None:
    x = draw({"kind": "bernoulli", "p": 0.3})["x"]
    assert x.dtype == np.bool_
    assert abs(x.mean() - 0.3) < 4 * math.sqrt(0.3 * 0.7 / N)
    assert not draw({"kind": "bernoulli", "p": 0.0}, n=1000)["x"].any()
    assert draw({"kind": "bernoulli", "p": 1.0}, n=1000)["x"].all()


def test_gate_probability_and_identity() -> None:
    out = draw({"kind": "uniform", "low": 5, "high": 6, "p": 0.25, "identity": -1.0})["x"]
    applied = out != -1.0
    assert abs(applied.mean() - 0.25) < 4 * math.sqrt(0.25 * 0.75 / N)
    assert out[applied].min() >= 5


def test_gate_is_independent_of_value() -> None:
    gated = draw({"kind": "uniform", "low": 0, "high": 1, "p": 0.5, "identity": -1.0})["x"]
    ungated = draw({"kind": "uniform", "low": 0, "high": 1})["x"]
    applied = gated != -1.0
    # Changing p never changes the values drawn when the gate is open ...
    np.testing.assert_array_equal(gated[applied], ungated[applied])
    # ... and whether it is open tells nothing about the value.
    assert ks_pvalue(ungated[applied], stats.uniform(0, 1).cdf) > 1e-3
    assert ks_pvalue(ungated[~applied], stats.uniform(0, 1).cdf) > 1e-3


def test_permutation_is_uniform_over_orders() -> None:
    out = draw({"kind": "permutation", "n": 4})
    perms = np.stack([out[f"x_{i}"] for i in range(4)], axis=1)
    assert (np.sort(perms, axis=1) == np.arange(4)).all()  # always a permutation
    codes = perms @ np.array([64, 16, 4, 1])
    _, counts = np.unique(codes, return_counts=True)
    assert len(counts) == 24
    assert chi2_pvalue(counts, np.full(24, 1 / 24)) > 1e-3


@pytest.mark.parametrize("kind, scale, ratio", [("resized_crop", (0.08, 1.0), (0.75, 4 / 3)), ("erasing", (0.02, 0.33), (0.3, 3.3))])
def test_boxes_are_valid_and_match_their_area(kind: str, scale, ratio) -> None:
    out = draw({"kind": kind, "scale": list(scale), "ratio": list(ratio)})
    x, y, w, h = (out[f"x_{c}"] for c in "xywh")
    assert (w > 0).all() and (h > 0).all() and (w <= 1).all() and (h <= 1).all()
    assert (x >= 0).all() and (y >= 0).all() and (x + w <= 1 + 1e-12).all() and (y + h <= 1 + 1e-12).all()
    area = w * h
    assert area.min() >= scale[0] * (1 - 1e-12) and area.max() <= scale[1] * (1 + 1e-12)
    # Areas follow the uniform area draw (the ratio is limited, never the area).
    assert ks_pvalue(area, stats.uniform(scale[0], scale[1] - scale[0]).cdf) > 1e-3
    r = w / h
    assert r.min() >= ratio[0] * (1 - 1e-9) and r.max() <= ratio[1] * (1 + 1e-9)


def test_composite_identities() -> None:
    crop = draw({"kind": "resized_crop", "p": 0.0}, n=10)
    assert [crop[f"x_{c}"][0] for c in "xywh"] == [0.0, 0.0, 1.0, 1.0]
    erase = draw({"kind": "erasing", "p": 0.0}, n=10)
    assert [erase[f"x_{c}"][0] for c in "xywh"] == [0.0, 0.0, 0.0, 0.0]
    perm = draw({"kind": "permutation", "n": 3, "p": 0.0}, n=10)
    assert [perm[f"x_{i}"][0] for i in range(3)] == [0, 1, 2]


# ----------------------------------------------------------------- every path agrees
# The four implementations of a kind: the pure-Python one-sample path, the numpy
# kernels, the compiled kernel (batch and one sample) and the torch kernels (the
# CUDA code, run here on CPU tensors). Each kind under gates p in {0, tiny, 0.5, 1}
# and with awkward but valid bounds; each variant is one parameter of one config.

P_TINY = 2.0**-33 - 2.0**-86  # T(p) = 1 in binary64
GATES = {"p0": 0.0, "tiny": P_TINY, "half": 0.5, "p1": 1.0}

KIND_VARIANTS = {
    "uniform": ([
        {"low": -15.0, "high": 15.0}, {"low": 3.0, "high": 3.0}, {"low": 1.0, "high": math.nextafter(1.0, 2.0)},
        {"low": -1e308, "high": 7e307}, {"low": 0.0, "high": 2.0**-990}, {"low": -(2.0**-980), "high": 2.0**-980},
        {"low": 2**53, "high": 2**53 + 2}, {"low": -3.5, "high": -1.25},
    ], 0.0),
    "log_uniform": ([
        {"low": 0.01, "high": 100.0}, {"low": 2.0, "high": 2.0}, {"low": 3.30755300363822e-308, "high": 8.218407461555439e307},
        {"low": 1e-305, "high": 1e-300}, {"low": 1e300, "high": 1e305}, {"low": 1.0, "high": math.nextafter(1.0, 2.0)},
    ], 1.0),
    "normal": ([
        {"mean": 0.0, "std": 1.0}, {"mean": 5.0, "std": 0.0}, {"mean": -1e300, "std": 1e300},
        {"mean": 0.0, "std": 2.0**-1022}, {"mean": 1.5e308, "std": 4e306}, {"mean": 0.0, "std": 2.8e307},
    ], 0.0),
    "truncated_normal": ([
        {"mean": 0.0, "std": 1.0, "low": -1.0, "high": 2.5}, {"mean": 0.0, "std": 1.0, "low": 3.0, "high": 30.0},
        {"mean": 0.0, "std": 1.0, "low": -30.0, "high": -29.0}, {"mean": 0.0, "std": 1.0, "low": -30.0, "high": 30.0},
        {"mean": 0.0, "std": 1e-300, "low": -1e-299, "high": 1e-299},
        {"mean": 0.0, "std": 5e306, "low": -1.5e308, "high": 1.5e308}, {"mean": 0.0, "std": 1.0, "low": 0.5, "high": 0.5000001},
    ], 0.0),
    "integer": ([
        {"low": -3, "high": 7}, {"low": 7, "high": 7}, {"low": -(2**62), "high": -(2**62) + 2**32 - 1},
        {"low": 2**62 - 2**32 + 1, "high": 2**62}, {"low": -5, "high": 2**32 - 6},
    ], -1),
    "choice": ([
        {"values": [10, 20, 30], "weights": [0.2, 0.5, 0.3]}, {"values": [1.5, 2, -3]}, {"values": [42]},
        {"values": [-(2**63), 2**63 - 1]}, {"values": [1, 2, 3], "weights": [0.0, 1.0, 0.0]},
        {"values": [1, 2], "weights": [1.0, 1e-300]}, {"values": [0.5, 2.5], "weights": [2**60, 1]},
    ], 0),
    "resized_crop": ([
        {}, {"scale": [1.0, 1.0], "ratio": [1.0, 1.0]}, {"scale": [2.0**-511, 2.0**-511], "ratio": [1e-300, 1e300]},
        {"scale": [0.5, 1.0], "ratio": [3.30755300363822e-308, 8.218407461555439e307]},
    ], None),
    "erasing": ([{}, {"scale": [0.02, 0.02], "ratio": [0.3, 0.3]}], None),
    "permutation": ([{"n": n} for n in (2, 3, 8, 9, 12)], None),  # table (n <= 8) and decoding; kinds.json has every n
}


def kind_config(kind: str) -> AugmentationConfig:
    variants, identity = KIND_VARIANTS[kind]
    specs = {}
    for i, fields in enumerate(variants):
        for gate, p in GATES.items():
            spec = {"kind": kind, **fields, "p": p}
            if identity is not None and p < 1.0:
                spec["identity"] = identity
            specs[f"v{i}_{gate}"] = spec
    return AugmentationConfig(specs)


def bernoulli_config() -> AugmentationConfig:
    return AugmentationConfig({f"b{i}": {"kind": "bernoulli", "p": p}
                               for i, p in enumerate([0.0, P_TINY, 1e-9, 0.3, 0.5, 1.0 - 2.0**-33, 1.0])})


def diff_ids(n_random: int = 3000) -> np.ndarray:
    edges = np.array([0, 1, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1], dtype=np.uint64)
    rand = np.random.default_rng(7).integers(0, 2**64, size=n_random, dtype=np.uint64, endpoint=False)
    return np.concatenate([edges, np.arange(500, dtype=np.uint64), rand])


def bits(a: np.ndarray) -> np.ndarray:
    """Floats as their bit patterns, so that -0.0 != 0.0 and every last bit counts."""
    return a.view(np.int64) if a.dtype == np.float64 else a


def paths_agree(cfg: AugmentationConfig, seed: int, epoch: int, ids: np.ndarray, n_scalar: int = 60) -> dict:
    """Run every path; assert bit-identical outputs; return the numpy path's arrays."""
    from dpa import prng

    pure = dpa.Generator(cfg, seed=seed, compiled=False)
    ref = pure.batch(ids, epoch=epoch, executor="numpy")
    assert list(ref) == list(cfg.output_names)
    others = {"python": pure.batch(ids[: n_scalar + 1], epoch=epoch, executor="python")}
    generators = [pure]
    if prng.compiled_kernel() is not None:
        compiled = dpa.Generator(cfg, seed=seed)
        assert compiled.compiled
        others["compiled"] = compiled.batch(ids, epoch=epoch, executor="compiled")
        generators.append(compiled)
    if HAS_TORCH:
        others["torch"] = pure.batch(ids, epoch=epoch, executor="torch")
    for path, outs in others.items():
        assert list(outs) == list(ref), path
        for name, want in ref.items():
            assert outs[name].dtype == want.dtype, (path, name)
            np.testing.assert_array_equal(bits(outs[name]), bits(want[: len(outs[name])]),
                                          err_msg=f"{path} {name} seed={seed}")
    for gen in generators:
        for k in list(range(n_scalar)) + [len(ids) - 1]:
            one = gen.params(int(ids[k]), epoch=epoch)
            assert list(one) == list(ref)
            for name, value in one.items():
                want = ref[name][k].item()
                assert type(value) is type(want) and bits(np.array([value]))[0] == bits(np.array([want]))[0], (name, k)
    return ref


@pytest.mark.parametrize("kind", [*KIND_VARIANTS, "bernoulli"])
@pytest.mark.parametrize("seed, epoch", [(0, 0), (2**64 - 1, 2**32 - 1)])
def test_every_path_gives_the_same_bits(kind: str, seed: int, epoch: int) -> None:
    cfg = bernoulli_config() if kind == "bernoulli" else kind_config(kind)
    outs = paths_agree(cfg, seed, epoch, diff_ids())
    for out in cfg.outputs:
        param = cfg[out.param]
        values = outs[out.name]
        if out.dtype == "float":
            assert np.isfinite(values).all(), out.name
        if param.p == 0.0:
            assert (values == out.identity).all(), out.name


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_zero_weights_in_every_position(k: int) -> None:
    """Every pattern of zero weights (at least one positive): all paths agree, zero-weight values never come out."""
    patterns = [w for w in itertools.product([0.0, 1.0, 2.5], repeat=k) if any(w)]
    specs = {f"w{i}": {"kind": "choice", "values": list(range(10, 10 + k)), "weights": list(w)} for i, w in enumerate(patterns)}
    cfg = AugmentationConfig(specs)
    outs = paths_agree(cfg, 3, 1, diff_ids(2000))
    for name, w in zip(specs, patterns):
        seen = set(np.unique(outs[name]).tolist())
        assert seen == {10 + i for i, x in enumerate(w) if x > 0}, (name, w, seen)


def test_zero_weight_at_the_end_was_the_reported_case() -> None:
    """[1, 0] and [1, 2, 0]: the threshold 2**64 is never reached (it overflowed in C and wrapped in torch)."""
    for values, weights in (([1, 2], [1, 0]), ([1, 2, 3], [1, 2, 0])):
        spec = spec_from_dict({"kind": "choice", "values": values, "weights": weights})
        assert all(t < 2**64 for t in spec.thresholds)
        outs = paths_agree(AugmentationConfig({"c": spec}), 0, 0, diff_ids(2000))
        assert values[-1] not in set(outs["c"].tolist())


# ----------------------------------------------------------------- accepted => finite and in range
# Hostile configs: any number, including NaN, infinities, subnormals, the edges of
# every limit and integers beyond a double. Whatever from_dict accepts must give
# finite values in the spec's range (or its identity) on every path.

_EDGES = [0.0, -0.0, 5e-324, 2.0**-1022, 1e-308, 3.3e-308, 3.30755300363822e-308, 2.0**-990, 2.0**-511, 1e-300,
          0.5, 1.0, 30.0, 1e300, 8.218407461555439e307, 8.3e307, 1e308, 1.7976931348623157e308]
_NUMBER = st.one_of(
    st.floats(-20, 20),
    st.sampled_from(_EDGES + [-x for x in _EDGES]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(2**70), 2**70),
)
_INT = st.one_of(st.integers(-100, 100), st.integers(-(2**63), 2**63), st.sampled_from([2**62, -(2**62), 2**32, 3.0, True]))
_P = st.one_of(st.sampled_from([0.0, P_TINY, 0.5, 1.0, 5e-324, 1.5]), st.floats(0, 1))


_POSITIVE = st.one_of(st.floats(1e-3, 1e3), st.sampled_from([x for x in _EDGES if x > 0]), _NUMBER)
_UNIT = st.one_of(st.floats(0.01, 1), st.floats(0.01, 1), st.floats(0, 1),
                  st.sampled_from([0.0, 5e-324, 2.0**-512, 2.0**-511, 1e-300, 1.0, 1.5]), _NUMBER)


@st.composite
def hostile_specs(draw: st.DrawFn) -> dict:
    kind = draw(st.sampled_from(sorted(set(KIND_VARIANTS) | {"bernoulli"})))
    pair = lambda s: sorted([draw(s), draw(s)], key=lambda x: (x != x, x))  # noqa: E731
    spec: dict = {"kind": kind}
    if kind == "uniform":
        spec["low"], spec["high"] = pair(_NUMBER)
    elif kind == "log_uniform":
        spec["low"], spec["high"] = pair(_POSITIVE)
    elif kind == "normal":
        spec["mean"], spec["std"] = draw(_NUMBER), abs(draw(_NUMBER))
    elif kind == "truncated_normal":
        spec["mean"], spec["std"] = draw(_NUMBER), draw(_POSITIVE)
        if draw(st.booleans()):  # bounds given as z-scores, mostly within the 30 std limit
            za, zb = pair(st.floats(-31, 31))
            spec["low"], spec["high"] = spec["mean"] + za * spec["std"], spec["mean"] + zb * spec["std"]
        else:
            spec["low"], spec["high"] = pair(_NUMBER)
    elif kind == "integer":
        spec["low"], spec["high"] = sorted([draw(_INT), draw(_INT)], key=lambda x: (type(x) is not int, x))
    elif kind == "choice":
        n = draw(st.integers(1, 5))
        spec["values"] = draw(st.one_of(st.lists(_INT, min_size=n, max_size=n), st.lists(_NUMBER, min_size=n, max_size=n)))
        spec["weights"] = draw(st.none() | st.lists(st.one_of(st.sampled_from([0.0, 1.0]), _NUMBER), min_size=n, max_size=n))
    elif kind in ("resized_crop", "erasing"):
        spec["scale"], spec["ratio"] = pair(_UNIT), pair(_POSITIVE)
    elif kind == "permutation":
        spec["n"] = draw(st.one_of(st.integers(2, 12), st.integers(0, 14), _INT))
    spec["p"] = draw(_P)
    if kind not in ("bernoulli", "resized_crop", "erasing", "permutation") and draw(st.integers(0, 3)):
        spec["identity"] = draw(_INT if kind in ("integer", "choice") else _NUMBER)
    return spec


def check_in_range(spec, outs: dict[str, np.ndarray], name: str) -> None:
    """Every value finite and in the spec's range, or the identity where a gate can close."""
    from dpa import domains

    gated = spec.p < 1.0 and spec.kind != "bernoulli"
    values = [outs[name + o.suffix] for o in spec.outputs()]
    for v, o in zip(values, spec.outputs()):
        if o.dtype == "float":
            assert np.isfinite(v).all(), (name, o.suffix)
    v = values[0]
    ident = v == spec.identity_values()[0] if gated else np.zeros(v.shape, dtype=bool)
    if spec.kind in ("uniform", "log_uniform", "truncated_normal", "integer"):
        assert ((v >= spec.low) & (v <= spec.high) | ident).all()
    elif spec.kind == "normal":
        lo, hi = domains.normal_extremes(spec.kind, spec.mean, spec.std)
        assert ((v >= lo) & (v <= hi) | ident).all()
    elif spec.kind == "choice":
        allowed = [x for i, x in enumerate(spec.values) if spec.weights is None or spec.weights[i] > 0]
        assert (np.isin(v, allowed) | ident).all()
    elif spec.kind == "bernoulli":
        assert v.dtype == np.bool_
    elif spec.kind in ("resized_crop", "erasing"):
        x, y, w, h = values
        assert ((x >= 0) & (y >= 0) & (w > 0) & (h > 0) & (w <= 1) & (h <= 1)).all() or gated
        assert ((x + w <= 1 + 2**-52) & (y + h <= 1 + 2**-52)).all()
        assert ((w >= 0) & (h >= 0)).all()
    elif spec.kind == "permutation":
        assert (np.sort(np.stack(values), axis=0) == np.arange(spec.n)[:, None]).all()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.lists(hostile_specs(), min_size=1, max_size=3), st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1))
def test_whatever_is_accepted_gives_finite_values_in_range_on_every_path(specs: list, seed: int, epoch: int) -> None:
    try:
        cfg = AugmentationConfig.from_dict({f"s{i}": s for i, s in enumerate(specs)})
    except (TypeError, ValueError):
        return  # refused at construction: nothing to generate
    outs = paths_agree(cfg, seed, epoch, diff_ids(2000), n_scalar=20)
    for name, spec in cfg.items():
        check_in_range(spec, outs, name)


def test_clamps_keep_the_first_of_equal_signed_zeros_on_every_path() -> None:
    """min/max return their first operand when the two are equal (SPEC section 4), signed zeros included.

    A truncated normal whose mean is -0.0 and whose range is [0.0, tiny] in
    units of its std draws z = -0.0 and returns max(min(-0.0, high), 0.0):
    -0.0 on the C, torch, Triton and Python paths; numpy's own ``maximum``
    returned 0.0 (it keeps the second of equal operands).
    """
    spec = {"kind": "truncated_normal", "mean": -0.0, "std": 3e10, "low": 0.0, "high": 2.0**-511}
    mirrored = {"kind": "truncated_normal", "mean": 0.0, "std": 3e10, "low": -(2.0**-511), "high": -0.0}
    cfg = AugmentationConfig({"tn": spec, "tn_mirrored": mirrored})
    outs = paths_agree(cfg, 0, 0, diff_ids(200))
    assert (bits(outs["tn"]) == bits(np.array([-0.0]))).all()
    assert (bits(outs["tn_mirrored"]) == bits(np.array([0.0]))).all()
