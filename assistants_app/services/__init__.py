"""Logic behind the routes: routes validate, call one function here, commit once, return."""
import functools

from flask import g
from sqlalchemy import bindparam, func, select, update

from ..errors import NotFound
from ..extensions import db


def tenant() -> str:
    return g.tenant


def is_plausible_id(object_id: str) -> bool:
    """Ids are short and printable; anything else cannot exist (and PostgreSQL refuses NUL)."""
    return 0 < len(object_id) <= 128 and "\x00" not in object_id


@functools.cache
def owned_select(model):
    """SELECT model by :id and :tenant, built once per model: composing a select costs about as
    much as running it (~0.1 ms), on every request."""
    return select(model).where(model.id == bindparam("id"), model.tenant == bindparam("tenant"))


def get_owned(model, object_id, message: str | None = None, *, for_update: bool = False):
    """The row with this id if it belongs to the caller's tenant; 404 otherwise (other
    tenants' rows are indistinguishable from missing ones).

    for_update: the row stays locked until the commit, so concurrent writers of one row take
    turns, each reading what the previous one committed: no mixed or lost update, and an
    If-Match check holds until the write. (The model needs an updated_at column.)"""
    object_id = str(object_id)
    row = None
    if is_plausible_id(object_id):
        if for_update:
            # A no-op UPDATE: a row lock on PostgreSQL, the write lock on SQLite (no FOR UPDATE
            # there). Naming updated_at keeps its onupdate from firing.
            db.session.execute(update(model).where(model.id == object_id, model.tenant == tenant())
                               .values(updated_at=model.updated_at)
                               .execution_options(synchronize_session=False))
        row = db.session.scalar(owned_select(model), {"id": object_id, "tenant": tenant()})
    if row is None:
        raise NotFound(message or f"No {model.__name__.lower()} with id {str(object_id)[:100]!r}.")
    return row


def paginate(query, pagination_parameters, *order_by) -> list:
    """One page of `query` for flask-smorest's @blp.paginate(), which writes X-Pagination."""
    pagination_parameters.item_count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    # Past the last item the page is empty; clamped, a huge ?page= cannot overflow the database's OFFSET.
    offset = min(pagination_parameters.first_item, pagination_parameters.item_count)
    return db.session.scalars(
        query.order_by(*order_by).offset(offset).limit(pagination_parameters.page_size)
    ).all()
