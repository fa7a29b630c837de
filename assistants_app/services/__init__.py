"""Logic behind the routes: routes validate, call one function here, commit once, return."""
from flask import g
from sqlalchemy import select

from ..errors import NotFound
from ..extensions import db


def tenant() -> str:
    return g.tenant


def get_owned(model, object_id, message: str | None = None):
    """The row with this id if it belongs to the caller's tenant; 404 otherwise (other
    tenants' rows are indistinguishable from missing ones)."""
    row = db.session.scalar(select(model).where(model.id == str(object_id), model.tenant == tenant()))
    if row is None:
        raise NotFound(message or f"No {model.__name__.lower()} with id {str(object_id)[:100]!r}.")
    return row
