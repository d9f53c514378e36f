"""Damaged outputs and damaged interrupted runs: `verify` finds every kind, `--resume` repairs or refuses.

Each row damages one thing (truncate, extend, flip a byte, edit a header,
retarget a file entry, a symbolic link, bad metadata...). `verify` must exit 1
naming the file or field; `--resume` must finish with exactly the
uninterrupted run's bytes or refuse (exit 3), never succeed over damage.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dpa.cli import main
from tests.dpa.store_helpers import reference, assert_clean_error, assert_same_output, run_dpa

MILD = ("generate", "--preset", "mild", "-n", "2000", "--seed", "9", "--no-progress")


@pytest.fixture
def out(tmp_path) -> Path:
    path = tmp_path / "params"
    assert main([*MILD, "--out", str(path)]) == 0
    return path


def edit_json(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=2))


def replace_bytes(path: Path, old: bytes, new: bytes) -> None:
    raw = path.read_bytes()
    assert raw.count(old) == 1 and len(old) == len(new)
    path.write_bytes(raw.replace(old, new))


def flip(path: Path, offset: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))


def symlink_elsewhere(path: Path) -> None:
    elsewhere = path.parent.parent / ("moved-" + path.name)
    shutil.move(path, elsewhere)
    path.symlink_to(elsewhere)


def hardlink_elsewhere(path: Path) -> None:
    elsewhere = path.parent.parent / ("moved-" + path.name)
    shutil.move(path, elsewhere)
    os.link(elsewhere, path)


def retarget_outside(out: Path) -> None:
    other = out.parent / "other"
    other.mkdir()
    shutil.copy(out / "rotation.npy", other / "rotation.npy")  # an identical file, outside
    edit_json(out / "metadata.json", lambda m: m["outputs"]["rotation"].update(file="../other/rotation.npy"))


def set_field(key, value):
    return lambda out: edit_json(out / "metadata.json", lambda m: m.__setitem__(key, value))


def npy(out: Path, name: str = "rotation") -> Path:
    return out / f"{name}.npy"


VERIFY_TAMPERS = [
    # (id, damage, fragment of the message)
    ("truncated by one value", lambda o: os.truncate(npy(o), npy(o).stat().st_size - 8), "truncated"),
    ("truncated to nothing", lambda o: os.truncate(npy(o), 0), "truncated"),
    ("1 MB of trailing garbage", lambda o: npy(o).open("ab").write(os.urandom(1 << 20)), "trailing data"),
    ("one trailing byte", lambda o: npy(o).open("ab").write(b"\0"), "trailing data"),
    ("a flipped data byte", lambda o: flip(npy(o), 128 + 8 * 1234 + 3), "rotation differs at sample id 1234"),
    ("a flipped bool byte", lambda o: flip(npy(o, "hflip"), 128 + 77), "hflip differs at sample id 77"),
    ("a bool byte that is 2", lambda o: _set_byte(npy(o, "hflip"), 128 + 5, 2), "not a bool"),
    ("header shape edited", lambda o: replace_bytes(npy(o), b"(2000,)", b"(1999,)"), "shape (1999,), expected (2000,)"),
    ("fortran_order True", lambda o: replace_bytes(npy(o), b"'fortran_order': False", b"'fortran_order': True "),
     "fortran_order True"),
    ("header dtype edited", lambda o: replace_bytes(npy(o), b"'<f8'", b"'<f4'"), "dtype '<f4'"),
    ("magic string broken", lambda o: flip(npy(o), 1), "magic"),
    ("a symlinked .npy", lambda o: symlink_elsewhere(npy(o)), "symbolic link"),
    ("a directory for a .npy", lambda o: (npy(o).unlink(), npy(o).mkdir()), "not a regular file"),
    ("a missing .npy", lambda o: npy(o).unlink(), "rotation.npy is missing"),
    ("file entry retargeted outside", retarget_outside, "points outside the output directory"),
    ("file entry retargeted inside", lambda o: edit_json(o / "metadata.json",
                                                         lambda m: m["outputs"]["rotation"].update(file="scale.npy")),
     "dpa stores 'rotation' in 'rotation.npy'"),
    ("dtype entry edited", lambda o: edit_json(o / "metadata.json", lambda m: m["outputs"]["hflip"].update(dtype="int64")),
     "'hflip' is 'bool'"),
    ("format_version 2", set_field("format_version", 2), "format_version"),
    ("format_version as a string", set_field("format_version", "1"), "format_version"),
    ("another format", set_field("format", "npz"), "not a dpa output"),
    ("stream_version 2", set_field("stream_version", 2), "stream version 2"),
    ("a missing field", lambda o: edit_json(o / "metadata.json", lambda m: m.pop("seed")), "missing field(s) 'seed'"),
    ("an unexpected field", set_field("extra", 1), "unexpected field(s) 'extra'"),
    ("seed changed", set_field("seed", 10), "differs at sample id"),
    ("num_samples changed", set_field("num_samples", 1999), "1 bytes too many (trailing data)"),
    ("a huge num_samples", set_field("num_samples", 10**400), "'num_samples' must be an integer"),
    ("a negative start", set_field("start", -1), "'start' must be an integer"),
    ("fingerprint changed", set_field("fingerprint", "0123456789abcdef"), "does not match its config"),
    ("config changed", lambda o: edit_json(o / "metadata.json", lambda m: m["config"]["rotation"].update(high=6.0)),
     "does not match its config"),
    ("an invalid config", lambda o: edit_json(o / "metadata.json", lambda m: m["config"]["rotation"].update(kind="x")),
     "not a valid config"),
    ("metadata is a list", lambda o: (o / "metadata.json").write_text("[1, 2]"), "JSON list"),
    ("metadata is null", lambda o: (o / "metadata.json").write_text("null"), "JSON null,"),
    ("format_version as a float", set_field("format_version", 1.0), "'format_version' is 1.0"),
    ("format_version missing", lambda o: edit_json(o / "metadata.json", lambda m: m.pop("format_version")),
     "missing field(s) 'format_version'"),
    ("file entry a number", lambda o: edit_json(o / "metadata.json", lambda m: m["outputs"]["rotation"].update(file=7)),
     "outputs['rotation']['file'] = 7 must be a file name"),
    ("metadata is not JSON", lambda o: (o / "metadata.json").write_text("{nope"), "not valid JSON"),
    ("metadata nested 200k deep", lambda o: (o / "metadata.json").write_text("[" * 200_000 + "]" * 200_000), "JSON"),
    ("a duplicate key", lambda o: (o / "metadata.json").write_text(
        (o / "metadata.json").read_text().replace('"seed": 9,', '"seed": 9, "seed": 9,')), "appears twice"),
    ("metadata is a symlink", lambda o: symlink_elsewhere(o / "metadata.json"), "symbolic link"),
    ("metadata is empty", lambda o: (o / "metadata.json").write_text(""), "not valid JSON"),
]


def _set_byte(path: Path, offset: int, value: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[offset] = value
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage, fragment", [t[1:] for t in VERIFY_TAMPERS], ids=[t[0] for t in VERIFY_TAMPERS])
def test_verify_finds_the_damage(damage, fragment, out, capsys) -> None:
    assert main(["verify", str(out), "--no-progress"]) == 0
    damage(out)
    capsys.readouterr()
    assert main(["verify", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert_clean_error(err, "MISMATCH", fragment)


@pytest.mark.parametrize("damage", ["trailing", "symlink", "outside"])
def test_verify_as_a_real_process(damage, out) -> None:
    {"trailing": lambda: npy(out).open("ab").write(b"x" * 100),
     "symlink": lambda: symlink_elsewhere(npy(out)),
     "outside": lambda: retarget_outside(out)}[damage]()
    r = run_dpa("verify", str(out))
    assert r.returncode == 1
    assert_clean_error(r.stderr, "MISMATCH")


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda tmp: tmp / "nothing", "does not exist"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "metadata.json does not exist"),
        (lambda tmp: (tmp / "file").write_text("x") and tmp / "file", "is not a directory"),
        (lambda tmp: Path("/"), "/metadata.json does not exist"),  # a directory without a name
    ],
    ids=["missing", "no metadata", "a file", "the root directory"],
)
def test_verify_of_something_that_is_not_an_output_is_exit_2(make, fragment, tmp_path, capsys) -> None:
    assert main(["verify", str(make(tmp_path))]) == 2
    assert_clean_error(capsys.readouterr().err, fragment)


# -- --resume over a damaged interrupted run -------------------------------------------------------
N = 60_000
GEN = ("generate", "--preset", "moderate", "-n", str(N), "--seed", "5", "--chunk-size", "25000", "--no-progress")
HEADER = 128


@pytest.fixture(scope="module")
def ref(tmp_path_factory) -> Path:
    return reference(tmp_path_factory, GEN)


@pytest.fixture
def partial(tmp_path, monkeypatch, capsys) -> Path:
    """An interrupted run: stopped (by a simulated full disk) after its second checkpoint, 50,000 samples recorded."""
    with monkeypatch.context() as m:
        m.setenv("DPA_TEST_ENOSPC_AT", "checkpoint-written:2")
        assert main([*GEN, "--out", str(tmp_path / "params")]) == 4
    capsys.readouterr()
    path = tmp_path / "params.partial"
    assert json.loads((path / "progress.json").read_text()) == {"done": 50_000}
    return path


def progress(value) -> callable:
    return lambda p: (p / "progress.json").write_text(value if isinstance(value, str) else json.dumps(value))


REPAIRED = [
    ("a .npy truncated", lambda p: os.truncate(p / "rotation.npy", HEADER + 8 * 100), "resized"),
    ("a .npy truncated to nothing", lambda p: os.truncate(p / "rotation.npy", 0), "header"),
    ("a .npy extended", lambda p: (p / "scale.npy").open("ab").write(os.urandom(4096)), "resized"),
    ("a flipped byte in the done region", lambda p: flip(p / "hue.npy", HEADER + 8 * 31_337), "hue.npy (from sample id 31337)"),
    ("a flipped bool", lambda p: flip(p / "hflip.npy", HEADER + 3), "hflip.npy (from sample id 3)"),
    ("a header with another dtype", lambda p: replace_bytes(p / "rotation.npy", b"'<f8'", b"'<i8'"), "dtype '<i8'"),
    ("a header with another shape", lambda p: replace_bytes(p / "rotation.npy", b"(60000,)", b"(60001,)"), "shape"),
    ("a .npy replaced by a symlink", lambda p: symlink_elsewhere(p / "rotation.npy"), "not a regular file"),
    ("a .npy hard-linked to a file outside", lambda p: hardlink_elsewhere(p / "rotation.npy"), "hard link"),
    ("a .npy deleted", lambda p: (p / "crop_w.npy").unlink(), "missing"),
    ("progress past the end", progress({"done": N + 100}), "progress.json"),
    ("progress negative", progress({"done": -100}), "progress.json"),
    ("progress claims everything", progress({"done": N}), "differed"),
    ("progress a bool", progress({"done": True}), "progress.json"),
    ("progress a float", progress({"done": 5e4}), "progress.json"),
    ("progress not JSON", progress("{done"), "progress.json"),
    ("progress a list", progress([50_000]), "progress.json"),
    ("progress with another field", progress({"done": 50_000, "x": 1}), "progress.json"),
    ("progress deleted", lambda p: (p / "progress.json").unlink(), None),
]


@pytest.mark.parametrize("damage, note", [t[1:] for t in REPAIRED], ids=[t[0] for t in REPAIRED])
def test_resume_repairs_damage_and_finishes_identically(damage, note, partial, ref, capsys) -> None:
    outside = partial.parent / "moved-rotation.npy"
    damage(partial)
    before = outside.read_bytes() if outside.exists() else None
    assert main([*GEN, "--out", str(partial.parent / "params"), "--resume"]) == 0
    err = capsys.readouterr().err
    if note:
        assert note in err, err
    assert_same_output(partial.parent / "params", ref)
    if before is not None:
        assert outside.read_bytes() == before  # a link's target is never written through


REFUSED = [
    ("pending metadata of another seed", lambda p: edit_json(p / "metadata.pending.json", lambda m: m.update(seed=6)),
     "different seed (seed=6)"),
    ("pending metadata of another size", lambda p: edit_json(p / "metadata.pending.json",
                                                             lambda m: m.update(num_samples=10)), "different num_samples"),
    ("pending metadata not JSON", lambda p: (p / "metadata.pending.json").write_text("{x"), "damaged"),
    ("pending metadata of another format", lambda p: (p / "metadata.pending.json").write_text("{}"), "not dpa metadata"),
    ("a file dpa did not write", lambda p: (p / "notes.txt").write_text("mine"), "notes.txt, which dpa did not write"),
    ("a directory in it", lambda p: (p / "sub").mkdir(), "sub/, which dpa did not write"),
    ("pending metadata is a directory", lambda p: ((p / "metadata.pending.json").unlink(),
                                                   (p / "metadata.pending.json").mkdir()), "metadata.pending.json/"),
]


@pytest.mark.parametrize("damage, fragment", [t[1:] for t in REFUSED], ids=[t[0] for t in REFUSED])
def test_resume_refuses_what_it_cannot_trust(damage, fragment, partial, capsys) -> None:
    damage(partial)
    before = {p.name: (p.read_bytes() if p.is_file() else None) for p in partial.iterdir()}
    assert main([*GEN, "--out", str(partial.parent / "params"), "--resume"]) == 3
    assert_clean_error(capsys.readouterr().err, fragment)
    assert {p.name: (p.read_bytes() if p.is_file() else None) for p in partial.iterdir()} == before


@pytest.mark.parametrize("flags", [["--overwrite"], ["--overwrite", "--resume"]])
def test_overwrite_never_deletes_files_dpa_did_not_write(flags, partial, capsys) -> None:
    (partial / "notes.txt").write_text("mine")
    before = sorted(p.name for p in partial.iterdir())
    assert main([*GEN, "--out", str(partial.parent / "params"), *flags]) == 3
    assert_clean_error(capsys.readouterr().err, "notes.txt, which dpa did not write")
    assert sorted(p.name for p in partial.iterdir()) == before and (partial / "notes.txt").read_text() == "mine"


def test_overwrite_refuses_an_output_holding_files_dpa_did_not_write(out, capsys) -> None:
    (out / "README.txt").write_text("mine")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main([*MILD, "--seed", "10", "--out", str(out), "--overwrite"]) == 3
    assert_clean_error(capsys.readouterr().err, "README.txt, which dpa did not write", "refusing to replace it")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not (out.parent / "params.partial").exists()


def test_overwrite_resume_restarts_a_run_of_other_arguments(partial, ref, capsys) -> None:
    edit_json(partial / "metadata.pending.json", lambda m: m.update(seed=6))
    assert main([*GEN, "--out", str(partial.parent / "params"), "--resume", "--overwrite"]) == 0
    assert "starting again" in capsys.readouterr().err
    assert_same_output(partial.parent / "params", ref)


def test_a_partial_that_is_a_file_is_refused(tmp_path, capsys) -> None:
    (tmp_path / "params.partial").write_text("mine")
    assert main([*GEN, "--out", str(tmp_path / "params"), "--resume"]) == 3
    assert_clean_error(capsys.readouterr().err, "is not a directory dpa made")
    assert (tmp_path / "params.partial").read_text() == "mine"


def test_resume_of_a_damaged_complete_output_is_refused(out, capsys) -> None:
    os.truncate(npy(out), 500)
    assert main([*MILD, "--out", str(out), "--resume"]) == 3
    assert_clean_error(capsys.readouterr().err, "damaged", "--overwrite")
    assert main([*MILD, "--out", str(out), "--resume", "--overwrite"]) == 0
    assert main(["verify", str(out)]) == 0


def test_values_on_disk_are_numpy_readable(out) -> None:
    import dpa

    ref = dpa.gen_augmentation_batch(range(2000), dpa.get_preset("mild"), seed=9)
    for name, arr in ref.items():
        np.testing.assert_array_equal(np.load(out / f"{name}.npy"), arr)
