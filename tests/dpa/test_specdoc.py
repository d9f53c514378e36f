"""docs/SPEC.md section 5 and the kinds' definitions cannot disagree: the programs are generated, the rest checked."""

from __future__ import annotations

import pathlib
import re

import dpa
from dpa.program import PRIMITIVES
from dpa.specdoc import documented_kinds, kind_section, replace_section
from dpa.specs import spec_from_dict

SPEC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "SPEC.md"


def test_the_generated_programs_are_up_to_date() -> None:
    text = SPEC.read_text(encoding="utf-8")
    assert replace_section(text, kind_section()) == text, "docs/SPEC.md section 5.2 is stale: python tools/make_spec.py"


def test_every_built_in_kind_is_listed() -> None:
    built_in = {"uniform", "log_uniform", "normal", "truncated_normal", "integer", "choice", "bernoulli",
                "resized_crop", "erasing", "permutation"}
    assert set(documented_kinds()) == built_in and set(dpa.specs.spec_kinds()) >= built_in
    for kind in built_in:
        assert f"#### `{kind}` (D = " in kind_section()


def test_the_kind_table_gives_each_kind_its_draw_count() -> None:
    section = SPEC.read_text(encoding="utf-8").split("## 5. Spec kinds")[1].split("### 5.1")[0]
    rows = re.findall(r"^\| `(\w+)` \| .* \| (\d+) \| .* \|$", section, flags=re.M)
    assert {kind for kind, _ in rows} == set(documented_kinds())
    for kind, draws in rows:
        assert spec_from_dict({"kind": kind, **documented_kinds()[kind]}).n_draws == int(draws), kind


def test_the_primitive_table_covers_every_primitive() -> None:
    section = SPEC.read_text(encoding="utf-8").split("### 5.1 Primitives")[1].split("### 5.2")[0]
    cells = " ".join(re.findall(r"`([^`]*)`", section))
    spelled = {"add": "a + b", "sub": "a - b", "mul": "a * b", "div": "a / b", "neg": "-a", "lt": "a < b",
               "le": "<=", "gt": ">", "ge": ">=", "iadd": "+ - *", "isub": "+ - *", "imul": "+ - *"}
    for name in PRIMITIVES:
        assert spelled[name] in cells if name in spelled else re.search(rf"\b{name}\b", cells), name
