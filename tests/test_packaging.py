"""pyproject lists dpa's packages one by one: every package in the source tree must be among them.

An unlisted subpackage works in the editable install the tests run from, yet
is missing from the wheel that ``pip install .`` builds (``import
dpa.integrations.torchvision`` failed there this way).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_of_the_source_tree_ships() -> None:
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for name, folder in setuptools["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((name, *parts)))
    assert found - set(setuptools["packages"]) == set()
