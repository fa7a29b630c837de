"""Logic behind the routes: routes validate, call one function here, commit once, return."""
from flask import g
from sqlalchemy import func, select

from ..errors import NotFound
from ..extensions import db


def tenant() -> str:
    return g.tenant


def is_plausible_id(object_id: str) -> bool:
    """Ids are short and printable; anything else cannot exist (and PostgreSQL refuses NUL)."""
    return 0 < len(object_id) <= 128 and "\x00" not in object_id


def get_owned(model, object_id, message: str | None = None):
    """The row with this id if it belongs to the caller's tenant; 404 otherwise (other
    tenants' rows are indistinguishable from missing ones)."""
    object_id = str(object_id)
    row = None
    if is_plausible_id(object_id):
        row = db.session.scalar(select(model).where(model.id == object_id, model.tenant == tenant()))
    if row is None:
        raise NotFound(message or f"No {model.__name__.lower()} with id {str(object_id)[:100]!r}.")
    return row


def paginate(query, pagination_parameters, *order_by) -> list:
    """One page of `query` for flask-smorest's @blp.paginate(), which writes X-Pagination."""
    pagination_parameters.item_count = db.session.scalar(select(func.count()).select_from(query.subquery()))
    return db.session.scalars(
        query.order_by(*order_by).offset(pagination_parameters.first_item).limit(pagination_parameters.page_size)
    ).all()
