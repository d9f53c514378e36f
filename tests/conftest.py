"""Shared fixtures and options for dpa's tests."""

from __future__ import annotations

import importlib.util

import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="run slow soak tests")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow soak test: pass --run-slow to run it")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


requires_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")


@pytest.fixture(params=["compiled", "numpy"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test once on the compiled C kernel and once on the numpy kernels.

    Both must give the same bits; tests that pin exact values take this
    fixture so that neither implementation can drift. The compiled run is
    skipped where dpa was installed without a C compiler.
    """
    from dpa import prng

    if request.param == "compiled" and prng.compiled_kernel() is None:
        pytest.skip("dpa._ckernel is not built here (no C compiler at install time, or DPA_DISABLE_CKERNEL)")
    if request.param == "numpy":
        # Configs keep their generators per kernel, so the ones made now run without it.
        monkeypatch.setattr(prng, "_ckernel", None)
    yield request.param
