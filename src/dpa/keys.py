"""Stream keys, counter words and the valid domain of seeds, epochs and ids.

Everything here is specified in docs/SPEC.md:

* a parameter's *stream key* is ``XXH64(b"dpa:param:" + utf8(name), seed)``,
  so a parameter's values depend on its own name and nothing else in the
  config, and keys come from hashing, never from adding numbers to a seed;
* the *counter word* of draw-word ``j`` in ``epoch`` is ``(epoch << 32) | j``;
* a string key (a file path) maps to a sample id as
  ``XXH64(b"dpa:key:" + utf8(key), 0)``.

Seeds, epochs and sample ids outside their domain raise ``ValueError``
(``TypeError`` for the wrong type): nothing wraps around or is clamped.
"""

from __future__ import annotations

from typing import Any

from dpa import validate
from dpa.prng import MASK64, xxh64_bytes

__all__ = [
    "MAX_SAMPLE_ID",
    "MAX_EPOCH",
    "MAX_SEED",
    "check_sample_id",
    "check_epoch",
    "check_seed",
    "stream_key",
    "counter_word",
    "sample_id_from_key",
]

MAX_SAMPLE_ID = MASK64
MAX_SEED = MASK64
MAX_EPOCH = (1 << 32) - 1
MAX_DRAW_WORDS = 1 << 32

_PARAM_PREFIX = b"dpa:param:"
_KEY_PREFIX = b"dpa:key:"


def check_sample_id(sample_id: Any, name: str = "sample_id") -> int:
    """Return ``sample_id`` as an int, or raise if it is not an integer in ``[0, 2**64)``.

    Integers are Python ints, numpy integers and 0-d integer arrays or
    tensors; floats (even ``3.0``) and bools raise ``TypeError``
    (:mod:`dpa.validate`).

    >>> check_sample_id(2**64 - 1) == 2**64 - 1
    True
    >>> check_sample_id(-1)
    Traceback (most recent call last):
    ...
    ValueError: sample_id must be in [0, 2**64); got -1
    """
    return validate.sample_id(sample_id, name)


def check_epoch(epoch: Any, name: str = "epoch") -> int:
    """Return ``epoch`` as an int, or raise if it is not an integer in ``[0, 2**32)``."""
    return validate.epoch(epoch, name)


def check_seed(seed: Any, name: str = "seed") -> int:
    """Return ``seed`` as an int, or raise if it is not an integer in ``[0, 2**64)``."""
    return validate.seed(seed, name)


def stream_key(seed: int, name: str) -> int:
    """The 64-bit stream key of parameter ``name`` under ``seed``.

    >>> stream_key(0, "rotation") != stream_key(1, "rotation") != stream_key(0, "scale")
    True
    """
    return xxh64_bytes(_PARAM_PREFIX + name.encode("utf-8"), check_seed(seed))


def counter_word(epoch: int, draw_word: int) -> int:
    """The counter word ``(epoch << 32) | draw_word`` hashed beside the sample id."""
    if not 0 <= draw_word < MAX_DRAW_WORDS:
        raise ValueError(f"draw_word must be in [0, 2**32); got {draw_word}")
    return (check_epoch(epoch) << 32) | draw_word


def sample_id_from_key(key: str | bytes | Any) -> int:
    """Map a key (a file path, a record name) to a sample id in ``[0, 2**64)``.

    The id is ``XXH64(b"dpa:key:" + data, 0)``, where ``data`` is:

    * for ``bytes`` / ``bytearray``: the bytes themselves;
    * for ``str``: its UTF-8 encoding, code point by code point, with no
      Unicode normalisation: ``"café"`` written with U+00E9 (NFC) and with
      ``e`` + U+0301 (NFD) are different keys with different ids (normalise
      with :func:`unicodedata.normalize` first if your file names may come
      in either form, as macOS and Linux file systems differ);
    * for an ``os.PathLike``: ``os.fspath(key)``, then as above, so
      ``Path("a/b.jpg")`` and ``"a/b.jpg"`` agree; separators and case are
      kept as the path spells them (``PureWindowsPath("a/b")`` is ``"a\\b"``).

    It depends on the key alone, so a sample keeps its parameters when files
    are re-ordered, added or removed. Different keys collide with probability
    about ``n**2 / 2**65`` for ``n`` keys (negligible below a few hundred
    million keys).

    Raises:
        TypeError: a key that is not str, bytes, bytearray or PathLike.
        ValueError: a str that UTF-8 cannot encode (a lone surrogate, as
            ``os.fsdecode`` makes from undecodable file names: pass
            ``os.fsencode(path)``, the file name's bytes, instead).

    >>> sample_id_from_key("train/cat/001.jpg") == sample_id_from_key(b"train/cat/001.jpg")
    True
    >>> sample_id_from_key("caf\u00e9") == sample_id_from_key("cafe\u0301")
    False
    """
    import os

    if isinstance(key, os.PathLike):
        key = os.fspath(key)
    if isinstance(key, str):
        try:
            data = key.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(
                f"key {key!r} cannot be encoded as UTF-8 ({exc.reason} at index {exc.start}); "
                "pass the file name's bytes instead, e.g. os.fsencode(path)"
            ) from None
    elif isinstance(key, (bytes, bytearray)):
        data = bytes(key)
    else:
        raise TypeError(f"key must be a str, bytes or os.PathLike; got {type(key).__name__}")
    return xxh64_bytes(_KEY_PREFIX + data, 0)
