"""The examples in the docstrings run."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "dpa", "dpa.prng", "dpa.keys", "dpa.specs", "dpa.composite", "dpa.config", "dpa.presets", "dpa.generate",
    "dpa.stream", "dpa.distributed", "dpa.distributed.splitter", "dpa.distributed.checkpoint", "dpa.distributed.params",
    "dpa.benchmark", "dpa.benchmark.probes", "dpa.benchmark.runner", "dpa.batch", "dpa.batch.processor", "dpa.data",
    "dpa.epochs", "dpa.sampler", "dpa.integrations.hf", "dpa.integrations.webdataset",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_quickstart_example_runs() -> None:
    import pathlib
    import runpy

    runpy.run_path(str(pathlib.Path(__file__).resolve().parents[2] / "examples" / "quickstart.py"), run_name="__main__")


def test_digits_example_runs(tmp_path) -> None:
    """examples/train_digits.py end to end (one epoch, real worker processes); needs the `examples` extra."""
    import pathlib
    import subprocess
    import sys

    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    script = pathlib.Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"
    out = tmp_path / "grid.png"
    r = subprocess.run([sys.executable, str(script), "--epochs", "1", "--workers", "2", "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "test accuracy" in r.stdout and out.stat().st_size > 1000
