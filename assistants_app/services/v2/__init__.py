"""The Assistants API v2 (/v1) over the service's own rows: assistants (the same rows as every
API), threads without an assistant of their own, messages, and runs that go through the turn
pipeline (services/turns.py). These modules build OpenAI's objects as plain dicts."""
from datetime import datetime

from sqlalchemy import and_, or_

from ...errors import ServiceError, invalid
from ...extensions import db


def timestamp(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def _beyond(columns, values, later: bool):
    """(columns) strictly after (later) or before the cursor's values, compared in order."""
    first, *rest = columns
    step = first > values[0] if later else first < values[0]
    if not rest:
        return step
    return or_(step, and_(first == values[0], _beyond(rest, values[1:], later)))


def page(query, columns, cursor_of, params: dict) -> dict:
    """One page of a list, OpenAI's way: limit, order (asc|desc), after and before (ids of rows
    in the list). cursor_of(id) -> the row's values of ``columns``, or None if it is not in the list."""
    descending = params["order"] == "desc"
    for name, later in (("after", not descending), ("before", descending)):
        if name in params:
            values = cursor_of(params[name])
            if values is None:
                raise invalid(name, f"No object {params[name][:128]!r} in this list.")
            query = query.where(_beyond(columns, values, later))
    # With only `before`, the page is the one nearest to the cursor: read backwards, then turn it round.
    backwards = "before" in params and "after" not in params
    forward_desc = descending != backwards
    query = query.order_by(*(column.desc() if forward_desc else column.asc() for column in columns))
    rows = list(db.session.scalars(query.limit(params["limit"] + 1)))
    has_more = len(rows) > params["limit"]
    rows = rows[:params["limit"]]
    if backwards:
        rows.reverse()
    return {"rows": rows, "has_more": has_more}


def listing(rows: list, data: list[dict], has_more: bool) -> dict:
    return {"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None, "has_more": has_more}


class ActiveRun(ServiceError):
    """OpenAI's answer to a second run (or a new message) while a run is active."""

    def __init__(self, thread_id: str, run_id: str | None = None):
        what = f"run {run_id}" if run_id else "run"
        super().__init__(400, f"Thread {thread_id} already has an active {what}.")
