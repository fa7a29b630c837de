"""One cursor paginator, OpenAI's way, for every API that lists (the agents API, v2, and those to come):

    found = pages.page(query, (Message.position,), cursor_of, params, size=func.length(Message.content))
    found.rows, found.has_more

``params``: ``limit``, ``order`` (asc|desc), ``after`` and ``before`` (ids of rows in the list);
``cursor_of(id)``: the values of ``columns`` of that row, or None when it is not in the list (422 naming
the parameter). ``size``: a column expression of a row's size in bytes: a page then also stops before
MAX_PAGE_BYTES of it (one row at least), and the rows that do not fit are never read."""
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import LargeBinary, and_, cast, func, or_

from ..errors import ServiceError
from ..extensions import db


@dataclass
class Page:
    rows: list
    has_more: bool


def beyond(columns, values, later: bool):
    """(columns) strictly after (later) or before the cursor's values, compared in order."""
    first, *rest = columns
    step = first > values[0] if later else first < values[0]
    if not rest:
        return step
    return or_(step, and_(first == values[0], beyond(rest, values[1:], later)))


def unknown_cursor(name: str, value: str, location: str = "query") -> ServiceError:
    return ServiceError(422, "The request is invalid.",
                        {location: {name: [f"No object {value[:128]!r} in this list."]}})


def text_bytes(column):
    """A text column's size in UTF-8 bytes, on either database (SQLite's length() of a BLOB counts bytes)."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.octet_length(column)
    return func.length(cast(column, LargeBinary))


def page(query, columns, cursor_of, params: dict, size=None) -> Page:
    descending = params["order"] == "desc"
    for name, later in (("after", not descending), ("before", descending)):
        if params.get(name) is not None:
            values = cursor_of(params[name])
            if values is None:
                raise unknown_cursor(name, params[name])
            query = query.where(beyond(columns, values, later))
    # With only `before`, the page is the one nearest to the cursor: read backwards, then turn it round.
    backwards = params.get("before") is not None and params.get("after") is None
    forward_desc = descending != backwards
    query = query.order_by(*(column.desc() if forward_desc else column.asc() for column in columns))
    limit = params["limit"]
    if size is not None:
        limit = min(limit, _fitting(query, size, limit))
    rows = list(db.session.scalars(query.limit(limit + 1)))
    has_more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    return Page(rows, has_more)


def _fitting(query, size, limit: int) -> int:
    """How many of the query's first ``limit`` rows fit in MAX_PAGE_BYTES (at least one)."""
    budget = current_app.config["MAX_PAGE_BYTES"]
    sizes = db.session.scalars(query.with_only_columns(size).limit(limit)).all()
    total = count = 0
    for row_size in sizes:
        total += row_size or 0
        if count and total > budget:
            break
        count += 1
    return max(count, 1)
