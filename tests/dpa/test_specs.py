"""Spec kinds: validation, dict round trips and the distributions they produce."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import dpa
from dpa.specs import spec_from_dict, spec_kinds

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
