"""Types of dpa's optional compiled kernel (src/dpa/_ckernel.c)."""

from typing import Any, Sequence

Buffer = Any  # an object with the buffer protocol (numpy arrays); collections.abc.Buffer from 3.12

BLOCK: int

class Program:
    """A config compiled for one (seed, epoch): hash rows and mapping ops (see dpa._cplan)."""

    def __init__(
        self, row_c: Sequence[int], row_k2: Sequence[int], names: tuple[str, ...], types: str, ops: Sequence[tuple]
    ) -> None: ...
    def fill(self, ids: Buffer, outs: tuple[Buffer, ...]) -> None: ...
    def one(self, sample_id: int) -> dict[str, Any]: ...

def xxh64_pair(a: Buffer, b: Buffer, seed: Buffer, out: Buffer) -> None: ...
def rows(names: tuple[str, ...], arrays: tuple[Buffer, ...], types: str) -> list[dict[str, Any]]: ...
