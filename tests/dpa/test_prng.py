"""The XXH64 pair kernel against the xxhash package (the reference C implementation)."""

from __future__ import annotations

import numpy as np
import pytest
import xxhash
from hypothesis import given
from hypothesis import strategies as st

from dpa import prng
from tests.conftest import requires_torch

U64 = st.integers(min_value=0, max_value=2**64 - 1)

EDGE = [0, 1, 2, 2**31 - 1, 2**32 - 1, 2**32, 2**53, 2**63 - 1, 2**63, 2**63 + 1, 2**64 - 2, 2**64 - 1]


def oracle(a: int, b: int, seed: int) -> int:
    return xxhash.xxh64_intdigest(a.to_bytes(8, "little") + b.to_bytes(8, "little"), seed)


def edge_triples() -> list[tuple[int, int, int]]:
    return [(a, b, s) for a in EDGE for b in EDGE[::3] for s in EDGE[::4]]


def test_int_path_matches_oracle_on_edges() -> None:
    for a, b, s in edge_triples():
        assert prng.xxh64_pair(a, b, s) == oracle(a, b, s)


@given(U64, U64, U64)
def test_int_path_matches_oracle(a: int, b: int, s: int) -> None:
    assert prng.xxh64_pair(a, b, s) == oracle(a, b, s)


def test_numpy_matches_oracle_on_edges_and_random(kernel: str) -> None:
    triples = edge_triples()
    rng = np.random.default_rng(12345)
    rand = rng.integers(0, 2**64, size=(3, 5000), dtype=np.uint64, endpoint=False)
    a = np.array([t[0] for t in triples], dtype=np.uint64)
    b = np.array([t[1] for t in triples], dtype=np.uint64)
    s = np.array([t[2] for t in triples], dtype=np.uint64)
    got = prng.xxh64_pair(a, b, s)
    assert [int(x) for x in got] == [oracle(*t) for t in triples]
    got = prng.xxh64_pair(rand[0], rand[1], rand[2])
    expected = [oracle(int(x), int(y), int(z)) for x, y, z in zip(*rand)]
    assert [int(x) for x in got] == expected


