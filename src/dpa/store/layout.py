"""The on-disk format of a dpa output: names, metadata, and what a valid one must hold.

A finished output ``DIR`` holds exactly:

* ``metadata.json``: the JSON object :func:`build_metadata` makes (format
  name and version, stream and dpa versions, config and its fingerprint,
  seed, epoch, first id, number of samples, and each output's file and dtype),
  written by :func:`metadata_bytes` so that the same arguments always give
  the same bytes;
* one ``<output>.npy`` per flat output of the config (see
  :mod:`dpa.store.npyfile`).

Beside it, while a run works, live ``DIR.partial/`` (the output being
built, with ``metadata.pending.json`` and ``progress.json``),
``DIR.dpa-lock`` (the writer's lock), and during ``--overwrite``'s final
swap ``DIR.dpa-old`` / ``DIR.dpa-trash`` (the previous output). docs/CLI.md
describes the whole protocol.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dpa.config import AugmentationConfig
from dpa.generate import gen_augmentation_batch
from dpa.keys import MAX_EPOCH, MAX_SAMPLE_ID, MAX_SEED
from dpa.store.errors import DamagedOutputError, shorten
from dpa.store.npyfile import DESCR, file_size
from dpa.validate import no_duplicate_keys
from dpa.version import STREAM_VERSION, __version__

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "METADATA",
    "PENDING",
    "PROGRESS",
    "OutputPaths",
    "OutputFile",
    "Layout",
    "build_metadata",
    "metadata_bytes",
    "load_json",
    "check_metadata",
    "looks_like_output",
    "IDENTITY_KEYS",
    "OWN_NAMES",
    "output_path",
    "foreign_entries",
    "listed_files",
]

FORMAT = "dpa-params"
FORMAT_VERSION = 1
METADATA = "metadata.json"
PENDING = "metadata.pending.json"
PROGRESS = "progress.json"
MAX_JSON_BYTES = 64 << 20  # a metadata file larger than this is not one dpa wrote
_DTYPE_NAMES = {"float": "float64", "int": "int64", "bool": "bool"}
OWN_NAMES = frozenset({METADATA, PENDING, PROGRESS} | {n + ".tmp" for n in (METADATA, PENDING, PROGRESS)})
_HEX16 = re.compile(r"^[0-9a-f]{16}$")
# What must agree for an existing output or interrupted run to be "the same command".
IDENTITY_KEYS = ("format", "format_version", "stream_version", "fingerprint", "seed", "epoch", "start", "num_samples")


@dataclass(frozen=True)
class OutputPaths:
    """Every path one output uses: the output and its siblings."""

    dir: Path
    partial: Path
    lock: Path
    old: Path
    trash: Path

    @classmethod
    def of(cls, out: Path) -> "OutputPaths":
        return cls(
            out,
            out.with_name(out.name + ".partial"),
            out.with_name(out.name + ".dpa-lock"),
            out.with_name(out.name + ".dpa-old"),
            out.with_name(out.name + ".dpa-trash"),
        )

    # the suffixes above (an output named with one would be taken for another output's sibling)
    SUFFIXES = (".partial", ".dpa-lock", ".dpa-old", ".dpa-trash")
    # the longest suffix above: the output's name must leave room for it
    LONGEST_SUFFIX = len(".dpa-trash")


@dataclass(frozen=True)
class OutputFile:
    """One ``.npy`` file of an output."""

    name: str
    file: str
    dtype: str
    descr: str
    num_samples: int

    @property
    def itemsize(self) -> int:
        return 1 if self.descr == "|b1" else 8

    @property
    def size(self) -> int:
        return file_size(self.descr, self.num_samples)


def build_metadata(config: AugmentationConfig, num_samples: int, seed: int, epoch: int, start: int) -> dict[str, Any]:
    """The metadata of the output these arguments make (no time stamp: the same arguments, the same bytes)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "stream_version": STREAM_VERSION,
        "dpa_version": __version__,
        "fingerprint": config.fingerprint(),
        "seed": seed,
        "epoch": epoch,
        "start": start,
        "num_samples": num_samples,
        "config": config.to_dict(),
        "outputs": {o.name: {"file": f"{o.name}.npy", "dtype": _DTYPE_NAMES[o.dtype]} for o in config.outputs},
    }


