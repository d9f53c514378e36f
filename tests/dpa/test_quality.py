"""A fast statistical battery with fixed seeds (so it cannot flake): bit balance, serial
correlation between adjacent ids, epochs and streams, and gate/value independence.

The full external battery (dieharder) is in docs/QUALITY.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import dpa
from dpa.keys import counter_word, stream_key
from dpa.prng import xxh64_pair

N = 1 << 18


def words_over_ids(name: str = "rotation", seed: int = 0, epoch: int = 0, offset: int = 0) -> np.ndarray:
    return xxh64_pair(np.arange(offset, offset + N, dtype=np.uint64), counter_word(epoch, 0), stream_key(seed, name))


def words_over_epochs(sample: int = 42) -> np.ndarray:
    counters = np.arange(N, dtype=np.uint64) << np.uint64(32)
    return xxh64_pair(np.uint64(sample), counters, stream_key(0, "rotation"))


def bits(words: np.ndarray) -> np.ndarray:
    return np.unpackbits(words.view(np.uint8)).reshape(-1, 64)


def unit(words: np.ndarray) -> np.ndarray:
    return (words >> np.uint64(11)).astype(np.float64) * 2.0**-53


@pytest.mark.parametrize("source", ["ids", "epochs", "seeds", "names"])
def test_bit_balance(source: str) -> None:
    w = {
        "ids": words_over_ids(),
        "epochs": words_over_epochs(),
        "seeds": np.array([xxh64_pair(7, 0, stream_key(s, "rotation")) for s in range(20_000)], dtype=np.uint64),
        "names": np.array([xxh64_pair(7, 0, stream_key(0, f"p{k}")) for k in range(20_000)], dtype=np.uint64),
    }[source]
    ones = bits(w).mean(axis=0)
    # Each of the 64 bit positions is 1 half the time (binomial, 5 sigma).
    assert np.all(np.abs(ones - 0.5) < 5 * 0.5 / np.sqrt(len(w))), ones
    # The number of ones per word follows Binomial(64, 1/2).
    counts = np.bincount(bits(w).sum(axis=1), minlength=65)
    expected = stats.binom(64, 0.5).pmf(np.arange(65)) * len(w)
    keep = expected > 5
    assert stats.chisquare(counts[keep], expected[keep] * counts[keep].sum() / expected[keep].sum()).pvalue > 1e-4


@pytest.mark.parametrize(
    "name, a, b",
    [
        ("adjacent ids", lambda: unit(words_over_ids())[:-1], lambda: unit(words_over_ids())[1:]),
        ("adjacent epochs", lambda: unit(words_over_epochs())[:-1], lambda: unit(words_over_epochs())[1:]),
        ("epoch e vs e+1, same ids", lambda: unit(words_over_ids(epoch=3)), lambda: unit(words_over_ids(epoch=4))),
        ("seed s vs s+1, same ids", lambda: unit(words_over_ids(seed=10)), lambda: unit(words_over_ids(seed=11))),
        ("seed s id i+1 vs seed s+1 id i", lambda: unit(words_over_ids(seed=10, offset=1)), lambda: unit(words_over_ids(seed=11))),
        ("two parameters, same ids", lambda: unit(words_over_ids("rotation")), lambda: unit(words_over_ids("scale"))),
    ],
)
def test_no_serial_correlation(name: str, a, b) -> None:
    x, y = a(), b()
    r = np.corrcoef(x, y)[0, 1]
    assert abs(r) < 5 / np.sqrt(len(x)), f"{name}: r = {r}"
    # Pairs fill the unit square evenly (2-D chi-square on a 16 x 16 grid).
    grid, _, _ = np.histogram2d(x, y, bins=16, range=[[0, 1], [0, 1]])
    assert stats.chisquare(grid.ravel()).pvalue > 1e-4, name


def test_uniform_words_pass_ks() -> None:
    for w in (words_over_ids(), words_over_epochs()):
        assert stats.kstest(unit(w), "uniform").pvalue > 1e-4


def test_gate_and_value_are_independent() -> None:
    cfg = dpa.AugmentationConfig({"x": {"kind": "uniform", "low": 0, "high": 1, "p": 0.5, "identity": -1.0}})
    ungated = dpa.AugmentationConfig({"x": {"kind": "uniform", "low": 0, "high": 1}})
    g = dpa.gen_augmentation_batch(range(N), cfg)["x"]
    v = dpa.gen_augmentation_batch(range(N), ungated)["x"]
    applied = g != -1.0
    # A 2 x 10 contingency table of (gate open, value decile): independent.
    deciles = np.minimum((v * 10).astype(int), 9)
    table = np.array([np.bincount(deciles[applied], minlength=10), np.bincount(deciles[~applied], minlength=10)])
    assert stats.chi2_contingency(table).pvalue > 1e-4
