"""Write dpa's raw 64-bit words to stdout, for `dieharder -g 200` (raw stdin input).

    python tools/dieharder_stream.py ids    | dieharder -g 200 -a
    python tools/dieharder_stream.py epochs | dieharder -g 200 -a
    python tools/dieharder_stream.py mixed  | dieharder -g 200 -a

Streams (all with seed 0, little-endian uint64 words, until the reader stops):

* ``ids``: consecutive sample ids 0, 1, 2, ... of one parameter (``rotation``'s
  draw-word 0 in epoch 0).
* ``epochs``: one sample id over consecutive epochs 0, 1, ..., 2**32 - 1 (draw-word 0);
  when the epochs run out it moves to the next id.
* ``mixed``: the moderate preset's parameters interleaved, over sample ids
  taken rank by rank as 8 strided ranks do (id = step * 8 + rank), i.e.
  parameter-major within a sample, then rank, then step.
"""

from __future__ import annotations

import sys

import numpy as np

import dpa
from dpa.keys import stream_key
from dpa.prng import xxh64_pair

BLOCK = 1 << 20


def _ids() -> "np.ndarray":
    key = stream_key(0, "rotation")
    start = 0
    while True:
        ids = np.arange(start, start + BLOCK, dtype=np.uint64)
        yield xxh64_pair(ids, 0, key)
        start += BLOCK


def _epochs() -> "np.ndarray":
    key = stream_key(0, "rotation")
    sample = 42
    while True:
        for lo in range(0, 1 << 32, BLOCK):
            counters = np.arange(lo, lo + BLOCK, dtype=np.uint64) << np.uint64(32)  # epoch e, draw-word 0
            yield xxh64_pair(np.uint64(sample), counters, key)
        sample += 1


def _mixed() -> "np.ndarray":
    keys = np.array([stream_key(0, name) for name in dpa.get_preset("moderate")], dtype=np.uint64)
    ranks, step = 8, 0
    per = BLOCK // (len(keys) * ranks)
    while True:
        steps = np.arange(step, step + per, dtype=np.uint64)
        ids = (steps[:, None] * np.uint64(ranks) + np.arange(ranks, dtype=np.uint64)[None, :]).reshape(-1)
        words = xxh64_pair(ids[:, None], 0, keys[None, :])  # (samples, params), parameter-major per sample
        yield words.reshape(-1)
        step += per


def main() -> None:
    modes = {"ids": _ids, "epochs": _epochs, "mixed": _mixed}
    if len(sys.argv) != 2 or sys.argv[1] not in modes:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(modes)}}}")
    out = sys.stdout.buffer
    try:
        for words in modes[sys.argv[1]]():
            out.write(words.astype("<u8", copy=False).tobytes())
    except BrokenPipeError:
        pass


if __name__ == "__main__":
    main()
