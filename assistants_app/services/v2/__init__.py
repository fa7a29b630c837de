"""The Assistants API v2 (/v1) over the service's own rows: assistants (the same rows as every
API), threads without an assistant of their own, messages, and runs that go through the turn
pipeline (services/turns.py). These modules build OpenAI's objects as plain dicts."""
from datetime import datetime

from ...errors import ServiceError


def timestamp(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def listing(data: list, has_more: bool) -> dict:
    """OpenAI's list: ``data`` of objects as presented (dicts) or of rows its schema dumps."""
    def id_of(item):
        return item["id"] if isinstance(item, dict) else item.id
    return {"object": "list", "data": data, "first_id": id_of(data[0]) if data else None,
            "last_id": id_of(data[-1]) if data else None, "has_more": has_more}


class ActiveRun(ServiceError):
    """OpenAI's answer to a second run (or a new message) while a run is active."""

    def __init__(self, thread_id: str, run_id: str | None = None):
        what = f"run {run_id}" if run_id else "run"
        super().__init__(400, f"Thread {thread_id} already has an active {what}.")
