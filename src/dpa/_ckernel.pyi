"""Types of dpa's optional compiled kernel (src/dpa/_ckernel.c, src/dpa/_interp.h)."""

from typing import Any

Buffer = Any  # an object with the buffer protocol (numpy arrays); collections.abc.Buffer from 3.12

BLOCK: int  # ids hashed at once
SUB: int  # ids per interpreter pass
OPCODES: tuple[str, ...]  # the opcodes' names, in the order of their numbers (dpa._cplan.OPCODES)

class Kernel:
    """A config's spec programs, lowered by dpa._cplan and checked: epoch-independent."""

    def __init__(self, code: Buffer, pool: Buffer, nregs: int, nrows: int, names: tuple[str, ...], types: str) -> None: ...
    def bind(self, row_c: Buffer, row_k2: Buffer) -> Program: ...

class Program:
    """A Kernel bound to one (seed, epoch)'s per-row hash constants."""

    def fill(self, ids: Buffer, outs: tuple[Buffer, ...]) -> None: ...
    def one(self, sample_id: int) -> dict[str, Any]: ...

def xxh64_pair(a: Buffer, b: Buffer, seed: Buffer, out: Buffer) -> None: ...
def rows(names: tuple[str, ...], arrays: tuple[Buffer, ...], types: str) -> list[dict[str, Any]]: ...
def noise(ids: Buffer, key: int, counter_base: int, per: int, out: Buffer) -> None: ...
