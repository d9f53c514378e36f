"""Adapters between dpa and the libraries people already use.

Each submodule, ``dpa.integrations.<library>``, wraps one library and imports
it lazily: importing :mod:`dpa` or this package never imports torchvision,
kornia, albumentations, Lightning, HuggingFace ``datasets`` or WebDataset.
The adapters use dpa's public API only, and nothing in the core,
:mod:`dpa.distributed` or :mod:`dpa.batch` imports them.
"""
