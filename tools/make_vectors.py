"""Write the golden vectors in tests/vectors/ from the current implementation.

Run only when STREAM_VERSION has been bumped on purpose, or to add vectors
for a new case (existing vectors must then come out unchanged: check with
``git diff tests/vectors``):

    python tools/make_vectors.py

Files:

* ``preset_<name>.json``: every output of each preset;
* ``kinds.json``: every spec kind, with gates at p in {0, tiny, 0.5, 1},
  weights (zero weights too), tails and awkward but valid bounds;
* ``noise_field.json``: :func:`dpa.apply.noise_field` (needs torch);
* ``xxh64_pair.json``: known answers of the kernel.

tests/dpa/test_vectors.py compares the library against these files, so any
change that alters an output fails there until the version is bumped and the
vectors are remade. Ids are stored as decimal strings so that readers in
languages without 64-bit JSON integers get them exactly.
"""

from __future__ import annotations

import json
import pathlib
import re

import numpy as np

import dpa
from dpa.prng import xxh64_pair

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "vectors"

IDS = [0, 1, 2, 3, 41, 42, 1000, 2**31 - 1, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 3, 2**64 - 2, 2**64 - 1]
# The kind vectors add consecutive ids, so that gates at p = 0.5 and weighted
# choices show every branch.
KIND_IDS = IDS + list(range(100, 132))
CASES = [(0, 0), (42, 3), (2**64 - 1, 2**32 - 1)]

# p = 2**-33 - 2**-86: T(p) = floor(p * 2**32 + 0.5) is 1 in binary64 (0 in exact arithmetic).
P_TINY = 2.0**-33 - 2.0**-86
_GATES = {"p0": 0.0, "tiny": P_TINY, "half": 0.5, "p1": 1.0}


def _gated(name: str, spec: dict, identity=None) -> dict:
    """``spec`` under every gate of _GATES, as ``{name_gate: spec}`` (identity where the kind needs one)."""
    out = {}
    for gate, p in _GATES.items():
        s = dict(spec, p=p)
        if identity is not None and p < 1.0:
            s["identity"] = identity
        out[f"{name}_{gate}"] = s
    return out


class _Once(dict):
    """A dict that refuses to overwrite a name (two cases must not share a parameter name)."""

    def __setitem__(self, key, value) -> None:
        if key in self:
            raise KeyError(f"case {key!r} is defined twice")
        super().__setitem__(key, value)

    def update(self, other) -> None:  # type: ignore[override]
        for key, value in other.items():
            self[key] = value


