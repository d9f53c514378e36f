"""Parameters on disk: one ``.npy`` per output plus ``metadata.json``, safe at every instant.

Layout of a finished directory ``DIR``::

    DIR/metadata.json          config, fingerprint, seed, epoch, id range, versions
    DIR/<output name>.npy      one 1-D array per flat output (float64, int64 or bool)

:func:`write_params` builds it in ``DIR.partial/`` and moves it into place
only when complete; killed, out of space or failing at any point, it leaves
either the previous ``DIR`` or a run that ``resume=True`` finishes with the
same bytes. :func:`verify_params` checks a finished directory strictly and
compares every value with a fresh generation, in bounded memory. docs/CLI.md
describes the format and the protocol.

Modules: :mod:`~dpa.store.layout` (names, metadata), :mod:`~dpa.store.npyfile`
(the ``.npy`` bytes), :mod:`~dpa.store.fsops` (locks, atomic files, test
hooks), :mod:`~dpa.store.writer`, :mod:`~dpa.store.verify`,
:mod:`~dpa.store.errors`.

>>> import tempfile, dpa
>>> out = write_params(tempfile.mkdtemp() + "/params", dpa.get_preset("mild"), 100, seed=7)
>>> read_metadata(out)["seed"], verify_params(out).ok
(7, True)
"""

from dpa.store.errors import (
    DamagedOutputError,
    NoSpaceError,
    NotAnOutputError,
    OutputExistsError,
    OutputLockedError,
    ResumeRefusedError,
    StoreError,
    StoreIOError,
)
from dpa.store.fsops import TEST_POINTS
from dpa.store.layout import FORMAT, FORMAT_VERSION, output_path
from dpa.store.verify import VerifyResult, read_metadata, verify_params
from dpa.store.writer import StoreNote, StoreWarning, write_params

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "TEST_POINTS",
    "write_params",
    "verify_params",
    "read_metadata",
    "output_path",
    "VerifyResult",
    "StoreNote",
    "StoreWarning",
    "StoreError",
    "OutputExistsError",
    "NotAnOutputError",
    "OutputLockedError",
    "ResumeRefusedError",
    "DamagedOutputError",
    "NoSpaceError",
    "StoreIOError",
]
