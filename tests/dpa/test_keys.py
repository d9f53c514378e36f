"""Stream keys, counter words, the id/epoch/seed domain and string keys."""

from __future__ import annotations

import pathlib

import pytest
import xxhash

from dpa import keys


@pytest.mark.parametrize(
    "check, value, exc, fragment",
    [
        (keys.check_sample_id, -1, ValueError, "sample_id must be in [0, 2**64); got -1"),
        (keys.check_sample_id, 2**64, ValueError, "sample_id must be in [0, 2**64); got 18446744073709551616"),
        (keys.check_sample_id, 1.0, TypeError, "sample_id must be an integer in [0, 2**64)"),
        (keys.check_sample_id, "3", TypeError, "sample_id must be an integer"),
        (keys.check_sample_id, True, TypeError, "bool"),
        (keys.check_epoch, -1, ValueError, "epoch must be in [0, 2**32); got -1"),
        (keys.check_epoch, 2**32, ValueError, "epoch must be in [0, 2**32); got 4294967296"),
        (keys.check_epoch, 0.5, TypeError, "epoch must be an integer"),
        (keys.check_seed, -1, ValueError, "seed must be in [0, 2**64); got -1"),
        (keys.check_seed, 2**64, ValueError, "seed must be in [0, 2**64)"),
        (keys.check_seed, None, TypeError, "seed must be an integer"),
    ],
)
def test_domain_errors_name_argument_value_and_range(check, value, exc, fragment) -> None:
    with pytest.raises(exc) as info:
        check(value)
    assert fragment in str(info.value)


@pytest.mark.parametrize("value", [0, 1, 2**32 - 1, 2**63, 2**64 - 1])
def test_domain_accepts_edges(value: int) -> None:
    assert keys.check_sample_id(value) == value
    assert keys.check_seed(value) == value


def test_epoch_edges() -> None:
    assert keys.check_epoch(0) == 0
    assert keys.check_epoch(2**32 - 1) == 2**32 - 1


def test_numpy_integers_are_accepted() -> None:
    import numpy as np

    assert keys.check_sample_id(np.uint64(2**64 - 1)) == 2**64 - 1
    assert keys.check_epoch(np.int32(3)) == 3


def test_stream_key_is_the_documented_hash() -> None:
    assert keys.stream_key(5, "rotation") == xxhash.xxh64_intdigest(b"dpa:param:rotation", 5)


def test_stream_keys_differ_by_seed_and_name() -> None:
    ks = {keys.stream_key(s, n) for s in range(50) for n in ("rotation", "scale", "hflip", "a", "b")}
    assert len(ks) == 250


def test_counter_word_layout() -> None:
    assert keys.counter_word(0, 0) == 0
    assert keys.counter_word(1, 2) == (1 << 32) | 2
    assert keys.counter_word(2**32 - 1, 2**32 - 1) == 2**64 - 1
    with pytest.raises(ValueError, match="epoch must be in"):
        keys.counter_word(2**32, 0)
    with pytest.raises(ValueError, match="draw_word must be in"):
        keys.counter_word(0, 2**32)


def test_sample_id_from_key() -> None:
    expected = xxhash.xxh64_intdigest(b"dpa:key:train/cat/001.jpg", 0)
    assert keys.sample_id_from_key("train/cat/001.jpg") == expected
    assert keys.sample_id_from_key(b"train/cat/001.jpg") == expected
    assert keys.sample_id_from_key(pathlib.PurePosixPath("train/cat/001.jpg")) == expected
    assert keys.sample_id_from_key("a") != keys.sample_id_from_key("b")
    assert 0 <= keys.sample_id_from_key("é") < 2**64
    with pytest.raises(TypeError, match="key must be a str, bytes or os.PathLike"):
        keys.sample_id_from_key(3)


def test_sample_id_from_key_bytes_paths_and_unicode() -> None:
    """SPEC section 1: bytes as they are, str as UTF-8 with no normalisation, PathLike through os.fspath."""
    import os
    import unicodedata

    nfc, nfd = unicodedata.normalize("NFC", "café.jpg"), unicodedata.normalize("NFD", "café.jpg")
    assert nfc != nfd
    assert keys.sample_id_from_key(nfc) == xxhash.xxh64_intdigest(b"dpa:key:" + nfc.encode("utf-8"), 0)
    assert keys.sample_id_from_key(nfd) == xxhash.xxh64_intdigest(b"dpa:key:" + nfd.encode("utf-8"), 0)
    assert keys.sample_id_from_key(nfc) != keys.sample_id_from_key(nfd)
    assert keys.sample_id_from_key(bytearray(b"x/y")) == keys.sample_id_from_key(b"x/y") == keys.sample_id_from_key("x/y")
    assert keys.sample_id_from_key(pathlib.Path("x/y")) == keys.sample_id_from_key("x/y")
    assert keys.sample_id_from_key(pathlib.PureWindowsPath("x/y")) == keys.sample_id_from_key("x\\y")
    raw = b"caf\xe9.jpg"  # Latin-1 bytes: not UTF-8
    assert keys.sample_id_from_key(raw) == xxhash.xxh64_intdigest(b"dpa:key:" + raw, 0)
    with pytest.raises(ValueError, match="cannot be encoded as UTF-8"):
        keys.sample_id_from_key(os.fsdecode(raw) if os.name != "nt" else "caf\udce9.jpg")
    if os.name != "nt":
        assert keys.sample_id_from_key(os.fsencode(os.fsdecode(raw))) == keys.sample_id_from_key(raw)
