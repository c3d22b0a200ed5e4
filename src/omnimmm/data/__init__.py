"""Data layer: the media-panel contract, reading and validation (clear errors), summaries.

Submodules such as :mod:`omnimmm.data.calendar` and :mod:`omnimmm.data.simulate` are imported
on their own.
"""

from omnimmm.data.io import file_sha256, load_panel, read_table, summarize_panel
from omnimmm.data.schema import Panel, frame_hash, min_weeks

__all__ = [
    "Panel",
    "file_sha256",
    "frame_hash",
    "load_panel",
    "min_weeks",
    "read_table",
    "summarize_panel",
]
