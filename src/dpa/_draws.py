"""Views of a parameter's hash words as 32-bit draws, one class per backend.

A parameter owns ``n_words`` 64-bit words per sample (its hash digests for
draw-words 0, 1, ...). Draw ``2j`` is the high half of word ``j`` and draw
``2j + 1`` its low half (docs/SPEC.md, "Draws"). Specs read their draws
through these classes and never see the backend's integer representation.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

from dpa._ops import M32, SIGN64

TWO_M32 = 2.0**-32

_LITTLE = sys.byteorder == "little"


def scalar_draw(words: Sequence[int], i: int) -> int:
    w = words[i >> 1]
    return w >> 32 if i % 2 == 0 else w & M32


def mulhi32(word: int, n: int) -> int:
    """floor(word * n / 2**64) for 1 <= n <= 2**32, as the vector paths compute it."""
    return (((word >> 32) * n) + (((word & M32) * n) >> 32)) >> 32


class NumpyDraws:
    """Draws of one parameter over a block of samples: ``words`` is uint64 ``(n_words, m)``."""

    def __init__(self, words: np.ndarray) -> None:
        self.words = words
        if _LITTLE:
            halves = words.view(np.uint32)
            self._hi = halves[:, 1::2]
            self._lo = halves[:, 0::2]
        else:  # pragma: no cover - exercised only on big-endian machines
            self._hi = (words >> np.uint64(32)).astype(np.uint32)
            self._lo = (words & np.uint64(M32)).astype(np.uint32)

    def draw(self, i: int) -> np.ndarray:
        return self._hi[i >> 1] if i % 2 == 0 else self._lo[i >> 1]

    def affine(self, i: int, scale: float, offset: float) -> np.ndarray:
        """``offset + draw_i * scale`` in float64 (the product rounded, then the sum)."""
        out = np.multiply(self.draw(i), scale, dtype=np.float64)
        out += offset
        return out

    def unit(self, i: int) -> np.ndarray:
        return np.multiply(self.draw(i), TWO_M32, dtype=np.float64)

    def below(self, i: int, threshold: int) -> np.ndarray:
        return self.draw(i) < threshold

    def word(self, j: int) -> np.ndarray:
        return self.words[j]

    def mulhi(self, j: int, n: int) -> np.ndarray:
        w = self.words[j]
        n64 = np.uint64(n)
        hi = (w >> np.uint64(32)) * n64
        lo = (w & np.uint64(M32)) * n64
        lo >>= np.uint64(32)
        hi += lo
        hi >>= np.uint64(32)
        return hi.astype(np.int64)

    def count_ge(self, j: int, thresholds: Sequence[int]) -> np.ndarray:
        w = self.words[j]
        count = np.zeros(w.shape, dtype=np.int64)
        for t in thresholds:
            count += w >= np.uint64(t)
        return count


class TorchDraws:
    """Draws over int64 tensors holding the uint64 words, ``(n_words, m)``, any device."""

    def __init__(self, words: Any) -> None:
        import torch

        from dpa import _prng_torch

        self.torch = torch
        self._srl = _prng_torch.srl
        self._signed = _prng_torch.to_signed
        self.words = words

    def draw(self, i: int) -> Any:
        w = self.words[i >> 1]
        return self._srl(w, 32) if i % 2 == 0 else w & M32

    def affine(self, i: int, scale: float, offset: float) -> Any:
        return self.draw(i).to(self.torch.float64) * scale + offset

    def unit(self, i: int) -> Any:
        return self.draw(i).to(self.torch.float64) * TWO_M32

    def below(self, i: int, threshold: int) -> Any:
        return self.draw(i) < threshold

    def word(self, j: int) -> Any:
        return self.words[j]

    def mulhi(self, j: int, n: int) -> Any:
        # Products of 32-bit halves wrap in int64 exactly as in uint64; only
        # the right shifts need to be logical.
        w = self.words[j]
        hi = self._srl(w, 32) * n
        lo = (w & M32) * n
        return self._srl(hi + self._srl(lo, 32), 32)

    def count_ge(self, j: int, thresholds: Sequence[int]) -> Any:
        # Unsigned order on int64 bits: flip the sign bit, then compare signed.
        w = self.words[j] ^ self._signed(SIGN64)
        count = self.torch.zeros(w.shape, dtype=self.torch.int64, device=w.device)
        for t in thresholds:
            count += w >= self._signed(t ^ SIGN64)
        return count
