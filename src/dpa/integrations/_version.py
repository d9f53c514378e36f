"""The library versions an adapter was tested against, checked before it drives anything.

An adapter builds each transform's parameters in the exact format the
library's own parameter sampler produces, and those formats change between
releases without notice. So an adapter refuses a version outside the range
it was tested with, rather than driving the library with parameters it may
misread.
"""

from __future__ import annotations

import importlib
import re
from importlib import metadata

__all__ = ["UnsupportedVersionError", "require_version"]


class UnsupportedVersionError(ImportError):
    """The installed library is outside the version range an adapter was tested with."""


def _release(version: str, distribution: str = "") -> tuple[int, ...]:
    """The numeric release part of a version string: ``"2.0.8.post1"`` -> ``(2, 0, 8)``."""
    match = re.match(r"\d+(?:\.\d+)*", version)
    if match is None:
        raise UnsupportedVersionError(f"{distribution or 'a library'}: cannot read a version number from {version!r}")
    return tuple(int(part) for part in match.group(0).split("."))


def require_version(distribution: str, low: str, high: str, tested: str, note: str = "", module: str | None = None) -> str:
    """Check that ``distribution`` is installed at a version in ``[low, high)``; return that version.

    Args:
        distribution: the package's distribution name (``"kornia"``).
        low, high: the supported range, ``low`` included, ``high`` excluded.
        tested: the version(s) the test suite ran against, for the message.
        note: a sentence appended to the message (e.g. why a fork is not supported).
        module: the import name, whose ``__version__`` (when it has one) must
            be in the range too: it is the code that will run.

    Returns:
        The installed version string.

    Raises:
        UnsupportedVersionError: the distribution is not installed, or its
            version (or the module's) is outside ``[low, high)``.

    >>> require_version("numpy", "1.0", "1000.0", tested="any") != ""
    True
    """
    try:
        installed = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        raise UnsupportedVersionError(
            f"dpa.integrations needs the {distribution!r} distribution (>={low},<{high}, tested with {tested}); "
            f"it is not installed. {note}".rstrip()
        ) from None
    imported = importlib.import_module(module) if module is not None else None
    for found in (installed, getattr(imported, "__version__", installed)):
        if not _release(low) <= _release(str(found), distribution) < _release(high):
            raise UnsupportedVersionError(
                f"dpa.integrations supports {distribution} >={low},<{high} (tested with {tested}); found {found}. "
                f"Its parameter formats change between releases, so dpa refuses to drive a version it was not "
                f"tested with: install a supported one (pip install '{distribution}>={low},<{high}'). {note}".rstrip()
            )
    return installed
