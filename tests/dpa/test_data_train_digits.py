"""examples/train_digits.py runs again the same whatever the workers (its docstring says so).

It once did not: the loss with --workers 0 differed from 1 or 2, because the shuffle order came
from a generator the DataLoader also drew worker seeds from, once per iterator, which depends on
persistent_workers. Here the example's own train() runs on a small stand-in for the digits.
"""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"


def load_example():
    spec = importlib.util.spec_from_file_location("train_digits", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_same_losses_with_0_1_or_2_workers() -> None:
    example = load_example()
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 17, size=(150, 8, 8)).astype(np.float64), rng.integers(0, 10, size=150)
    train_base, test_base = example.Digits(images[:120], labels[:120]), example.Digits(images[120:], labels[120:])
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the example's main() does
    try:
        runs = {w: example.train(train_base, test_base, epochs=2, workers=w, log=lambda *_: None)[1] for w in (0, 1, 2)}
    finally:
        torch.set_num_threads(threads)
    assert len(runs[0]) == 2 * 2  # 120 samples in batches of 64, two epochs
    assert runs[0] == runs[1] == runs[2]  # to the last bit


def test_help_needs_no_scikit_learn() -> None:
    import subprocess
    import sys

    hide = "import sys, runpy; sys.modules['sklearn'] = None; sys.argv = ['train_digits.py', '--help']; "
    run = subprocess.run([sys.executable, "-c", hide + f"runpy.run_path({str(EXAMPLE)!r}, run_name='__main__')"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "--workers" in run.stdout, run.stderr[-2000:]
