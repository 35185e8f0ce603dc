"""The one counter every transcript entry draws its id from (the transcript keys its
widgets by it, whatever kind of entry they show)."""

from __future__ import annotations

import itertools

_ids = itertools.count(1)


def next_entry_id() -> int:
    """A new entry id, unique in this process."""
    return next(_ids)