def metadata_bytes(meta: dict[str, Any]) -> bytes:
    """``meta`` as the exact bytes dpa writes."""
    return (json.dumps(meta, indent=2) + "\n").encode("utf-8")


def _check_file_names(config: AugmentationConfig) -> None:
    """Refuse outputs whose file names differ only in case: one file on macOS's and Windows' file systems."""
    seen: dict[str, str] = {}
    for name in config.output_names:
        other = seen.setdefault(name.lower(), name)  # names are ASCII (dpa.validate.param_name)
        if other != name:
            raise ValueError(
                f"outputs {other!r} and {name!r} differ only in case: their files {other}.npy and {name}.npy "
                f"would be one file on a case-insensitive file system (macOS, Windows); rename one of them"
            )


class Layout:
    """What one ``write_params`` call produces: its metadata (and bytes) and its files."""

    def __init__(self, config: AugmentationConfig, num_samples: int, seed: int, epoch: int, start: int) -> None:
        _check_file_names(config)
        self.config = config
        self.num_samples = num_samples
        self.seed, self.epoch, self.start = seed, epoch, start
        self.metadata = build_metadata(config, num_samples, seed, epoch, start)

    @cached_property
    def metadata_bytes(self) -> bytes:
        return metadata_bytes(self.metadata)

    @cached_property
    def files(self) -> tuple[OutputFile, ...]:
        return tuple(
            OutputFile(name, info["file"], info["dtype"], DESCR[info["dtype"]], self.num_samples)
            for name, info in self.metadata["outputs"].items()
        )

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files) + 2 * len(self.metadata_bytes)

    def values(self, lo: int, hi: int) -> dict[str, Any]:
        """The values of samples ``lo .. hi - 1`` (counted from ``start``), each as the little-endian array stored."""
        ids = np.arange(hi - lo, dtype=np.uint64) + np.uint64(self.start + lo)
        batch = gen_augmentation_batch(ids, self.config, seed=self.seed, epoch=self.epoch)
        return {f.name: np.ascontiguousarray(batch[f.name], dtype=np.dtype(f.descr)) for f in self.files}

    def differences(self, other: dict[str, Any]) -> list[str]:
        """The identity keys on which another metadata dict differs from this one."""
        return [k for k in IDENTITY_KEYS if other.get(k) != self.metadata[k]] + (
            ["outputs"] if other.get("outputs") != self.metadata["outputs"] else []
        )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def load_json(path: Path) -> Any:
    """Parse a small JSON file strictly: a regular file (not a link), UTF-8, no duplicate keys, no NaN.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: anything else wrong, in words (a link, too large, not JSON, nested too deeply).
    """
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise ValueError("it is a symbolic link, not a file dpa wrote")
    if not stat.S_ISREG(st.st_mode):
        raise ValueError("it is not a regular file")
    if st.st_size > MAX_JSON_BYTES:
        raise ValueError(f"it is {st.st_size:,} bytes, larger than any file dpa writes")
    with open(path, "rb") as fh:
        raw = fh.read(MAX_JSON_BYTES + 1)
    try:
        return json.loads(raw.decode("utf-8"), object_pairs_hook=no_duplicate_keys, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None
    except RecursionError:
        raise ValueError("it is not valid JSON: nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError, duplicate keys, digit limits
        raise ValueError(f"it is not valid JSON: {exc}") from None


def looks_like_output(directory: Path) -> bool:
    """True if ``directory`` holds a ``metadata.json`` that says it is a dpa output (whatever else is wrong with it)."""
    try:
        meta = load_json(directory / METADATA)
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


_JSON_TYPES = {list: "list", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _int_field(meta: dict[str, Any], key: str, high: int) -> int:
    value = meta.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise ValueError(f"'{key}' must be an integer in [0, {high}]; found {value!r}")
    return value


def check_metadata(meta: Any, where: Path) -> AugmentationConfig:
    """Check that ``meta`` is metadata this dpa can verify, and return its config.

    Args:
        meta: the parsed ``metadata.json``.
        where: its path, for messages.

    Raises:
        DamagedOutputError: naming the first field that is missing, of the
            wrong type, out of range, or inconsistent with the others.
    """

    def bad(problem: str) -> DamagedOutputError:
        return DamagedOutputError(f"{where}: {problem}")

    if not isinstance(meta, dict):
        raise bad(f"it holds a JSON {_JSON_TYPES.get(type(meta), type(meta).__name__)}, not the metadata object dpa writes")
    if meta.get("format") != FORMAT:
        raise bad(f"'format' is {meta.get('format')!r}, not {FORMAT!r}: not a dpa output")
    if "format_version" not in meta:
        raise bad("missing field(s) 'format_version'")
    version = meta["format_version"]
    if isinstance(version, bool) or not isinstance(version, int) or version != FORMAT_VERSION:
        raise bad(f"'format_version' is {version!r}; this dpa reads format version {FORMAT_VERSION} only")
    known = {*IDENTITY_KEYS, "dpa_version", "config", "outputs", "created"}  # "created": written by dpa <= 0.1.0
    missing = [k for k in (*IDENTITY_KEYS, "dpa_version", "config", "outputs") if k not in meta]
    if missing:
        raise bad(f"missing field(s) {', '.join(map(repr, missing))}")
    unknown = sorted(set(meta) - known)
    if unknown:
        raise bad(f"unexpected field(s) {', '.join(map(repr, unknown))}")
    if meta["stream_version"] != STREAM_VERSION or isinstance(meta["stream_version"], bool):
        raise bad(f"written with stream version {meta['stream_version']!r}; this dpa implements stream version {STREAM_VERSION}")
    if not isinstance(meta["dpa_version"], str) or not isinstance(meta.get("created", ""), str):
        raise bad("'dpa_version' and 'created' must be strings")
    try:
        _int_field(meta, "seed", MAX_SEED)
        _int_field(meta, "epoch", MAX_EPOCH)
        start = _int_field(meta, "start", MAX_SAMPLE_ID)
        n = _int_field(meta, "num_samples", MAX_SAMPLE_ID + 1)
    except ValueError as exc:
        raise bad(str(exc)) from None
    if n and start + n - 1 > MAX_SAMPLE_ID:
        raise bad(f"'start' + 'num_samples' - 1 = {start + n - 1} is past the last sample id 2**64 - 1")
    if not isinstance(meta["fingerprint"], str) or not _HEX16.match(meta["fingerprint"]):
        raise bad(f"'fingerprint' must be 16 hex digits; found {meta['fingerprint']!r}")
    if not isinstance(meta["config"], dict):
        raise bad("'config' must be a JSON object of parameter specs")
    try:
        config = AugmentationConfig.from_dict(meta["config"])
    except Exception as exc:  # any invalid config, whatever the config layer raises for it
        raise bad(f"'config' is not a valid config ({type(exc).__name__}: {exc})") from None
    if config.fingerprint() != meta["fingerprint"]:
        raise bad(f"'fingerprint' {meta['fingerprint']} does not match its config (fingerprint {config.fingerprint()})")
    _check_outputs(meta["outputs"], config, bad)
    return config


def _check_outputs(outputs: Any, config: AugmentationConfig, bad: Any) -> None:
    if not isinstance(outputs, dict):
        raise bad("'outputs' must be a JSON object")
    expected = build_metadata(config, 0, 0, 0, 0)["outputs"]
    for name, info in outputs.items():
        if name not in expected:
            raise bad(f"'outputs' names {name!r}, which its config does not produce")
        if not isinstance(info, dict) or set(info) != {"file", "dtype"}:
            raise bad(f"outputs[{name!r}] must be an object with exactly 'file' and 'dtype'")
        file = info["file"]
        if not isinstance(file, str):
            raise bad(f"outputs[{name!r}]['file'] = {file!r} must be a file name (a string)")
        if os.path.isabs(file) or "/" in file or "\\" in file or file in ("", ".", ".."):
            raise bad(f"outputs[{name!r}]['file'] = {file!r} points outside the output directory")
        if file != expected[name]["file"]:
            raise bad(f"outputs[{name!r}]['file'] = {file!r}; dpa stores {name!r} in {expected[name]['file']!r}")
        if info["dtype"] != expected[name]["dtype"]:
            raise bad(f"outputs[{name!r}]['dtype'] = {info['dtype']!r}; {name!r} is {expected[name]['dtype']!r}")
    missing = [name for name in expected if name not in outputs]
    if missing:
        raise bad(f"'outputs' lacks {', '.join(map(repr, missing))}")


def output_path(out_dir: str | os.PathLike) -> Path:
    """The absolute directory ``out_dir`` names (a symbolic link is followed to its target).

    Raises:
        ValueError: an empty path, a path naming no directory (``/``), a
            symbolic-link loop, a name too long to leave room for the
            siblings dpa makes beside it (``.dpa-trash``), or a name ending
            in one of their suffixes (``params.partial``).
    """
    text = os.fspath(out_dir)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text:
        raise ValueError("the output directory must not be an empty path")
    if "\x00" in text:
        raise ValueError(f"the output directory {text!r} contains a NUL character")
    try:
        return _checked_output_path(Path(os.path.abspath(text)), text)
    except OSError as exc:
        raise ValueError(f"cannot use {shorten(text)} as the output directory: {exc.strerror or exc}") from None


def _checked_output_path(out: Path, text: str) -> Path:
    if out.is_symlink():
        target = Path(os.path.realpath(out))
        if target.is_symlink():
            raise ValueError(f"the output directory {out} is a symbolic link that loops")
        if not target.exists():
            raise ValueError(f"the output directory {out} is a symbolic link to {target}, which does not exist")
        out = target
    if not out.name or out.name in (".", ".."):
        raise ValueError(f"the output directory {text!r} names no directory dpa could create ({out})")
    for suffix in OutputPaths.SUFFIXES:
        if out.name.endswith(suffix) and out.name != suffix:
            raise ValueError(
                f"the output directory's name ends in {suffix!r}, which dpa keeps for what it makes beside an "
                f"output (a run of {out.name[:-len(suffix)]!r} would take it for its own): choose another name "
                f"({shorten(out)})"
            )
    try:
        name_max = os.pathconf(out.parent if out.parent.is_dir() else "/", "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):
        name_max = 255
    room = name_max - OutputPaths.LONGEST_SUFFIX
    if len(os.fsencode(out.name)) > room:
        raise ValueError(
            f"the output directory's name is {len(os.fsencode(out.name))} bytes long; at most {room} leaves room "
            f"for the '.dpa-trash' beside it ({shorten(out)})"
        )
    return out


def foreign_entries(directory: Path, known: set[str]) -> list[str]:
    """What ``directory`` holds that dpa did not write: names outside ``known`` and dpa's own, and subdirectories."""
    out = []
    for name in sorted(os.listdir(directory)):
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            out.append(name + "/")
        elif name not in OWN_NAMES and name not in known:
            out.append(name)
    return out


def listed_files(metadata: Path) -> set[str]:
    """The plain .npy names a (possibly damaged) metadata file lists; nothing outside its directory."""
    try:
        meta = load_json(metadata)
    except (OSError, ValueError):
        return set()
    outputs = meta.get("outputs") if isinstance(meta, dict) else None
    if not isinstance(outputs, dict):
        return set()
    files = {info.get("file") for info in outputs.values() if isinstance(info, dict)}
    return {f for f in files if isinstance(f, str) and f.endswith(".npy") and os.path.basename(f) == f and f not in ("..", ".")}
