"""DistributedRangeSplitter: which sample ids each rank takes, as a pure function.

Two modes:

* ``"strided"`` (default) — rank ``r`` of ``W`` takes ``r, r + W, r + 2W, ...``,
  exactly the assignment of ``torch.utils.data.DistributedSampler(shuffle=False)``.
  It needs no dataset length to map a rank-local index to a global id.
* ``"contiguous"`` — rank ``r`` takes one block; blocks differ in size by at
  most one sample, the first ``N % W`` ranks taking the extra one.

Remainders (``N`` not a multiple of ``W``):

* default: shares differ by at most one sample; every id is taken exactly once;
* ``drop_last=True``: every rank takes ``N // W`` samples, the last ``N % W``
  ids are left out (DistributedSampler's ``drop_last=True``);
* ``pad=True``: every rank takes ``ceil(N / W)`` samples, the shortfall filled
  by wrapping around to the first ids (DistributedSampler's default). The
  duplicates are marked by :meth:`DistributedRangeSplitter.is_padding`, so
  they can be kept out of validation metrics.

The splitter covers ids ``start .. num_samples - 1`` (``start`` > 0 resumes
after ``start`` samples were consumed, see :mod:`dpa.distributed.checkpoint`).
Everything is O(1) per query; nothing materialises the whole range unless
asked to (:meth:`indices`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from dpa import validate

__all__ = ["DistributedRangeSplitter", "MODES", "check_rank"]

MODES = ("strided", "contiguous")
_ID_END = 1 << 64
# validate_ranges() checks id by id up to this many ids; beyond, it checks the arithmetic.
_MATERIALISE_LIMIT = 10_000_000


def _check_int(name: str, value: Any, low: int, high: int | None = None, rng: str | None = None) -> int:
    """``value`` as an int in ``[low, high)`` (``high`` None: unbounded); ``rng`` spells the range in errors."""
    rng = rng or (f"in [{low}, {high})" if high is not None else f">= {low}")
    return validate.integer(value, name, low, None if high is None else high - 1, text=rng)


def check_rank(rank: Any, world_size: Any) -> tuple[int, int]:
    """Validate ``(rank, world_size)``: ``1 <= world_size < 2**64`` and ``0 <= rank < world_size``."""
    return validate.rank_world_size(rank, world_size)


class DistributedRangeSplitter:
    """Assigns the ids ``start .. num_samples - 1`` to ``world_size`` ranks.

    Args:
        num_samples: one past the last id (the dataset length), in ``[0, 2**64]``.
        world_size: number of ranks, in [1, 2**64).
        mode: ``"strided"`` (DistributedSampler's order) or ``"contiguous"``.
        drop_last: leave out the remainder so all ranks take ``n // W``.
        pad: wrap around so all ranks take ``ceil(n / W)``, marking duplicates.
        start: first id covered (ids before it count as consumed).

    Raises:
        TypeError, ValueError: bad numbers, unknown mode, ``pad`` with ``drop_last``.

    >>> s = DistributedRangeSplitter(10, 3)
    >>> [s.indices(r).tolist() for r in range(3)]
    [[0, 3, 6, 9], [1, 4, 7], [2, 5, 8]]
    >>> s = DistributedRangeSplitter(10, 3, pad=True)
    >>> s.indices(2).tolist(), s.is_padding(2).tolist()
    ([2, 5, 8, 1], [False, False, False, True])
    """

    def __init__(
        self,
        num_samples: int,
        world_size: int,
        mode: str = "strided",
        drop_last: bool = False,
        pad: bool = False,
        start: int = 0,
    ) -> None:
        self.num_samples = _check_int("num_samples", num_samples, 0, _ID_END + 1, "in [0, 2**64]")
        self.world_size = _check_int("world_size", world_size, 1, _ID_END, "in [1, 2**64)")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}; got {mode!r}")
        if drop_last and pad:
            raise ValueError("drop_last and pad cannot both be True: drop the remainder or pad it, not both")
        self.start = _check_int("start", start, 0, self.num_samples + 1, f"in [0, num_samples={self.num_samples}]")
        self.mode = mode
        self.drop_last = bool(drop_last)
        self.pad = bool(pad)
        n, w = self.num_samples - self.start, self.world_size
        self.total = n  # ids covered
        if drop_last:
            self.per_rank = n // w
        elif pad:
            self.per_rank = -(-n // w)
        else:
            self.per_rank = None  # shares differ

    def __repr__(self) -> str:
        return (
            f"DistributedRangeSplitter(num_samples={self.num_samples}, world_size={self.world_size}, "
            f"mode={self.mode!r}, drop_last={self.drop_last}, pad={self.pad}, start={self.start})"
        )

    # -- sizes ---------------------------------------------------------------
    def num_samples_for(self, rank: int) -> int:
        """How many samples ``rank`` takes (padding included)."""
        rank, _ = check_rank(rank, self.world_size)
        if self.per_rank is not None:
            return self.per_rank
        n, w = self.total, self.world_size
        return n // w + (1 if rank < n % w else 0)

    def __len__(self) -> int:
        """Samples over all ranks, padding included."""
        if self.per_rank is not None:
            return self.per_rank * self.world_size
        return self.total

    # -- mapping -------------------------------------------------------------
    def _real_count(self, rank: int) -> int:
        """Non-padding samples of ``rank``."""
        n, w = self.total, self.world_size
        if self.drop_last:
            return self.per_rank
        return n // w + (1 if rank < n % w else 0)

    def _block_start(self, rank: int) -> int:
        n, w = self.total, self.world_size
        if self.drop_last:
            return rank * (n // w)
        return rank * (n // w) + min(rank, n % w)

    def local_to_global(self, local_id: Any, rank: int) -> Any:
        """The global id of ``rank``'s ``local_id``-th sample (int, or a uint64/int array of local ids).

        Raises:
            ValueError: ``local_id`` outside ``[0, num_samples_for(rank))``.
        """
        rank, _ = check_rank(rank, self.world_size)
        count = self.num_samples_for(rank)
        if isinstance(local_id, np.ndarray):
            local = local_id.astype(np.uint64)
            if local.size and (int(local.max()) >= count or (local_id.dtype.kind == "i" and int(local_id.min()) < 0)):
                raise ValueError(f"local_id must be in [0, {count}) for rank {rank}")
            return self._globals(local, rank)
        local = _check_int("local_id", local_id, 0, count, f"in [0, {count}) for rank {rank}")
        return int(self._globals(np.array([local], dtype=np.uint64), rank)[0])

    def _positions(self, local: np.ndarray, rank: int) -> np.ndarray:
        """Positions in [0, len) of the padded sequence before wrapping (uint64)."""
        w = np.uint64(self.world_size)
        if self.mode == "strided":
            return local * w + np.uint64(rank)
        return local + np.uint64(self._block_start(rank))

    def _globals(self, local: np.ndarray, rank: int) -> np.ndarray:
        real = self._real_count(rank)
        if self.mode == "strided":
            pos = self._positions(local, rank)
            if self.pad and self.total:
                # DistributedSampler pads by repeating the id list from its start.
                pos = self._wrap_strided(pos, local, rank)
        else:
            # Padding slots, taken rank by rank, repeat the ids from 0 like
            # DistributedSampler's wrap-around: a short rank r (r >= n % W)
            # holds slot r - n % W.
            slot = np.uint64(max(rank - self.total % self.world_size, 0))
            pos = np.where(
                local < np.uint64(real),
                local + np.uint64(self._block_start(rank)),
                self._wrap(local - np.uint64(real) + slot),
            ).astype(np.uint64)
        # start is 2**64 only when every id is consumed: then ``pos`` is empty.
        return pos + np.uint64(self.start & ((1 << 64) - 1))

    def _wrap(self, pos: np.ndarray) -> np.ndarray:
        """``pos`` modulo the number of ids. With all 2**64 ids that is uint64's own wrap-around
        (a padded position past 2**64 has already wrapped to the id it repeats)."""
        if self.total >= 1 << 64:
            return pos
        return pos % np.uint64(max(self.total, 1))

    def _wrap_strided(self, pos: np.ndarray, local: np.ndarray, rank: int) -> np.ndarray:
        """:meth:`_wrap` for strided positions ``local * W + rank``, which pass 2**64 when the
        number of ids is just below it: uint64 wrapped those to ``P - 2**64``, and the id
        they repeat is ``P - total``, below ``W``."""
        wrapped = self._wrap(pos)
        first_over = -(-((1 << 64) - rank) // self.world_size)  # the first local whose position passes 2**64
        if self.total < 1 << 64 and first_over < 1 << 64:
            over = local >= np.uint64(first_over)
            if over.any():
                wrapped = np.where(over, pos + np.uint64((1 << 64) - self.total), wrapped)
        return wrapped

    def indices(self, rank: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Global ids (uint64) of ``rank``'s samples ``start .. stop - 1`` (all by default), in order."""
        count = self.num_samples_for(rank)
        stop = count if stop is None else _check_int("stop", stop, 0, count + 1, f"in [0, {count}]")
        start = _check_int("start", start, 0, stop + 1, f"in [0, stop={stop}]")
        return self._globals(np.arange(start, stop, dtype=np.uint64), rank)

    def is_padding(self, rank: int, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Bool mask beside :meth:`indices`: True for padded duplicates (only with ``pad=True``)."""
        count = self.num_samples_for(rank)
        stop = count if stop is None else stop
        local = np.arange(start, stop, dtype=np.uint64)
        if not self.pad:
            return np.zeros(local.shape, dtype=bool)
        # In both modes a rank's first _real_count(rank) samples are real: strided
        # positions local * W + rank stay below the total exactly that long.
        return local >= np.uint64(self._real_count(rank))

    def range_for(self, rank: int) -> range:
        """``rank``'s ids as a ``range`` (contiguous mode, without padding)."""
        if self.mode != "contiguous":
            raise ValueError("range_for() needs mode='contiguous'; strided shares are not ranges, use indices()")
        rank, _ = check_rank(rank, self.world_size)
        lo = self.start + self._block_start(rank)
        return range(lo, lo + self._real_count(rank))

    def rank_of(self, global_id: int) -> int:
        """The rank that takes ``global_id`` (its first owner when padding duplicates it)."""
        gid = _check_int(
            "global_id", global_id, self.start, self.num_samples, f"in [{self.start}, {self.num_samples})"
        ) - self.start
        if self.mode == "strided":
            return gid % self.world_size
        n, w = self.total, self.world_size
        q, rem = n // w, n % w
        if self.drop_last:
            if q == 0 or gid >= q * w:
                raise ValueError(f"global_id {global_id} is dropped (drop_last=True)")
            return gid // q
        big = rem * (q + 1)
        return gid // (q + 1) if gid < big else rem + (gid - big) // q

    # -- proof ---------------------------------------------------------------
    def validate_ranges(self) -> "DistributedRangeSplitter":
        """Check that every covered id is taken exactly once (padding aside); return self.

        Up to 10 million ids the check is id by id; beyond, it checks the
        per-rank counts and the boundaries of each rank's share.

        Raises:
            ValueError: naming the first id missing (a gap) or taken twice
                (an overlap), and the ranks involved.
        """
        expected_total = self.per_rank * self.world_size if self.drop_last else self.total
        if self.total <= _MATERIALISE_LIMIT:
            seen = np.zeros(self.total, dtype=np.int64)
            owner = np.full(self.total, -1, dtype=np.int64)
            for r in range(self.world_size):
                ids = (self.indices(r) - np.uint64(self.start & ((1 << 64) - 1))).astype(np.int64)
                real = ids[~self.is_padding(r)]
                outside = real[(real < 0) | (real >= self.total)]
                if outside.size:
                    raise ValueError(
                        f"rank {r} takes id {int(outside[0]) + self.start}, outside the covered "
                        f"range [{self.start}, {self.num_samples})"
                    )
                dup = real[seen[real] > 0]
                if dup.size:
                    gid = int(dup[0]) + self.start
                    raise ValueError(f"overlap: id {gid} is taken by rank {int(owner[dup[0]])} and rank {r}")
                seen[real] += 1
                owner[real] = r
            covered = int((seen > 0).sum())
            if covered != expected_total:
                missing = np.nonzero(seen[:expected_total] == 0)[0]
                gid = int(missing[0]) + self.start if missing.size else None
                raise ValueError(f"gap: {expected_total - covered} id(s) taken by no rank, the first {gid}")
            return self
        counts = [self._real_count(r) for r in range(self.world_size)]
        if sum(counts) != expected_total:
            raise ValueError(f"gap or overlap: ranks take {sum(counts)} ids, {expected_total} expected")
        if self.mode == "contiguous":
            for r in range(self.world_size - 1):
                end = self._block_start(r) + counts[r]
                nxt = self._block_start(r + 1)
                if end != nxt:
                    kind = "gap" if end < nxt else "overlap"
                    raise ValueError(f"{kind} between rank {r} and rank {r + 1} at id {self.start + min(end, nxt)}")
        return self
