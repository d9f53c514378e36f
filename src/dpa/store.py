"""Parameters on disk: one ``.npy`` per output, a metadata file, atomic completion.

Layout of a finished directory ``DIR``::

    DIR/metadata.json          config, fingerprint, seed, epoch, id range, versions
    DIR/<output name>.npy      one 1-D array per flat output (float64, int64 or bool)

Writing happens in ``DIR.partial/`` through memory maps, chunk by chunk, so
memory stays constant whatever the number of samples. After each chunk the
arrays are flushed and ``progress.json`` records how many samples are on
disk; only when every sample is written is ``metadata.json`` written and the
directory renamed to ``DIR``. A killed run therefore leaves only
``DIR.partial/``, which never looks complete, and ``resume=True`` finishes
it from the last recorded chunk with a byte-identical result.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from dpa.config import AugmentationConfig
from dpa.generate import gen_augmentation_batch
from dpa.keys import check_epoch, check_sample_id, check_seed
from dpa.version import STREAM_VERSION, __version__

__all__ = ["write_params", "verify_params", "read_metadata", "VerifyResult", "FORMAT"]

FORMAT = "dpa-params"
FORMAT_VERSION = 1
METADATA = "metadata.json"
PROGRESS = "progress.json"
_DTYPES = {"float": "float64", "int": "int64", "bool": "bool"}


def _partial(out_dir: Path) -> Path:
    return out_dir.with_name(out_dir.name + ".partial")


def _atomic_write_json(path: Path, data: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _metadata(config: AugmentationConfig, num_samples: int, seed: int, epoch: int, start: int) -> dict[str, Any]:
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
        "outputs": {o.name: {"file": f"{o.name}.npy", "dtype": _DTYPES[o.dtype]} for o in config.outputs},
    }


def _check_count(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {low}; got {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}; got {value}")
    return int(value)


def write_params(
    out_dir: str | os.PathLike,
    config: AugmentationConfig,
    num_samples: int,
    seed: int = 0,
    epoch: int = 0,
    start: int = 0,
    chunk_size: int = 1 << 18,
    overwrite: bool = False,
    resume: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Generate the parameters of ids ``start .. start + num_samples - 1`` into ``out_dir``.

    Args:
        out_dir: the directory to create.
        config: the config to generate.
        num_samples: how many samples (>= 0).
        seed, epoch: as for :func:`dpa.gen_augmentation_batch`.
        start: first sample id; the last id must stay below 2**64.
        chunk_size: samples per chunk (memory is about 8 bytes x outputs x chunk).
        overwrite: replace an existing ``out_dir``.
        resume: continue an interrupted run from ``out_dir.partial`` (its
            metadata must match these arguments).
        progress: called with the number of samples written after each chunk.

    Returns:
        ``out_dir`` as a Path.

    Raises:
        FileExistsError: ``out_dir`` exists and ``overwrite`` is False, or a
            partial run exists and neither ``resume`` nor ``overwrite`` is set.
        ValueError: bad numbers, or a partial run made with other arguments.
    """
    out = Path(out_dir)
    seed, epoch = check_seed(seed), check_epoch(epoch)
    num_samples = _check_count("num_samples", num_samples, 0)
    chunk_size = _check_count("chunk_size", chunk_size, 1)
    start = check_sample_id(start, "start")
    if num_samples and start + num_samples - 1 >= 1 << 64:
        raise ValueError(
            f"start + num_samples - 1 must be < 2**64 (the largest sample id); got start={start}, num_samples={num_samples}"
        )
    partial = _partial(out)
    if out.exists():
        if not overwrite:
            raise FileExistsError(f"{out} already exists; pass overwrite=True (--overwrite) to replace it")
    meta = _metadata(config, num_samples, seed, epoch, start)
    done = 0
    if partial.exists() and resume:
        try:
            old = json.loads((partial / METADATA.replace(".json", ".pending.json")).read_text())
            done = json.loads((partial / PROGRESS).read_text())["done"]
        except (OSError, ValueError, KeyError) as exc:
            raise ValueError(f"cannot resume from {partial}: its progress files are unreadable ({exc})") from None
        keys = ("fingerprint", "seed", "epoch", "start", "num_samples", "stream_version")
        diff = [k for k in keys if old.get(k) != meta[k]]
        if diff:
            raise ValueError(
                f"cannot resume {partial}: it was started with different {', '.join(diff)} "
                f"({', '.join(f'{k}={old.get(k)!r}' for k in diff)}); rerun with those or with --overwrite"
            )
    elif partial.exists() and not overwrite:
        raise FileExistsError(
            f"{partial} holds an interrupted run; pass resume=True (--resume) to finish it or overwrite=True to restart"
        )
    else:
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(parents=True)
        _atomic_write_json(partial / METADATA.replace(".json", ".pending.json"), meta)
        for o in config.outputs:
            np.lib.format.open_memmap(
                partial / f"{o.name}.npy", mode="w+", dtype=_DTYPES[o.dtype], shape=(num_samples,)
            ).flush()
        _atomic_write_json(partial / PROGRESS, {"done": 0})
    # Each chunk goes through a memory map of just its window of each file,
    # unmapped after the flush: the process never keeps more than one chunk of
    # any file mapped, so its RSS stays flat however many samples are written.
    offsets = {}
    for o in config.outputs:
        with open(partial / f"{o.name}.npy", "rb") as fh:
            np.lib.format.read_magic(fh)
            np.lib.format.read_array_header_1_0(fh)
            offsets[o.name] = (fh.tell(), np.dtype(_DTYPES[o.dtype]))
    if progress is not None:
        progress(done)
    for lo in range(done, num_samples, chunk_size):
        hi = min(lo + chunk_size, num_samples)
        ids = np.arange(hi - lo, dtype=np.uint64) + np.uint64(start + lo)
        batch = gen_augmentation_batch(ids, config, seed=seed, epoch=epoch)
        for name, arr in batch.items():
            header, dtype = offsets[name]
            window = np.memmap(partial / f"{name}.npy", dtype=dtype, mode="r+", offset=header + lo * dtype.itemsize,
                               shape=(hi - lo,))
            window[:] = arr
            window.flush()
            del window
        _atomic_write_json(partial / PROGRESS, {"done": hi})
        if progress is not None:
            progress(hi)
    meta["created"] = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    _atomic_write_json(partial / METADATA, meta)
    (partial / METADATA.replace(".json", ".pending.json")).unlink()
    (partial / PROGRESS).unlink()
    if out.exists():
        shutil.rmtree(out)
    os.replace(partial, out)
    return out


