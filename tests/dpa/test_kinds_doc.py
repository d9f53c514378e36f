"""docs/KINDS.md's examples run as written (a user-registered kind, compiled where the kernel is built)."""

from __future__ import annotations

import pathlib
import re

from dpa import prng
from dpa.specs import _REGISTRY

KINDS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "KINDS.md"


def test_the_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", KINDS.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2
    namespace: dict = {}
    had = _REGISTRY.pop("triangular", None)
    try:
        source = blocks[0]
        if prng.compiled_kernel() is None:  # the example asserts the kernel runs it; the rest holds anyway
            source = source.replace("assert gen.compiled", "gen.compiled")
        exec(compile(source, str(KINDS), "exec"), namespace)
        check = blocks[1]
        if prng.compiled_kernel() is None:
            check = check.replace('("compiled", "python", "torch")', '("python", "torch")')
        exec(compile(check, str(KINDS), "exec"), namespace)
    finally:
        _REGISTRY.pop("triangular", None)
        if had is not None:
            _REGISTRY["triangular"] = had
