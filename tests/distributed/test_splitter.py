"""DistributedRangeSplitter: the remainder rule, DistributedSampler parity, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dpa.distributed import DistributedRangeSplitter
from tests.conftest import requires_torch

# (num_samples, world_size, mode, drop_last, pad) -> per-rank shares, as lists.
CASES = [
    # Strided: rank r takes r, r + W, ...; the first N % W ranks get one more.
    ((10, 3, "strided", False, False), [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]),
    # Even split: no remainder, nothing to pad or drop.
    ((9, 3, "strided", False, False), [[0, 3, 6], [1, 4, 7], [2, 5, 8]]),
    # drop_last: everyone takes N // W; id 9 is left out.
    ((10, 3, "strided", True, False), [[0, 3, 6], [1, 4, 7], [2, 5, 8]]),
    # pad: everyone takes ceil(N / W); the list wraps around to ids 0, 1 (DistributedSampler's default).
    ((10, 3, "strided", False, True), [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]),
    # Fewer samples than ranks: the last ranks get nothing ...
    ((2, 4, "strided", False, False), [[0], [1], [], []]),
    # ... or, padded, a copy of the first ids.
    ((2, 4, "strided", False, True), [[0], [1], [0], [1]]),
    # ... or, with drop_last, everyone gets nothing.
    ((2, 4, "strided", True, False), [[], [], [], []]),
    # No samples at all.
    ((0, 3, "strided", False, False), [[], [], []]),
    # One rank takes everything.
    ((5, 1, "strided", False, False), [[0, 1, 2, 3, 4]]),
    # Contiguous: blocks differing by at most one, the first N % W ranks one larger.
    ((10, 3, "contiguous", False, False), [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]),
    ((11, 3, "contiguous", False, False), [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]),
    # Contiguous drop_last: blocks of N // W, the tail dropped.
    ((10, 3, "contiguous", True, False), [[0, 1, 2], [3, 4, 5], [6, 7, 8]]),
    # Contiguous pad: short blocks wrap around to the first ids.
    ((10, 3, "contiguous", False, True), [[0, 1, 2, 3], [4, 5, 6, 0], [7, 8, 9, 1]]),
]


@pytest.mark.parametrize("args, shares", CASES)
def test_remainder_rule(args, shares) -> None:
    n, w, mode, drop_last, pad = args
    s = DistributedRangeSplitter(n, w, mode=mode, drop_last=drop_last, pad=pad).validate_ranges()
    assert [s.indices(r).tolist() for r in range(w)] == shares
    for r in range(w):
        assert s.num_samples_for(r) == len(shares[r])
        for local, gid in enumerate(shares[r]):
            assert s.local_to_global(local, r) == gid


def test_padding_mask() -> None:
    s = DistributedRangeSplitter(10, 3, pad=True)
    assert [s.is_padding(r).tolist() for r in range(3)] == [[False] * 4, [False] * 3 + [True], [False] * 3 + [True]]
    c = DistributedRangeSplitter(10, 3, mode="contiguous", pad=True)
    assert [c.is_padding(r).tolist() for r in range(3)] == [[False] * 4, [False] * 3 + [True], [False] * 3 + [True]]
    assert not DistributedRangeSplitter(10, 3).is_padding(0).any()


@requires_torch
@pytest.mark.parametrize("n", [0, 1, 2, 5, 9, 10, 11, 64, 97])
@pytest.mark.parametrize("w", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("drop_last", [False, True])
def test_matches_torch_distributed_sampler(n: int, w: int, drop_last: bool) -> None:
    from torch.utils.data import DistributedSampler

    data = list(range(n))
    s = DistributedRangeSplitter(n, w, drop_last=drop_last, pad=not drop_last)
    for r in range(w):
        ref = list(DistributedSampler(data, num_replicas=w, rank=r, shuffle=False, drop_last=drop_last))
        assert s.indices(r).tolist() == ref


@settings(max_examples=200, deadline=None)
@given(
    n=st.one_of(st.integers(0, 5), st.integers(0, 3000)),
    w=st.integers(1, 40),
    mode=st.sampled_from(["strided", "contiguous"]),
    extra=st.sampled_from(["none", "drop_last", "pad"]),
    start_frac=st.floats(0, 1),
)
def test_coverage_property(n: int, w: int, mode: str, extra: str, start_frac: float) -> None:
    start = int(n * start_frac)
    s = DistributedRangeSplitter(n, w, mode=mode, drop_last=extra == "drop_last", pad=extra == "pad", start=start)
    s.validate_ranges()
    real = np.concatenate([s.indices(r)[~s.is_padding(r)] for r in range(w)])
    m = n - start
    expected = m - (m % w if extra == "drop_last" else 0)
    assert len(real) == expected
    assert sorted(real.tolist()) == list(range(start, start + expected))
    sizes = [s.num_samples_for(r) for r in range(w)]
    assert max(sizes) - min(sizes) <= 1
    for gid in real[:50].tolist():
        owner = s.rank_of(gid)
        assert gid in s.indices(owner).tolist()


def test_range_for_and_huge_datasets() -> None:
    n = 10**10 + 7
    c = DistributedRangeSplitter(n, 8, mode="contiguous").validate_ranges()
    assert c.range_for(0) == range(0, 1_250_000_001)
    assert c.range_for(7).stop == n
    s = DistributedRangeSplitter(n, 1000).validate_ranges()
    assert s.num_samples_for(0) == 10_000_001 and s.num_samples_for(999) == 10_000_000
    assert s.local_to_global(10_000_000, 6) == 10**10 + 6
    with pytest.raises(ValueError, match="needs mode='contiguous'"):
        s.range_for(0)
    full = DistributedRangeSplitter(2**64, 3)
    assert full.local_to_global(full.num_samples_for(0) - 1, 0) == 2**64 - 1


@pytest.mark.parametrize("mode", ["strided", "contiguous"])
@pytest.mark.parametrize("extra", [{}, {"pad": True}, {"drop_last": True}])
def test_every_one_of_2_64_ids_consumed(mode, extra) -> None:
    # start == num_samples == 2**64 (an elastic restart after the last id): nothing left, and no overflow
    s = DistributedRangeSplitter(2**64, 3, mode=mode, start=2**64, **extra).validate_ranges()
    assert [s.num_samples_for(r) for r in range(3)] == [0, 0, 0]
    assert s.indices(1).dtype == np.uint64 and s.indices(1).size == 0


def test_validate_ranges_names_gaps_and_overlaps() -> None:
    class Gappy(DistributedRangeSplitter):
        def _block_start(self, rank: int) -> int:
            return super()._block_start(rank) + (1 if rank == 2 else 0)

    with pytest.raises(ValueError, match=r"rank 2 takes id 10, outside the covered range \[0, 10\)"):
        Gappy(10, 3, mode="contiguous").validate_ranges()

    class Gap(Gappy):
        def num_samples_for(self, rank: int) -> int:
            return super().num_samples_for(rank) - (1 if rank == 2 else 0)

        def _real_count(self, rank: int) -> int:
            return super()._real_count(rank) - (1 if rank == 2 else 0)

    with pytest.raises(ValueError, match=r"gap: 1 id\(s\) taken by no rank, the first 7"):
        Gap(10, 3, mode="contiguous").validate_ranges()

    class Shifted(DistributedRangeSplitter):
        def _positions(self, local, rank):
            return local * np.uint64(self.world_size) + np.uint64(min(rank, 1))

    with pytest.raises(ValueError, match="overlap: id 1 is taken by rank 1 and rank 2"):
        Shifted(10, 3).validate_ranges()

    class Huge(DistributedRangeSplitter):
        def _block_start(self, rank: int) -> int:
            return super()._block_start(rank) + (5 if rank == 1 else 0)

    with pytest.raises(ValueError, match="gap between rank 0 and rank 1"):
        Huge(10**8, 3, mode="contiguous").validate_ranges()


@pytest.mark.parametrize(
    "args, kwargs, exc, fragment",
    [
        ((10, 0), {}, ValueError, "world_size must be in [1, 2**64); got 0"),
        ((10, 2.0), {}, TypeError, "world_size must be an integer"),
        ((-1, 2), {}, ValueError, "num_samples must be in [0, 2**64]; got -1"),
        ((10, 2), {"mode": "blocks"}, ValueError, "mode must be one of ['strided', 'contiguous']; got 'blocks'"),
        ((10, 2), {"drop_last": True, "pad": True}, ValueError, "drop_last and pad cannot both be True"),
        ((10, 2), {"start": 11}, ValueError, "start must be in [0, num_samples=10]; got 11"),
    ],
)
def test_bad_construction(args, kwargs, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        DistributedRangeSplitter(*args, **kwargs)
    assert fragment in str(info.value)


def test_bad_queries() -> None:
    s = DistributedRangeSplitter(10, 3)
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size=3\); got 3"):
        s.indices(3)
    with pytest.raises(ValueError, match=r"rank must be in \[0, world_size=3\); got -1"):
        s.num_samples_for(-1)
    with pytest.raises(ValueError, match=r"local_id must be in \[0, 3\) for rank 2; got 3"):
        s.local_to_global(3, 2)
    with pytest.raises(ValueError, match="global_id must be in"):
        s.rank_of(10)


@pytest.mark.parametrize("mode", ["strided", "contiguous"])
@pytest.mark.parametrize("pad", [False, True])
def test_every_one_of_the_2_64_ids(mode: str, pad: bool) -> None:
    """All 2**64 ids over 7 ranks: the last samples of every rank (padding included) match exact integer arithmetic."""
    n, w = 1 << 64, 7
    s = DistributedRangeSplitter(n, w, mode=mode, pad=pad).validate_ranges()
    base, extra = divmod(n, w)
    for rank in range(w):
        real = base + (1 if rank < extra else 0)
        count = s.num_samples_for(rank)
        assert count == (base + 1 if pad else real)
        lo = count - 3
        ids = [int(x) for x in s.indices(rank, lo, count)]
        padding = [bool(x) for x in s.is_padding(rank, lo, count)]
        if mode == "strided":
            want = [(k * w + rank) % n for k in range(lo, count)]
        else:
            start = rank * base + min(rank, extra)
            want = [start + k if k < real else (k - real + max(rank - extra, 0)) % n for k in range(lo, count)]
        assert ids == want
        assert padding == [k >= real for k in range(lo, count)]


@pytest.mark.parametrize("n, w, start", [(2**64 - 1, 7, 0), (2**64 - 2, 5, 0), (2**64 - 1, 2**63 + 3, 0), (2**64 - 1, 7, 10)])
def test_padding_wraps_exactly_just_below_2_64_ids(n: int, w: int, start: int) -> None:
    """Padded positions past 2**64 repeat id ``position - n``, as DistributedSampler's list does.

    With n < 2**64 the last padded positions k * w + rank exceed 2**64: they
    wrapped in uint64 first and were then taken modulo n, one id short.
    """
    s = DistributedRangeSplitter(n, w, pad=True, start=start)
    total = n - start
    count = s.num_samples_for(0)
    for rank in sorted({0, 1, 2, w - 2, w - 1}):
        lo = max(count - 3, 0)
        ids = [int(x) for x in s.indices(rank, lo, count)]
        assert ids == [start + (k * w + rank) % total for k in range(lo, count)], rank
        assert [int(s.local_to_global(k, rank)) for k in range(lo, count)] == ids
