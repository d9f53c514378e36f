"""docs/SPEC.md suffices alone: a reimplementation written from its text reproduces the golden vectors.

Everything below is taken from SPEC.md, not from dpa: the constants and
coefficients are parsed out of the document's hexadecimal literals, the
presets out of its JSON block, and each formula is written as the document
states it (the order of operations included). Only ``xxhash`` (the reference
XXH64) is borrowed. The reimplementation must give every value of
tests/vectors/ bit for bit; a few properties the document calls out (the
ndtr recurrence's order, T(p) in binary64, the fingerprint) are checked
against the library directly.
"""

from __future__ import annotations

import json
import math
import pathlib
import re
from fractions import Fraction

import pytest
import xxhash

import dpa
from dpa import fmath
from dpa.specs import gate_threshold

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPEC = (ROOT / "docs" / "SPEC.md").read_text()
VECTORS = ROOT / "tests" / "vectors"
_HEX = re.compile(r"-?0x[0-9a-f]+(?:\.[0-9a-f]*)?p[+-]?\d+")


def spec_constants() -> dict[str, list[float]]:
    """Every ``NAME = <hex> ...`` list in SPEC.md's code blocks, continuation lines included."""
    out: dict[str, list[float]] = {}
    current = None
    for line in SPEC.splitlines():
        m = re.match(r"^\s+([A-Z][A-Z0-9_]*)\s*=\s*(.*)$", line)
        if m:
            current = m.group(1)
            out[current] = [float.fromhex(h) for h in _HEX.findall(m.group(2))]
        elif current and line.startswith("      ") and _HEX.match(line.strip()):
            out[current] += [float.fromhex(h) for h in _HEX.findall(line)]
        elif not line.strip() or not line.startswith(" "):
            current = None
    return out


K = spec_constants()
LN2_HI, LN2_LO, INV_LN2 = K["LN2_HI"][0], K["LN2_LO"][0], K["INV_LN2"][0]
SQRT_HALF, INV_SQRT_2PI, NDTRI_MAX = K["SQRT_HALF"][0], K["INV_SQRT_2PI"][0], K["NDTRI_MAX"][0]


def test_the_document_gives_every_constant() -> None:
    assert len(K["EXP_C"]) == 14 and len(K["LOG_C"]) == 11
    assert all(len(K[c]) == 8 for c in "ABCDEF")
    # and they are the library's (its C kernel holds the same hex literals)
    assert tuple(K["EXP_C"]) == fmath._EXP_COEF and tuple(K["LOG_C"]) == fmath._LOG_COEF
    for c in "ABCDEF":
        assert tuple(K[c]) == getattr(fmath, f"_{c}")
    assert (LN2_HI, LN2_LO, INV_LN2, SQRT_HALF, INV_SQRT_2PI) == (
        fmath.LN2_HI, fmath.LN2_LO, fmath.INV_LN2, fmath.SQRT_HALF, fmath._INV_SQRT_2PI)


# ------------------------------------------------------------ section 4, from the text


def horner(c: list[float], x: float) -> float:
    p = c[0]
    for k in c[1:]:
        p = p * x + k
    return p


def exp(x: float) -> float:
    assert -708.0 <= x <= 709.0, "SPEC: exp is used on [-708, 709] only"
    k = math.floor(x * INV_LN2 + 0.5)
    r = (x - k * LN2_HI) - k * LN2_LO
    return math.ldexp(horner(K["EXP_C"], r), k)


def log(x: float) -> float:
    assert x >= 2.0**-1022, "SPEC: log is used on normal positive doubles only"
    m, e = math.frexp(x)
    if m < SQRT_HALF:
        m, e = m * 2, e - 1
    s = (m - 1) / (m + 1)
    z = s * s
    e = float(e)
    return e * LN2_HI + ((2 * s + (s * z) * horner(K["LOG_C"], z)) + e * LN2_LO)


def ndtri(p: float) -> float:
    q = p - 0.5
    if abs(q) <= 0.425:
        t = 0.180625 - q * q
        return (q * horner(K["A"], t)) / horner(K["B"], t)
    r = math.sqrt(-log(min(p, 1 - p)))
    if r <= 5:
        tail = horner(K["C"], r - 1.6) / horner(K["D"], r - 1.6)
    else:
        tail = horner(K["E"], r - 5) / horner(K["F"], r - 5)
    return -tail if q < 0 else tail


def ndtr(x: float, grouped: bool = False) -> float:
    phi = INV_SQRT_2PI * exp((-0.5 * x) * x)
    if abs(x) < 1:
        term = total = x
        n = 1
        while True:
            term = term * (x * x / (2 * n + 1)) if grouped else ((term * x) * x) / (2 * n + 1)
            if total + term == total:
                break
            total, n = total + term, n + 1
        return 0.5 + phi * total
    a = abs(x)
    f = a
    for k in range(500, 0, -1):
        f = a + k / f
    tail = phi / f
    return 1 - tail if x > 0 else tail


