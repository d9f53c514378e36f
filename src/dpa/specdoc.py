"""The spec kinds' programs as text: docs/SPEC.md section 5.2 is generated from here.

Each kind's formula exists once, as its ``program(self, b)``; this module
records the program of an example instance of every built-in kind and prints
it (:meth:`dpa.program.SpecProgram.format`), so the specification and the
code cannot disagree. ``python tools/make_spec.py`` rewrites the section;
tests/dpa/test_specdoc.py fails when it is stale.

>>> print(kind_section(["uniform"]).splitlines()[2])
#### `uniform` (D = 1; outputs: float)
"""

from __future__ import annotations

from typing import Any, Sequence

from dpa import composite as _composite  # noqa: F401  (registers the composite kinds)
from dpa.specs import spec_class, spec_from_dict, spec_kinds

__all__ = ["BEGIN", "END", "documented_kinds", "kind_section", "render_kind", "replace_section"]

BEGIN = "<!-- BEGIN GENERATED: spec programs (python tools/make_spec.py; do not edit by hand) -->"
END = "<!-- END GENERATED: spec programs -->"

def documented_kinds() -> dict[str, dict[str, Any]]:
    """``{kind: fields}`` of every registered kind that sets its own ``doc_example`` (the built-in ones), in registration order.

    The example's values do not show in the listing: fields and host
    constants appear by name. Only a permutation's size shapes its program.
    """
    return {kind: dict(spec_class(kind).doc_example) for kind in spec_kinds(order="registration")
            if spec_class(kind).__dict__.get("doc_example") is not None}


def render_kind(kind: str, fields: dict[str, Any]) -> str:
    """One kind's heading and program, recorded from ``{"kind": kind, **fields}``."""
    spec = spec_from_dict({"kind": kind, **fields})
    prog = spec.recorded_program
    outs = spec.outputs()
    names = ["out"] if len(outs) == 1 and not outs[0].suffix else [o.suffix for o in outs]
    dtypes = sorted({o.dtype for o in outs}, key=["float", "int", "bool"].index)
    head = f"#### `{kind}` (D = {spec.n_draws}; outputs: {', '.join(dtypes)})"
    note = f"\n\nShown for n = {spec.n}; the program is the same for every n in 2..12." if kind == "permutation" else ""
    body = "\n".join("    " + line for line in prog.format(names).splitlines())
    return f"{head}{note}\n\n{body}"


def kind_section(kinds: Sequence[str] | None = None) -> str:
    """The generated block of docs/SPEC.md: every built-in kind's program, between the markers."""
    examples = documented_kinds()
    kinds = list(examples) if kinds is None else list(kinds)
    parts = [render_kind(k, examples[k]) for k in kinds]
    return BEGIN + "\n\n" + "\n\n".join(parts) + "\n\n" + END


def replace_section(text: str, section: str) -> str:
    """``text`` (docs/SPEC.md) with its generated block replaced by ``section``.

    Raises:
        ValueError: the markers are missing or out of order.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"docs/SPEC.md must hold the markers {BEGIN!r} and {END!r}, in that order")
    return text[:start] + section + text[end + len(END):]