def _kinds_config() -> dict:
    """One parameter per case; a parameter's values depend only on its own name and spec."""
    c = _Once()
    # uniform
    c.update(_gated("uniform", {"kind": "uniform", "low": -15.0, "high": 15.0}, identity=0.0))
    c["uniform_negative"] = {"kind": "uniform", "low": -3.5, "high": -1.25}
    c["uniform_point"] = {"kind": "uniform", "low": 3.0, "high": 3.0}
    c["uniform_narrow"] = {"kind": "uniform", "low": 1.0, "high": 1.0000000000000002}  # high is an output too
    c["uniform_wide"] = {"kind": "uniform", "low": -1e300, "high": 1e300}
    c["uniform_small"] = {"kind": "uniform", "low": 0.0, "high": 1e-290}
    c["uniform_identity_outside"] = {"kind": "uniform", "low": 0.1, "high": 1.0, "p": 0.2, "identity": 0.0}
    # log_uniform (the far one leaves the C kernel's fast exp: |log| > 700)
    c.update(_gated("log_uniform", {"kind": "log_uniform", "low": 0.01, "high": 100.0}, identity=1.0))
    c["log_uniform_wide"] = {"kind": "log_uniform", "low": 1e-300, "high": 1e300}
    c["log_uniform_far"] = {"kind": "log_uniform", "low": 1e-305, "high": 1e305}
    c["log_uniform_point"] = {"kind": "log_uniform", "low": 2.0, "high": 2.0}
    c["log_uniform_below_one"] = {"kind": "log_uniform", "low": 0.25, "high": 0.5}
    # normal
    c.update(_gated("normal", {"kind": "normal", "mean": 1.0, "std": 2.0}, identity=0.0))
    c["normal_std0"] = {"kind": "normal", "mean": 5.0, "std": 0.0}
    c["normal_large"] = {"kind": "normal", "mean": -1e300, "std": 1e300}
    c["normal_small"] = {"kind": "normal", "mean": 0.0, "std": 1e-300}
    # truncated_normal: two-sided, one-sided (to 30 std), both tails, mirrored, narrow
    c.update(_gated("tnormal", {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": -1.0, "high": 2.5}, identity=0.0))
    c["tnormal_upper_tail"] = {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": 3.0, "high": 29.0}
    c["tnormal_lower_tail"] = {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": -29.0, "high": -3.0}
    c["tnormal_one_sided"] = {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": 0.0, "high": 30.0}
    c["tnormal_full"] = {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": -30.0, "high": 30.0}
    c["tnormal_far_side"] = {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": 5.0, "high": 6.0}
    c["tnormal_mirrored"] = {"kind": "truncated_normal", "mean": 10.0, "std": 0.5, "low": 9.0, "high": 10.2}
    c["tnormal_narrow"] = {"kind": "truncated_normal", "mean": 0.0, "std": 1.0, "low": 0.5, "high": 0.5000001}
    c["tnormal_scaled"] = {"kind": "truncated_normal", "mean": -2e5, "std": 3e4, "low": -2.5e5, "high": -1e5}
    # integer: small, 2**32 values, negative bounds, the +-2**62 limits, a point
    c.update(_gated("integer", {"kind": "integer", "low": -3, "high": 7}, identity=-1))
    c["integer_wide"] = {"kind": "integer", "low": -5, "high": 2**32 - 6}
    c["integer_low_limit"] = {"kind": "integer", "low": -(2**62), "high": -(2**62) + 2**32 - 1}
    c["integer_high_limit"] = {"kind": "integer", "low": 2**62 - 2**32 + 1, "high": 2**62}
    c["integer_negative"] = {"kind": "integer", "low": -1000, "high": -990}
    c["integer_point"] = {"kind": "integer", "low": 7, "high": 7}
    c["integer_identity_extreme"] = {"kind": "integer", "low": 0, "high": 1, "p": 0.5, "identity": 2**63 - 1}
    # choice: ints, floats, mixed, weights (zero ones first and in the middle), equal weights
    c.update(_gated("choice", {"kind": "choice", "values": [10, 20, 30], "weights": [0.2, 0.5, 0.3]}, identity=0))
    c["choice_equal"] = {"kind": "choice", "values": [1, 2, 3]}
    c["choice_equal_weights"] = {"kind": "choice", "values": [1, 2, 3], "weights": [2.0, 2.0, 2.0]}
    c["choice_floats"] = {"kind": "choice", "values": [0.5, 1.5], "p": 0.4, "identity": 0.0}
    c["choice_mixed"] = {"kind": "choice", "values": [1, 2.5, -3]}
    c["choice_zero_first"] = {"kind": "choice", "values": [10, 20, 30], "weights": [0.0, 1.0, 1.0]}
    c["choice_zero_middle"] = {"kind": "choice", "values": [10, 20, 30], "weights": [1.0, 0.0, 1.0]}
    c["choice_zeros_inside"] = {"kind": "choice", "values": [1, 2, 3, 4, 5], "weights": [0.0, 3.0, 0.0, 0.0, 1.0]}
    c["choice_zero_last"] = {"kind": "choice", "values": [1, 2], "weights": [1.0, 0.0]}  # threshold 2**64: never reached
    c["choice_zeros_end"] = {"kind": "choice", "values": [0.5, 1.5, 2.5, 3.5], "weights": [1.0, 2.0, 0.0, 0.0]}
    c["choice_tiny_weight"] = {"kind": "choice", "values": [1, 2], "weights": [1e-300, 1.0]}
    c["choice_int_weights"] = {"kind": "choice", "values": [-1, 1], "weights": [1, 3]}
    c["choice_single"] = {"kind": "choice", "values": [42]}
    c["choice_int64_limits"] = {"kind": "choice", "values": [-(2**63), 2**63 - 1]}
    # bernoulli (p is its value's probability, not a gate)
    for gate, p in {**_GATES, "p1e-9": 1e-9, "p0.3": 0.3}.items():
        c[f"bernoulli_{gate}"] = {"kind": "bernoulli", "p": p}
    # boxes
    c.update(_gated("crop", {"kind": "resized_crop"}))
    c["crop_full"] = {"kind": "resized_crop", "scale": [1.0, 1.0], "ratio": [1.0, 1.0]}
    c["crop_point"] = {"kind": "resized_crop", "scale": [0.5, 0.5], "ratio": [2.0, 2.0]}
    c["crop_wide_ratio"] = {"kind": "resized_crop", "scale": [0.08, 1.0], "ratio": [1e-5, 1e5]}
    c["crop_far_ratio"] = {"kind": "resized_crop", "scale": [0.5, 1.0], "ratio": [1e-305, 1e305]}
    c["crop_small_scale"] = {"kind": "resized_crop", "scale": [1e-100, 1.0], "ratio": [0.75, 1.3333333333333333]}
    c.update(_gated("erasing", {"kind": "erasing"}))
    c["erasing_preset"] = {"kind": "erasing", "scale": [0.02, 0.2], "ratio": [0.3, 3.3], "p": 0.25}
    # permutations of every size, table (n <= 8) and decoding (n > 8)
    for n in range(2, 13):
        c[f"perm{n}"] = {"kind": "permutation", "n": n}
    c.update({f"perm5_{g}": s for g, s in _gated("", {"kind": "permutation", "n": 5}).items()})
    c.update({f"perm12_{g}": s for g, s in _gated("", {"kind": "permutation", "n": 12}).items()})
    return c


def _dump(data: dict) -> str:
    """JSON with each list of numbers on one line (one line per output, diff-friendly)."""
    text = json.dumps(data, indent=1)
    return re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: "[" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "]", text) + "\n"


def _plain(value):
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    return float(value)


def _config_cases(cfg: dpa.AugmentationConfig, ids: list[int]) -> list[dict]:
    cases = []
    for seed, epoch in CASES:
        batch = dpa.gen_augmentation_batch(ids, cfg, seed=seed, epoch=epoch)
        cases.append(
            {
                "seed": str(seed),
                "epoch": epoch,
                "params": {k: [_plain(v) for v in arr] for k, arr in batch.items()},
            }
        )
    return cases


def preset_vectors(name: str) -> dict:
    cfg = dpa.get_preset(name)
    return {
        "stream_version": dpa.STREAM_VERSION,
        "preset": name,
        "config": cfg.to_dict(),
        "fingerprint": cfg.fingerprint(),
        "ids": [str(i) for i in IDS],
        "cases": _config_cases(cfg, IDS),
    }


def kind_vectors() -> dict:
    cfg = dpa.AugmentationConfig.from_dict(_kinds_config())
    return {
        "stream_version": dpa.STREAM_VERSION,
        "description": "every spec kind, one parameter per case (a parameter's values depend on its own name and spec only)",
        "config": cfg.to_dict(),
        "fingerprint": cfg.fingerprint(),
        "ids": [str(i) for i in KIND_IDS],
        "cases": _config_cases(cfg, KIND_IDS),
    }


# Noise fields: (ids, shape per sample). An odd element count ends on a high half.
NOISE_FIELDS = [(IDS, (1, 1, 7)), ([0, 2**63, 2**64 - 1], (3, 4, 5))]


def noise_vectors() -> dict:
    from dpa.apply import noise_field

    fields = []
    for ids, shape in NOISE_FIELDS:
        for seed, epoch in CASES:
            z = noise_field((len(ids), *shape), ids, seed=seed, epoch=epoch)
            fields.append(
                {
                    "ids": [str(i) for i in ids],
                    "shape": list(shape),
                    "seed": str(seed),
                    "epoch": epoch,
                    "values": [[float(v) for v in row] for row in z.reshape(len(ids), -1).tolist()],
                }
            )
    return {
        "stream_version": dpa.STREAM_VERSION,
        "description": "dpa.apply.noise_field(shape=(len(ids), *shape), ids, seed, epoch), one row per id, row-major",
        "fields": fields,
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
    (OUT / "kinds.json").write_text(_dump(kind_vectors()))
    (OUT / "noise_field.json").write_text(_dump(noise_vectors()))
    (OUT / "xxh64_pair.json").write_text(json.dumps(kernel_vectors(), indent=1) + "\n")
    print(f"wrote vectors for stream version {dpa.STREAM_VERSION} to {OUT}")


if __name__ == "__main__":
    main()
