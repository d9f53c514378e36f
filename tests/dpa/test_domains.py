"""dpa.domains: the limits of docs/SPEC.md section 5.3, each derived again here from the building blocks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpa import _ops, domains, fmath
from dpa.specs import NormalSpec, UniformSpec
from tests.conftest import requires_torch


def test_log_limits_are_the_edges_of_exps_domain() -> None:
    lo, hi = domains.LOG_ARG_MIN, domains.LOG_ARG_MAX
    assert fmath.log(lo) >= domains.EXP_MIN > fmath.log(math.nextafter(lo, 0.0))
    assert fmath.log(hi) <= domains.EXP_MAX < fmath.log(math.nextafter(hi, math.inf))
    # and dpa's log is monotone around both edges, so the limit is one number
    for edge in (lo, hi):
        xs = [edge]
        for _ in range(64):
            xs = [math.nextafter(xs[0], 0.0)] + xs + [math.nextafter(xs[-1], math.inf)]
        logs = [fmath.log(x) for x in xs]
        assert logs == sorted(logs)


def _exp_inputs() -> np.ndarray:
    return np.concatenate([[domains.EXP_MIN, domains.EXP_MAX, -707.9999999999999, 708.9999999999999, 0.0, -0.0],
                           np.linspace(domains.EXP_MIN, domains.EXP_MAX, 20001)])


def test_exp_is_normal_and_finite_on_its_domain() -> None:
    x = _exp_inputs()
    k = np.floor(x * fmath.INV_LN2 + 0.5)
    assert k.min() >= -1021 and k.max() <= 1023  # ldexp's 2**k is a normal double built from its bits
    y = fmath.exp(x, _ops.NP)
    assert np.isfinite(y).all() and (y >= 2.0**-1022).all()
    np.testing.assert_array_equal(y, [fmath.exp(float(v)) for v in x])


@requires_torch
def test_exp_on_torch_matches_on_its_whole_domain() -> None:
    import torch

    x = _exp_inputs()
    np.testing.assert_array_equal(fmath.exp(torch.from_numpy(x.copy()), _ops.TorchOps()).numpy(), fmath.exp(x, _ops.NP))


def test_ndtri_max_is_the_largest_over_all_draws() -> None:
    assert domains.NDTRI_MAX == -fmath.ndtri(2.0**-33) == fmath.ndtri(1.0 - 2.0**-33)
    # Near either end, where |ndtri| is largest, it is monotone over every draw ...
    d = np.arange(1 << 20, dtype=np.float64)
    low = fmath.ndtri(d * 2.0**-32 + 2.0**-33, _ops.NP)
    high = fmath.ndtri((2.0**32 - 1 - d) * 2.0**-32 + 2.0**-33, _ops.NP)
    assert (np.diff(low) >= 0).all() and (np.diff(high) <= 0).all()
    assert -low[0] == high[0] == domains.NDTRI_MAX
    # ... and everywhere in between it stays far below (|ndtri(2**-12)| is about 3.49).
    inner = fmath.ndtri(np.linspace(2.0**-12, 1 - 2.0**-12, 200_001), _ops.NP)
    assert np.abs(inner).max() < 3.6


def test_normal_extremes_are_the_outputs_of_the_extreme_draws() -> None:
    spec = NormalSpec(mean=1.5, std=3e10)
    lo, hi = domains.normal_extremes("normal", spec.mean, spec.std)
    words = [0, (2**32 - 1) << 32]
    assert [spec.recorded_program.run([w])[0] for w in words] == [lo, hi]


def test_truncated_normal_z_stays_within_30() -> None:
    """The |mean| + 31 * std rule rests on |z| <= 30 (up to rounding) for bounds within 30 std."""
    for a, b in ((-30.0, -29.999), (29.999, 30.0), (-30.0, 30.0), (-30.0, -3.0)):
        fa, fb = fmath.ndtr(a), fmath.ndtr(b)
        for u in (2.0**-33, 0.5, 1 - 2.0**-33):
            z = fmath.ndtri(fa + u * (fb - fa))
            assert abs(z) <= 30.0 + 1e-9


_finite = st.floats(-1e300, 1e300, allow_nan=False, allow_subnormal=False)


@settings(max_examples=300, deadline=None)
@given(_finite, _finite)
def test_uniform_values_lie_in_low_high_and_reach_high_only_when_narrow(a: float, b: float) -> None:
    low, high = min(a, b), max(a, b)
    try:
        spec = UniformSpec(low=low, high=high)
    except ValueError:
        assert 0 < high - low < domains.MIN_WIDTH
        return
    top = spec.recorded_program.run([(2**32 - 1) << 32])[0]  # values are non-decreasing in the draw: this is the largest
    assert spec.recorded_program.run([0])[0] == low and low <= top <= high
    ulp = math.ulp(high) if high != 0 else 5e-324
    if high - low >= 2**32 * ulp:
        assert top < high


def test_uniform_narrow_range_returns_high() -> None:
    spec = UniformSpec(low=1.0, high=math.nextafter(1.0, 2.0))
    values = [spec.recorded_program.run([d << 32])[0] for d in range(0, 2**32, 2**24)]
    assert np.mean([v == spec.high for v in values]) == 127 / 256  # the draws above 2**31 round up to high


def test_tiny_ranges_would_have_collapsed() -> None:
    """Why the 2**-990 step limit: below it (high - low) * 2**-32 underflows and every draw gives low."""
    assert (1e-320 - 5e-324) * 2.0**-32 == 0.0
    assert (domains.MIN_WIDTH * 2.0**-32) == 2.0**-1022
    with pytest.raises(ValueError, match="at least 2\\*\\*-990"):
        UniformSpec(low=0.0, high=math.nextafter(domains.MIN_WIDTH, 0.0))
    UniformSpec(low=0.0, high=domains.MIN_WIDTH)


def test_box_scale_limit_keeps_s_times_r_normal() -> None:
    s = domains.BOX_MIN_SCALE
    assert s * s == 2.0**-1022 and math.nextafter(s, 0.0) ** 2 < 2.0**-1022


def test_values_may_be_subnormal_as_the_spec_says() -> None:
    """SPEC 5.2: a normal with mean 0 and std 1e-300 gives subnormals for 76 draws around 2**31."""
    spec = NormalSpec(mean=0.0, std=1e-300)
    tiny = [d for d in range(2**31 - 64, 2**31 + 64) if 0 < abs(spec.recorded_program.run([d << 32])[0]) < 2.0**-1022]
    assert len(tiny) == 76


@requires_torch
def test_presets_give_the_same_bits_with_subnormals_flushed() -> None:
    """SPEC 5.2: the presets' values and intermediates stay normal, so FTZ/DAZ (torch.set_flush_denormal) changes nothing."""
    import torch

    import dpa

    ids = np.random.default_rng(5).integers(0, 2**64, 20_000, dtype=np.uint64)
    for name in dpa.preset_names():
        cfg = dpa.get_preset(name)
        want = {k: v.view(np.uint8).copy() for k, v in dpa.Generator(cfg).batch(ids).items()}
        if not torch.set_flush_denormal(True):
            pytest.skip("this CPU cannot flush subnormals")
        try:  # fresh generators: programs compiled and run with subnormals flushed
            got = {k: v.view(np.uint8).copy() for k, v in dpa.Generator(cfg).batch(ids).items()}
            one = dpa.Generator(cfg).params(int(ids[0]))
        finally:
            torch.set_flush_denormal(False)
        assert all(np.array_equal(got[k], want[k]) for k in want), name
        batch = dpa.gen_augmentation_batch(ids[:1], cfg)
        assert all(np.array([v]).astype(batch[k].dtype).tobytes() == batch[k].tobytes() for k, v in one.items()), name


def _draws_giving_high(spec: UniformSpec) -> int:
    """How many of the 2**32 draws give ``high`` (values are non-decreasing in the draw: bisect)."""
    value = lambda d: spec.recorded_program.run([d << 32])[0]  # noqa: E731
    lo, hi = 0, 2**32
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if value(mid) >= spec.high else (mid + 1, hi)
    return 2**32 - lo


@pytest.mark.parametrize(
    "low, high, count",
    [
        (1.0, math.nextafter(1.0, 2.0), 2**31 - 1),  # one ulp: half the draws
        (1.0, 1.0 + 1000 * 2.0**-52, 2147483),  # k ulps: about 2**31 / k
        (1.0, 1.0 + 1e-7, 4),  # still below 2**31 ulps
        (1.0, 1.0 + (2**31 + 1) * 2.0**-52, 0),  # past 2**31 ulps: never
        (0.9, 1.1, 0),
    ],
)
def test_how_often_uniform_gives_high_as_the_spec_says(low: float, high: float, count: int) -> None:
    assert _draws_giving_high(UniformSpec(low=low, high=high)) == count
