"""Logic behind the routes: routes validate, call one function here, commit once, return."""
import functools

from flask import g
from sqlalchemy import bindparam, func, select, update

from ..errors import Conflict, NotFound
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


def get_owned(model, object_id, message: str | None = None):
    """The row with this id if it belongs to the caller's tenant; 404 otherwise (other
    tenants' rows are indistinguishable from missing ones)."""
    object_id = str(object_id)
    row = None
    if is_plausible_id(object_id):
        row = db.session.scalar(owned_select(model), {"id": object_id, "tenant": tenant()})
    if row is None:
        raise NotFound(message or f"No {model.__name__.lower()} with id {str(object_id)[:100]!r}.")
    return row


def commit_keeping_loaded() -> None:
    """Commit without expiring the rows this session has loaded. Only for a commit whose writes
    all went through those objects (or that writes nothing): they then hold what was committed,
    and reading them again costs no query."""
    session = db.session()
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def release_connection() -> None:
    """Give the database connection back to the pool: before every provider call (the adapter calls it,
    create_app registers it: seconds, or a tenant's provider that never answers, would otherwise hold
    the pool's every connection) and before a stream yields. Nothing may be pending (it commits): the
    rows read stay loaded for what follows."""
    session = db.session()
    if session.new or session.deleted or any(session.is_modified(row) for row in session.dirty):
        raise RuntimeError("release_connection() with unwritten changes: call the provider first")
    commit_keeping_loaded()


def lock_row(row, *, unchanged_since=None) -> None:
    """Lock ``row`` until the commit and read it again: a row lock on PostgreSQL, the write
    lock on SQLite (a no-op UPDATE; naming updated_at keeps its onupdate from firing), so
    concurrent writers of one row take turns, each reading what the previous one committed,
    and an If-Match check holds until the write. With ``unchanged_since``, 409 if the row was
    written after that updated_at."""
    model = type(row)
    condition = [model.id == row.id]
    if unchanged_since is not None:
        condition.append(model.updated_at == unchanged_since)
    locked = db.session.execute(update(model).where(*condition).values(updated_at=model.updated_at)
                                .execution_options(synchronize_session=False)).rowcount
    if locked != 1:
        raise Conflict(f"This {model.__name__.lower()} changed while the provider was updated; "
                       "read it again and retry.")
    db.session.refresh(row)


def paginate(query, pagination_parameters, *order_by) -> list:
    """One page of `query` for flask-smorest's @blp.paginate(), which writes X-Pagination."""
    pagination_parameters.item_count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    # Past the last item the page is empty; clamped, a huge ?page= cannot overflow the database's OFFSET.
    offset = min(pagination_parameters.first_item, pagination_parameters.item_count)
    return db.session.scalars(
        query.order_by(*order_by).offset(offset).limit(pagination_parameters.page_size)
    ).all()
