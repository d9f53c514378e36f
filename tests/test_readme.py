"""The README's Python examples run as written (a newcomer copies them first)."""

from __future__ import annotations

import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def block_starting(prefix: str) -> str:
    found = [b for b in python_blocks() if b.startswith(prefix)]
    assert len(found) == 1, f"README has {len(found)} python blocks starting {prefix!r}"
    return found[0]


def test_thirty_seconds_of_python(tmp_path, monkeypatch) -> None:
    pytest.importorskip("torch")  # the block asks for backend="torch" once
    monkeypatch.chdir(tmp_path)  # it saves my_config.json
    exec(compile(block_starting("import dpa\n"), "README.md", "exec"), {})
    assert (tmp_path / "my_config.json").exists()


def test_pytorch_example_with_real_workers() -> None:
    torch = pytest.importorskip("torch")
    import dpa

    code = block_starting("from torch.utils.data import DataLoader")
    # The same code on a small dataset, two workers and two epochs instead of four and ten.
    code = code.replace("num_workers=4", "num_workers=2").replace("range(10)", "range(2)")
    images = torch.rand(16, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    seen = []
    namespace = {"dpa": dpa, "base_dataset": [(images[i], i % 3) for i in range(16)]}
    code = code.replace("for images, labels in loader: ...", "for images, labels in loader: seen.append(images)")
    namespace["seen"] = seen
    exec(compile(code, "README.md", "exec"), namespace)
    assert len(seen) == 2 and seen[0].shape == (16, 3, 24, 24)
