"""Where a config's parameters live: hash rows, output slots, gates, and groups of same-shape programs.

A :class:`Layout` is everything about ``(config, seed)`` that every backend
needs and that does not depend on the epoch or the sample ids. Parameters
whose programs have the same shape (the same instructions, constants
aside) sit in one :class:`Group` on consecutive hash rows, so the array
backends can run a group as one 2-D pass; the row order changes no value
(each parameter's words depend only on its own key and counter words).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dpa.keys import counter_word, stream_key
from dpa.program import SpecProgram
from dpa.prng import outer_row_constants

__all__ = ["Param", "Group", "Layout"]


@dataclass(frozen=True)
class Param:
    """One parameter of a config.

    Attributes:
        name: the parameter's name (its stream key hashes it).
        spec: its spec; ``program`` its recorded program.
        row0: its first hash row; it owns rows ``row0 .. row0 + n_words - 1``.
        n_words: its words per sample (value draws and gate).
        gate: ``(draw index, threshold)`` or None.
        identities: the outputs' values when the gate is closed.
        slots: the outputs' indices in the config's output order.
        names: the outputs' flat names (``crop_x``, ...), in that order.
        key: its stream key (depends on the seed).
    """

    name: str
    spec: Any
    program: SpecProgram
    row0: int
    n_words: int
    gate: tuple[int, int] | None
    identities: tuple
    slots: tuple[int, ...]
    names: tuple[str, ...]
    key: int


@dataclass(frozen=True)
class Group:
    """Parameters with one program shape, word count and gate draw, on consecutive rows.

    Parameter ``i`` of the group owns rows ``row0 + i * n_words ...``, so draw
    ``k`` of every member is the strided row set ``row0 + k // 2 :: n_words``.
    """

    params: tuple[Param, ...]
    row0: int
    n_words: int


class Layout:
    """A config's parameters, rows and outputs for one seed.

    Args:
        config: an :class:`~dpa.AugmentationConfig`.
        seed: a checked seed.

    Attributes:
        params: every parameter, in row order.
        groups: the same parameters, grouped by program shape.
        n_rows: hash rows per sample.
        names, dtypes: the outputs in config order.
        row_c: per row, ``rotl(key + P5 + 16, 27)`` (uint64, shape ``(n_rows, 1)``).
        row_word: per row, the word index ``j`` within its parameter.
    """

    def __init__(self, config: Any, seed: int) -> None:
        self.config, self.seed = config, seed
        self.names = config.output_names
        self.dtypes = tuple(o.dtype for o in config.outputs)
        slot_of = {name: i for i, name in enumerate(self.names)}
        slots_by_param: dict[str, list[int]] = {}
        for o in config.outputs:
            slots_by_param.setdefault(o.param, []).append(slot_of[o.name])
        by_shape: dict[tuple, list[tuple[str, Any]]] = {}
        for name, spec in config.items():
            key = (spec.recorded_program.shape(), spec.n_words, spec.gate[0] if spec.gate else None)
            by_shape.setdefault(key, []).append((name, spec))
        params, groups, row = [], [], 0
        for members in by_shape.values():
            n_words = members[0][1].n_words
            group = []
            for name, spec in members:
                group.append(
                    Param(name, spec, spec.recorded_program, row, n_words, spec.gate, spec.identity_values(),
                          tuple(slots_by_param[name]), tuple(self.names[j] for j in slots_by_param[name]),
                          stream_key(seed, name))
                )
                row += n_words
            params.extend(group)
            groups.append(Group(tuple(group), group[0].row0, n_words))
        self.params, self.groups, self.n_rows = tuple(params), tuple(groups), row
        keys = [p.key for p in params for _ in range(p.n_words)]
        self.row_word = tuple(j for p in params for j in range(p.n_words))
        self.row_c, _ = outer_row_constants([0] * len(keys), keys)

    def row_k2(self, epoch: int) -> np.ndarray:
        """Per row, ``round(counter word)`` for ``epoch`` (uint64, shape ``(n_rows, 1)``)."""
        _, k2 = outer_row_constants([counter_word(epoch, j) for j in self.row_word], [0] * self.n_rows)
        return k2
