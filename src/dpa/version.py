"""Library and stream versions.

``STREAM_VERSION`` names the algorithm that maps (seed, epoch, sample id,
parameter) to values (docs/SPEC.md). Any change that alters an output bumps
it; the golden vectors in tests/vectors/ enforce that.
"""

__all__ = ["__version__", "STREAM_VERSION"]

__version__ = "0.1.0"
STREAM_VERSION = 1