def T(p: float) -> int:
    return math.floor(p * 2.0**32 + 0.5)


# ------------------------------------------------------------ sections 3 and 5, from the text

M64 = (1 << 64) - 1


def key(seed: int, name: str) -> int:
    return xxhash.xxh64_intdigest(b"dpa:param:" + name.encode("utf-8"), seed)


def mulhi(w: int, n: int) -> int:
    return (((w >> 32) * n) + (((w & 0xFFFFFFFF) * n) >> 32)) >> 32


DRAWS = {"uniform": 1, "log_uniform": 1, "normal": 1, "truncated_normal": 1, "integer": 2, "choice": 2,
         "bernoulli": 1, "resized_crop": 4, "erasing": 4, "permutation": 2}
DEFAULTS = {"resized_crop": {"scale": [0.08, 1.0], "ratio": [0.75, 1.3333333333333333]},
            "erasing": {"scale": [0.02, 0.33], "ratio": [0.3, 3.3]}, "permutation": {"n": 4}}


def values(kind: str, s: dict, d: list[int], w0: int) -> list:
    u = lambda i: d[i] * 2.0**-32 + 2.0**-33  # noqa: E731
    if kind == "uniform":
        return [s["low"] + d[0] * ((s["high"] - s["low"]) * 2.0**-32)]
    if kind == "log_uniform":
        a = log(s["low"])
        b = (log(s["high"]) - a) * 2.0**-32
        return [max(min(exp(a + d[0] * b), s["high"]), s["low"])]
    if kind == "normal":
        return [s["mean"] + s["std"] * ndtri(u(0))]
    if kind == "truncated_normal":
        a, b = (s["low"] - s["mean"]) / s["std"], (s["high"] - s["mean"]) / s["std"]
        sign = 1.0
        if a + b > 0:
            a, b, sign = -b, -a, -1.0
        fa = ndtr(a)
        span = ndtr(b) - fa
        z = ndtri(fa + u(0) * span) * sign
        return [max(min(s["mean"] + s["std"] * z, s["high"]), s["low"])]
    if kind == "integer":
        return [s["low"] + mulhi(w0, s["high"] - s["low"] + 1)]
    if kind == "choice":
        vals, k = s["values"], len(s["values"])
        ws = [Fraction(x) for x in (s.get("weights") or [1] * k)]
        total = sum(ws)
        ts = [math.floor(2**64 * sum(ws[:i]) / total) for i in range(1, k)]
        v = vals[sum(1 for t in ts if w0 >= t)]
        return [v if all(isinstance(x, int) for x in vals) else float(v)]
    if kind == "bernoulli":
        return [d[0] < T(s["p"])]
    if kind in ("resized_crop", "erasing"):
        (s0, s1), (r0, r1) = s["scale"], s["ratio"]
        sc = s0 + d[0] * ((s1 - s0) * 2.0**-32)
        a = log(r0)
        r = exp(a + d[1] * ((log(r1) - a) * 2.0**-32))
        r = min(max(r, sc), 1 / sc)
        w = min(math.sqrt(sc * r), 1.0)
        h = min(sc / w, 1.0)
        return [(d[2] * 2.0**-32) * (1 - w), (d[3] * 2.0**-32) * (1 - h), w, h]
    if kind == "permutation":
        n = s["n"]
        k = mulhi(w0, math.factorial(n))
        c = [(k // math.factorial(n - 1 - i)) % (n - i) for i in range(n)]
        for i in range(n - 2, -1, -1):
            for j in range(i + 1, n):
                c[j] += 1 if c[j] >= c[i] else 0
        return c
    raise AssertionError(kind)


def suffixes(kind: str, s: dict) -> list[str]:
    if kind in ("resized_crop", "erasing"):
        return ["_x", "_y", "_w", "_h"]
    if kind == "permutation":
        return [f"_{i}" for i in range(s["n"])]
    return [""]


def identity(kind: str, s: dict) -> list:
    fixed = {"resized_crop": [0.0, 0.0, 1.0, 1.0], "erasing": [0.0, 0.0, 0.0, 0.0]}
    if kind in fixed:
        return fixed[kind]
    if kind == "permutation":
        return list(range(s["n"]))
    return [s["identity"]]


def reference(name: str, spec: dict, seed: int, epoch: int, sid: int) -> dict:
    kind = spec["kind"]
    s = {**DEFAULTS.get(kind, {}), "p": 1.0, **spec}
    D = DRAWS[kind]
    gated = s["p"] < 1 and kind != "bernoulli"
    n_words = -(-(D + (1 if gated else 0)) // 2)
    words = [xxhash.xxh64_intdigest(sid.to_bytes(8, "little") + ((epoch << 32) | j).to_bytes(8, "little"), key(seed, name))
             for j in range(n_words)]
    d = [x for w in words for x in (w >> 32, w & 0xFFFFFFFF)]
    out = values(kind, s, d, words[0])
    if gated and not d[D] < T(s["p"]):
        out = identity(kind, s)
    return {name + suf: v for suf, v in zip(suffixes(kind, s), out)}


def spec_presets() -> dict:
    block = re.search(r"```json\n(.*?)\n```", SPEC, re.S)
    assert block, "SPEC.md holds the presets as a JSON block"
    return json.loads(block.group(1))


def test_the_document_gives_every_preset_exactly() -> None:
    presets = spec_presets()
    assert list(presets) == dpa.preset_names()
    for name, params in presets.items():
        assert params == dpa.get_preset(name).to_dict()


def _vector_files() -> list[tuple[str, dict]]:
    presets = spec_presets()
    out = []
    for name in dpa.preset_names():
        data = json.loads((VECTORS / f"preset_{name}.json").read_text())
        out.append((f"preset {name}", {**data, "config": presets[name]}))
    out.append(("kinds", json.loads((VECTORS / "kinds.json").read_text())))
    return out


@pytest.mark.parametrize("label, data", _vector_files(), ids=[label for label, _ in _vector_files()])
def test_a_reimplementation_from_the_document_reproduces_the_vectors(label: str, data: dict) -> None:
    ids = [int(i) for i in data["ids"]]
    for case in data["cases"]:
        seed, epoch = int(case["seed"]), case["epoch"]
        for k, sid in enumerate(ids):
            got: dict = {}
            for name, spec in data["config"].items():
                got.update(reference(name, spec, seed, epoch, sid))
            want = {out: v[k] for out, v in case["params"].items()}
            assert list(got) == list(want)
            for out in want:
                assert got[out] == want[out] and type(got[out]) is type(want[out]), f"{label} {out} id={sid} seed={seed}"


def test_noise_field_from_the_document() -> None:
    data = json.loads((VECTORS / "noise_field.json").read_text())
    for f in data["fields"]:
        seed, epoch = int(f["seed"]), f["epoch"]
        per = math.prod(f["shape"])
        for sid, row in zip((int(i) for i in f["ids"]), f["values"]):
            words = [xxhash.xxh64_intdigest(sid.to_bytes(8, "little") + ((epoch << 32) | j).to_bytes(8, "little"),
                                            key(seed, "noise_field")) for j in range((per + 1) // 2)]
            d = [x for w in words for x in (w >> 32, w & 0xFFFFFFFF)][:per]
            assert [ndtri(x * 2.0**-32 + 2.0**-33) for x in d] == row


def test_ndtr_recurrence_order_matters_and_the_documented_one_is_the_librarys() -> None:
    xs = [i / 4096 - 1 for i in range(1, 8192)] + [-30.0, -29.5, -5.0, -1.0, 1.0, 7.5, 30.0]
    assert all(ndtr(x) == fmath.ndtr(x) for x in xs)
    differ = sum(ndtr(x, grouped=True) != fmath.ndtr(x) for x in xs)
    assert differ > 0  # term * (x*x / (2n+1)) is another function: the document must say which


def test_gate_threshold_is_binary64() -> None:
    p = 2.0**-33 - 2.0**-86
    assert T(p) == gate_threshold(p) == 1
    assert math.floor(Fraction(p) * 2**32 + Fraction(1, 2)) == 0  # exact arithmetic would say 0
    for p in (0.0, 1.0, 0.5, 0.1, 1e-9, 1 - 2.0**-33, 0.3):
        assert T(p) == gate_threshold(p)


def test_ndtri_max_as_documented() -> None:
    assert NDTRI_MAX == -ndtri(2.0**-33) == ndtri(1 - 2.0**-33)


def test_fingerprint_as_documented() -> None:
    for name in dpa.preset_names():
        cfg = dpa.get_preset(name)
        text = json.dumps({"stream_version": dpa.STREAM_VERSION, "params": spec_presets()[name]},
                          sort_keys=True, separators=(",", ":"))
        assert cfg.fingerprint() == "%016x" % xxhash.xxh64_intdigest(text.encode("utf-8"), 0)


def test_sample_id_from_key_as_documented() -> None:
    for key_ in ("train/cat/0001.jpg", "café", "cafe\u0301"):
        assert dpa.sample_id_from_key(key_) == xxhash.xxh64_intdigest(b"dpa:key:" + key_.encode("utf-8"), 0)
