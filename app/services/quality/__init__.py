"""Data-quality flags: computed when a submission is stored, each saying why it fired (issue 5, item 6).

- ``rules``: the flags themselves, pure; ``geo``: point in the project's countries;
- ``ingest``: the hooks the two ingest paths call, and ``set_flag`` / ``clear_flag`` for other modules
  (the indicators mapping sets ``unmapped_values``);
- ``settings``: a form's quality settings (API); ``devices``: devices of revoked credentials.
"""

from app.services.quality.ingest import (
    NewRow,
    assess,
    assess_rows,
    clear_flag,
    fields_for,
    fields_for_id,
    refresh_attachments,
    set_flag,
)
from app.services.quality.rules import ALL_FLAGS, EDIT_CONFLICT

__all__ = [
    "ALL_FLAGS",
    "EDIT_CONFLICT",
    "NewRow",
    "assess",
    "assess_rows",
    "clear_flag",
    "fields_for",
    "fields_for_id",
    "refresh_attachments",
    "set_flag",
]