def read_metadata(directory: str | os.PathLike) -> dict[str, Any]:
    """The metadata of a finished output directory.

    Raises:
        FileNotFoundError: no ``metadata.json`` (for example an interrupted run).
        ValueError: it is not a dpa parameter directory.
    """
    path = Path(directory) / METADATA
    if not path.exists():
        hint = ""
        if _partial(Path(directory)).exists():
            hint = f" ({_partial(Path(directory))} holds an interrupted run: finish it with --resume)"
        raise FileNotFoundError(f"{path} does not exist: not a finished dpa output directory{hint}")
    meta = json.loads(path.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a {FORMAT} metadata file")
    return meta


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_params`: ``ok``, or the first difference found."""

    ok: bool
    samples: int
    output: str | None = None
    sample_id: int | None = None
    expected: Any = None
    found: Any = None
    message: str = ""


def verify_params(
    directory: str | os.PathLike, chunk_size: int = 1 << 18, progress: Callable[[int], None] | None = None
) -> VerifyResult:
    """Regenerate what ``directory``'s metadata describes and compare it with the stored arrays, bit for bit."""
    directory = Path(directory)
    meta = read_metadata(directory)
    config = AugmentationConfig.from_dict(meta["config"])
    n, start, seed, epoch = meta["num_samples"], meta["start"], meta["seed"], meta["epoch"]
    if meta.get("stream_version") != STREAM_VERSION:
        return VerifyResult(
            False, 0, message=f"written with stream version {meta.get('stream_version')}, this dpa has {STREAM_VERSION}"
        )
    if config.fingerprint() != meta.get("fingerprint"):
        return VerifyResult(False, 0, message="the stored config does not match its fingerprint")
    arrays = {}
    for name, info in meta["outputs"].items():
        path = directory / info["file"]
        if not path.exists():
            return VerifyResult(False, 0, output=name, message=f"{path} is missing")
        arr = np.load(path, mmap_mode="r")
        if arr.shape != (n,) or str(arr.dtype) != info["dtype"]:
            return VerifyResult(
                False, 0, output=name, message=f"{path}: shape {arr.shape} dtype {arr.dtype}, expected ({n},) {info['dtype']}"
            )
        arrays[name] = arr
    for lo in range(0, n, chunk_size):
        hi = min(lo + chunk_size, n)
        ids = np.arange(hi - lo, dtype=np.uint64) + np.uint64(start + lo)
        batch = gen_augmentation_batch(ids, config, seed=seed, epoch=epoch)
        for name, expected in batch.items():
            stored = arrays[name][lo:hi]
            bad = _first_difference(expected, stored)
            if bad is not None:
                sid = start + lo + bad
                want, got = expected[bad].item(), stored[bad].item()
                return VerifyResult(
                    False,
                    lo + bad,
                    output=name,
                    sample_id=sid,
                    expected=want,
                    found=got,
                    message=f"{name} differs at sample id {sid}: expected {want!r}, found {got!r}",
                )
        if progress is not None:
            progress(hi)
    return VerifyResult(True, n, message=f"all {n} samples x {len(arrays)} outputs identical")


def _first_difference(a: np.ndarray, b: np.ndarray) -> int | None:
    """Index of the first element whose bytes differ (so -0.0 != 0.0 and NaNs compare), or None."""
    ab = np.ascontiguousarray(a).view(np.uint8).reshape(len(a), -1)
    bb = np.ascontiguousarray(b).view(np.uint8).reshape(len(b), -1)
    diff = (ab != bb).any(axis=1)
    return int(np.argmax(diff)) if diff.any() else None
