"""The on-disk format, byte for byte: headers, metadata, names; and the store's own small pieces."""

from __future__ import annotations

import doctest
import importlib
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

import dpa
from dpa.store import OutputExistsError, output_path, read_metadata, verify_params, write_params
from dpa.store.errors import format_bytes
from dpa.store.layout import Layout, OutputPaths
from dpa.store.npyfile import DESCR, describe_header, first_difference, npy_header

STORE_MODULES = ["dpa.store", "dpa.store.errors", "dpa.store.npyfile", "dpa.store.layout", "dpa.store.fsops",
                 "dpa.store.writer", "dpa.store.verify"]


@pytest.mark.parametrize("name", STORE_MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


@pytest.mark.parametrize("descr", sorted(DESCR.values()))
@pytest.mark.parametrize("n", [0, 1, 9, 10, 12345, 10**9, 2**63, 2**64 - 1])
def test_header_is_numpys(descr: str, n: int) -> None:
    """The pinned header is exactly what numpy writes, and numpy reads it back."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": (n,)})
    assert npy_header(descr, n) == buf.getvalue()
    assert len(npy_header(descr, n)) == 128
    assert describe_header(npy_header(descr, n), descr, n) == ""


def test_files_are_plain_npy_and_metadata_is_reproducible(tmp_path) -> None:
    cfg = dpa.get_preset("aggressive")
    a = write_params(tmp_path / "a", cfg, 777, seed=3, epoch=2, start=10, chunk_size=100)
    b = write_params(tmp_path / "b", cfg, 777, seed=3, epoch=2, start=10, chunk_size=777)
    ref = dpa.gen_augmentation_batch(range(10, 787), cfg, seed=3, epoch=2)
    for name, arr in ref.items():
        loaded = np.load(a / f"{name}.npy")
        assert loaded.dtype == arr.dtype and loaded.tobytes() == arr.tobytes()
    assert {p.name: p.read_bytes() for p in a.iterdir()} == {p.name: p.read_bytes() for p in b.iterdir()}
    meta = json.loads((a / "metadata.json").read_text())
    assert meta == Layout(cfg, 777, 3, 2, 10).metadata == read_metadata(a)
    assert (meta["format"], meta["format_version"]) == ("dpa-params", 1)
    assert sorted(os.listdir(a)) == sorted(["metadata.json", *(f"{n}.npy" for n in ref)])
    # bytes per sample, as the README and docs/CLI.md say: 23 x 8 + 2 bools
    assert sum((a / f"{n}.npy").stat().st_size - 128 for n in ref) == 777 * 186


def test_first_difference_compares_bytes() -> None:
    a = np.array([0.0, 1.0, np.nan], dtype="<f8")
    assert first_difference(a, a.tobytes()) is None
    assert first_difference(a, np.array([-0.0, 1.0, np.nan]).tobytes()) == 0
    assert first_difference(a, a.tobytes()[:12]) == 1  # the stored bytes end inside element 1


def test_output_path_rules(tmp_path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert output_path(tmp_path / "link") == tmp_path / "real"  # a link is followed to its directory
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    for bad, fragment in [("", "empty path"), ("/", "names no directory"), (tmp_path / "loop", "loops"),
                          (tmp_path / ("x" * 250), "bytes long"), ("a\0b", "NUL")]:
        with pytest.raises(ValueError, match=fragment):
            output_path(bad)


def test_library_errors_speak_the_library(tmp_path) -> None:
    write_params(tmp_path / "o", dpa.get_preset("mild"), 5)
    with pytest.raises(OutputExistsError, match=r"pass resume=True to check that it is complete, or overwrite=True") as info:
        write_params(tmp_path / "o", dpa.get_preset("mild"), 5)
    assert "--overwrite" in info.value.cli_message()


def test_library_notes_are_warnings_without_a_callback(tmp_path) -> None:
    from dpa.store import StoreWarning

    write_params(tmp_path / "o", dpa.get_preset("mild"), 5)
    with pytest.warns(StoreWarning, match="already complete"):
        write_params(tmp_path / "o", dpa.get_preset("mild"), 5, resume=True)


def test_verify_in_small_chunks_reports_progress(tmp_path) -> None:
    out = write_params(tmp_path / "o", dpa.get_preset("mild"), 1000)
    seen: list[int] = []
    result = verify_params(out, chunk_size=300, progress=seen.append)
    assert result.ok and seen == [300, 600, 900, 1000]
    with pytest.raises(ValueError, match=r"chunk_size must be >= 1; got 0"):
        verify_params(out, chunk_size=0)


@pytest.mark.parametrize("n, text", [(0, "0 bytes"), (999, "999 bytes"), (18_500_000_000, "18.5 GB (18,500,000,000 bytes)"),
                                     (2**64 * 97, "1.8 ZB")])
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n).startswith(text)


def test_sibling_names() -> None:
    from tests.dpa.store_helpers import SIBLINGS

    paths = OutputPaths.of(Path("/data/run1"))
    assert (paths.partial.name, paths.lock.name, paths.old.name, paths.trash.name) == (
        "run1.partial", "run1.dpa-lock", "run1.dpa-old", "run1.dpa-trash")
    assert [p.name for p in (paths.partial, paths.lock, paths.old, paths.trash)] == ["run1" + s for s in SIBLINGS]


def test_outputs_that_differ_only_in_case_are_refused(tmp_path, capsys) -> None:
    """Rot.npy and rot.npy are one file on macOS and Windows: the second output would overwrite the first."""
    from dpa.cli import main

    cfg = dpa.AugmentationConfig.from_dict({"Rot": {"kind": "uniform", "low": 0, "high": 1}, "rot": {"kind": "bernoulli"}})
    with pytest.raises(ValueError, match="outputs 'Rot' and 'rot' differ only in case"):
        write_params(tmp_path / "o", cfg, 5)
    crop = dpa.AugmentationConfig.from_dict({"crop": {"kind": "resized_crop"}, "CROP_W": {"kind": "bernoulli"}})
    with pytest.raises(ValueError, match="outputs 'crop_w' and 'CROP_W' differ only in case"):
        write_params(tmp_path / "o", crop, 5)
    (tmp_path / "case.json").write_text(cfg.to_json())
    assert main(["generate", "--config", str(tmp_path / "case.json"), "-n", "5", "--out", str(tmp_path / "o")]) == 2
    assert "differ only in case" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.json"]  # nothing written


@pytest.mark.parametrize("kwargs, fragment", [
    ({"progress": 5}, "progress must be a callable"),
    ({"notes": "print"}, "notes must be a callable"),
    ({"overwrite": "yes"}, "overwrite must be True or False"),
    ({"resume": 1}, "resume must be True or False"),
    ({"out_dir": 5}, "out_dir must be a path"),
])
def test_write_params_checks_its_arguments_before_touching_the_disk(kwargs, fragment, tmp_path) -> None:
    # A bad callback used to fail after the first chunk, leaving an interrupted run behind.
    args = {"out_dir": tmp_path / "o", **kwargs}
    with pytest.raises(TypeError, match=fragment):
        write_params(args.pop("out_dir"), dpa.get_preset("mild"), 10, **args)
    assert os.listdir(tmp_path) == []


def test_verify_params_takes_the_paths_write_params_takes_and_names_bad_arguments(tmp_path) -> None:
    out = write_params(os.fsencode(tmp_path / "o"), dpa.get_preset("mild"), 10)
    assert verify_params(os.fsencode(out)).ok and read_metadata(os.fsencode(out))["num_samples"] == 10
    with pytest.raises(TypeError, match="directory must be a path"):
        verify_params(5)
    with pytest.raises(TypeError, match="progress must be a callable"):
        verify_params(out, progress=3)
