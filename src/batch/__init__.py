"""dpa.batch: pluggable batching strategies over parameter streams.

Planned (issue 4): ``BatchProcessor``, ``BatchStrategy``, ``BatchConfig``.
"""

__all__: list[str] = []
