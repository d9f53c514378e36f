"""Write the golden vectors in tests/vectors/ from the current implementation.

Run only when STREAM_VERSION has been bumped on purpose:

    python tools/make_vectors.py

tests/dpa/test_vectors.py compares the library against these files, so any
change that alters an output fails there until the version is bumped and the
vectors are remade. Ids are stored as decimal strings so that readers in
languages without 64-bit JSON integers get them exactly.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

import dpa
from dpa.prng import xxh64_pair

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors"

IDS = [0, 1, 2, 3, 41, 42, 1000, 2**31 - 1, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 3, 2**64 - 2, 2**64 - 1]
CASES = [(0, 0), (42, 3), (2**64 - 1, 2**32 - 1)]


def _plain(value):
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    return float(value)


def preset_vectors(name: str) -> dict:
    cfg = dpa.get_preset(name)
    cases = []
    for seed, epoch in CASES:
        batch = dpa.gen_augmentation_batch(IDS, cfg, seed=seed, epoch=epoch)
        cases.append(
            {
                "seed": str(seed),
                "epoch": epoch,
                "params": {k: [_plain(v) for v in arr] for k, arr in batch.items()},
            }
        )
    return {
        "stream_version": dpa.STREAM_VERSION,
        "preset": name,
        "config": cfg.to_dict(),
        "fingerprint": cfg.fingerprint(),
        "ids": [str(i) for i in IDS],
        "cases": cases,
    }


def kernel_vectors() -> dict:
    rows = []
    edge = [0, 1, 2**32 - 1, 2**63, 2**64 - 1, 0x0123456789ABCDEF]
    for a in edge:
        for b in edge[::2]:
            for seed in (0, 2**64 - 1, 0x9E3779B97F4A7C15):
                rows.append([str(a), str(b), str(seed), str(xxh64_pair(a, b, seed))])
    return {"description": "xxh64_pair(a, b, seed) = XXH64(le64(a) || le64(b), seed)", "rows": rows}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in dpa.preset_names():
        (OUT / f"preset_{name}.json").write_text(json.dumps(preset_vectors(name), indent=1) + "\n")
    (OUT / "xxh64_pair.json").write_text(json.dumps(kernel_vectors(), indent=1) + "\n")
    print(f"wrote vectors for stream version {dpa.STREAM_VERSION} to {OUT}")


if __name__ == "__main__":
    main()
