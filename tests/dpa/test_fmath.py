"""dpa's own elementary functions: accurate, and identical on every backend."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from dpa import _ops, fmath
from tests.conftest import requires_torch


def _inputs() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    p = np.concatenate([(np.arange(1, 2**14) + 0.5) / 2**14, [2.0**-33, 1 - 2.0**-33, 1e-12, 1e-300, 0.5, 0.075, 0.925]])
    return {
        "exp": np.concatenate([np.linspace(-700, 700, 4001), rng.uniform(-3, 3, 4000)]),
        "log": np.concatenate([np.exp(np.linspace(-700, 700, 4001)), rng.uniform(0.01, 10, 4000)]),
        "sqrt": np.concatenate([rng.uniform(0, 1e-3, 2000), rng.uniform(0, 1e3, 4000), [1.0, 2.0, 0.25]]),
        "ndtri": p,
    }


def test_accuracy_against_library_functions() -> None:
    x = _inputs()
    exp = fmath.exp(x["exp"], _ops.NP)
    assert np.max(np.abs(exp / np.exp(x["exp"]) - 1)) < 4e-16 * 8
    log = fmath.log(x["log"], _ops.NP)
    assert np.max(np.abs(log - np.log(x["log"])) / np.maximum(1, np.abs(np.log(x["log"])))) < 4e-16
    z = fmath.ndtri(x["ndtri"], _ops.NP)
    ref = np.array([statistics.NormalDist().inv_cdf(float(v)) for v in x["ndtri"]])
    assert np.max(np.abs(z - ref)) < 1e-14


@pytest.mark.parametrize("fn", ["exp", "log", "sqrt", "ndtri"])
def test_scalar_equals_numpy_bit_for_bit(fn: str) -> None:
    x = _inputs()[fn]
    vec = getattr(fmath, fn)(x, _ops.NP)
    scalar = np.array([getattr(fmath, fn)(float(v)) for v in x])
    np.testing.assert_array_equal(scalar, vec)


@requires_torch
@pytest.mark.parametrize("fn", ["exp", "log", "sqrt", "ndtri"])
def test_torch_equals_numpy_bit_for_bit(fn: str) -> None:
    import torch

    x = _inputs()[fn]
    vec = getattr(fmath, fn)(x, _ops.NP)
    tor = getattr(fmath, fn)(torch.from_numpy(x.copy()), _ops.TorchOps())
    np.testing.assert_array_equal(tor.numpy(), vec)


@pytest.mark.parametrize("x", [-35.0, -12.0, -5.0, -3.0001, -2.9999, -1.0, 0.0, 0.3, 2.5, 3.5, 9.0, 40.0])
def test_ndtr(x: float) -> None:
    ref = 0.5 * math.erfc(-x / math.sqrt(2))
    # The reference itself carries the rounding of x / sqrt(2), which the
    # tail's slope amplifies by about x**2.
    assert fmath.ndtr(x) == pytest.approx(ref, rel=1e-15 * (4 + x * x), abs=1e-300)


def test_ndtr_limits() -> None:
    assert fmath.ndtr(math.inf) == 1.0
    assert fmath.ndtr(-math.inf) == 0.0
    with pytest.raises(ValueError):
        fmath.ndtr(math.nan)


def test_ops_for_picks_the_library_of_the_values() -> None:
    from dpa import fmath

    x = np.array([0.25, 0.5, 0.75])
    assert fmath.ndtri(x, fmath.ops_for(x)).tolist() == [fmath.ndtri(float(v)) for v in x]
    assert fmath.ops_for(0.5) is fmath.ops_for(1)
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(x.copy())
    assert fmath.ndtri(t, fmath.ops_for(t)).tolist() == fmath.ndtri(x, fmath.ops_for(x)).tolist()