def test_numpy_broadcasts_scalars_and_spans_blocks(kernel: str) -> None:
    # More elements than one block, so block boundaries are crossed.
    n = prng.BLOCK * 2 + 17
    a = np.arange(n, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    got = prng.xxh64_pair(a, 2**64 - 1, 7)
    for i in (0, 1, prng.BLOCK - 1, prng.BLOCK, n - 1):
        assert int(got[i]) == oracle(int(a[i]), 2**64 - 1, 7)
    got2 = prng.xxh64_pair(5, a[:10], np.uint64(9))
    assert [int(x) for x in got2] == [oracle(5, int(x), 9) for x in a[:10]]


def test_outer_matches_pairs() -> None:
    rng = np.random.default_rng(1)
    a = rng.integers(0, 2**64, size=333, dtype=np.uint64, endpoint=False)
    seeds = [0, 2**64 - 1, 12345]
    bs = [2**64 - 1, 0, 2**32 + 1]
    c, k2 = prng.outer_row_constants(bs, seeds)
    out = np.empty((3, a.size), dtype=np.uint64)
    prng.xxh64_outer(a, c, k2, out, np.empty_like(out))
    for r in range(3):
        np.testing.assert_array_equal(out[r], prng.xxh64_pair(a, bs[r], seeds[r]))


@pytest.mark.parametrize(
    "args, exc, fragment",
    [
        ((-1, 0, 0), ValueError, "a must be in [0, 2**64)"),
        ((0, 2**64, 0), ValueError, "b must be in [0, 2**64)"),
        ((0, 0, -5), ValueError, "seed must be in [0, 2**64)"),
        ((np.array([1], dtype=np.int64), 0, 0), TypeError, "uint64"),
        ((np.array([1.0]), 0, 0), TypeError, "uint64"),
        ((np.array([1], dtype=np.uint64), 1.5, 0), TypeError, "b must be an int"),
        ((np.array([1], dtype=np.uint64), 0, -1), ValueError, "seed must be in [0, 2**64)"),
    ],
)
def test_bad_input(args, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        prng.xxh64_pair(*args)
    assert fragment in str(info.value)


@requires_torch
def test_torch_matches_numpy() -> None:
    import torch

    rng = np.random.default_rng(7)
    rand = rng.integers(0, 2**64, size=(3, 4000), dtype=np.uint64, endpoint=False)
    rand[:, :len(EDGE)] = np.array(EDGE, dtype=np.uint64)
    t = [torch.from_numpy(x.view(np.int64).copy()) for x in rand]
    got = prng.xxh64_pair(t[0], t[1], t[2])
    assert got.dtype == torch.int64
    np.testing.assert_array_equal(got.numpy().view(np.uint64), prng.xxh64_pair(rand[0], rand[1], rand[2]))
    got = prng.xxh64_pair(t[0], 2**64 - 1, 3)
    np.testing.assert_array_equal(got.numpy().view(np.uint64), prng.xxh64_pair(rand[0], 2**64 - 1, 3))


@requires_torch
def test_torch_rejects_other_dtypes() -> None:
    import torch

    with pytest.raises(TypeError, match="int64"):
        prng.xxh64_pair(torch.zeros(3, dtype=torch.int32), 0, 0)


def test_out_parameter(kernel: str) -> None:
    a = np.arange(1000, dtype=np.uint64)
    out = np.empty(1000, dtype=np.uint64)
    got = prng.xxh64_pair(a, 3, 4, out=out)
    assert got is out
    np.testing.assert_array_equal(out, prng.xxh64_pair(a, 3, 4))
    with pytest.raises(ValueError, match=r"out must be a C-contiguous uint64 array of shape \(1000,\)"):
        prng.xxh64_pair(a, 3, 4, out=np.empty(999, dtype=np.uint64))


def test_out_may_be_an_input(kernel: str) -> None:
    """xxh64_pair(x, b, s, out=x) hashes in place, on either kernel."""
    x = np.arange(prng.BLOCK + 99, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    want = [oracle(int(v), 7, 9) for v in x]
    prng.xxh64_pair(x, 7, 9, out=x)
    assert [int(v) for v in x] == want
    y = np.arange(1000, dtype=np.uint64)
    want = [oracle(5, int(v), int(v)) for v in y]
    prng.xxh64_pair(5, y, y, out=y)
    assert [int(v) for v in y] == want


def test_out_overlapping_an_input_at_an_offset(kernel: str) -> None:
    buf = np.arange(2001, dtype=np.uint64)
    a = buf[:-1].copy()
    want = [oracle(int(v), 3, 4) for v in a]
    prng.xxh64_pair(buf[:-1], 3, 4, out=buf[1:])  # out[i] is a[i + 1]
    assert [int(v) for v in buf[1:]] == want


def test_stream_words_are_the_spec_words_on_numpy_and_torch() -> None:
    """word_j = xxh64_pair(id, (epoch << 32) | j, key), j from `first` (SPEC section 3)."""
    from dpa.prng import stream_words

    ids = np.array([0, 5, 2**63, 2**64 - 1], dtype=np.uint64)
    words = stream_words(ids, 2**64 - 7, 2**32 - 1, 3, first=2**32 - 4)
    for j in range(3):
        for i, sid in enumerate(ids.tolist()):
            counter = ((2**32 - 1) << 32) | (2**32 - 4 + j)
            assert int(words[j, i]) == xxhash.xxh64_intdigest(sid.to_bytes(8, "little") + counter.to_bytes(8, "little"),
                                                              2**64 - 7)
    assert stream_words(ids, 1, 0, 0).shape == (0, 4)
    torch = pytest.importorskip("torch")
    as_tensor = torch.from_numpy(ids.view(np.int64).copy())
    assert (stream_words(as_tensor, 2**64 - 7, 2**32 - 1, 3, first=2**32 - 4).numpy().view(np.uint64) == words).all()
    for bad in ({"key": -1}, {"epoch": 2**32}, {"n_words": 2}):
        args = {"key": 1, "epoch": 0, "n_words": 1, "first": 2**32 - 1, **bad}
        with pytest.raises(ValueError):
            stream_words(ids, **args)
