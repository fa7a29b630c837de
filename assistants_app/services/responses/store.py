"""Stored responses: read (a background response whose worker stopped is failed on read), deleted,
cancelled, their input items paged, and a background response's events replayed as they are stored.
ResponseSlot is a background response's claim on one of its tenant's slots (services/background.py)."""
import time
from typing import Iterator

from sqlalchemy import select, update

from ...errors import NotFound, ServiceError
from ...extensions import db
from ...models import utcnow
from ...responses_models import Response, ResponseEvent
from ...streaming import sse
from .. import active_work, background, is_plausible_id, owned_select, pages, tenant
from ..turn_lock import stale_after
from .present import stored_object

ACTIVE = ("queued", "in_progress")
REPLAY_WAIT_SECONDS = 0.25  # a replay waiting for a running response's next events asks this often
DIED = {"code": "server_error", "message": "The worker running this response stopped before it finished."}


def get(response_id: str) -> Response:
    row = None
    if is_plausible_id(response_id):
        row = db.session.scalar(owned_select(Response), {"id": response_id, "tenant": tenant()})
    if row is None:
        raise NotFound(f"Response with id '{response_id[:128]}' not found.")
    if row.status in ACTIVE and row.expires_at is not None and row.expires_at < utcnow():
        end(row.id, "failed", error=DIED)
        db.session.refresh(row)
    return row


def end(response_id: str, status: str, *, commit: bool = True, **values) -> bool:
    """Move an active response to a final status, unless it ended meanwhile (then False)."""
    changed = db.session.execute(update(Response)
                                 .where(Response.id == response_id, Response.status.in_(ACTIVE))
                                 .values(status=status, turn_token=None, **values)
                                 .execution_options(synchronize_session=False)).rowcount == 1
    if commit:
        db.session.commit()
    return changed


def cancel(row: Response) -> Response:
    """A background response still going is cancelled (its worker notices within a second and writes
    nothing more); one that ended is answered as it is."""
    if not row.background:
        raise ServiceError(400, "Only background responses can be cancelled.")
    if end(row.id, "cancelled"):
        background.wake_next(row.tenant)
    db.session.refresh(row)
    return row


def delete(row: Response) -> dict:
    db.session.delete(row)
    return {"id": row.id, "object": "response.deleted", "deleted": True}


def input_items(row: Response, params: dict) -> dict:
    """A page of the items a response was given (OpenAI's list: order, after, limit)."""
    found = list(row.input_items)
    if params["order"] == "desc":
        found.reverse()
    ids = [item["id"] for item in found]
    if params.get("after") is not None:
        if params["after"] not in ids:
            raise pages.unknown_cursor("after", params["after"])
        found = found[ids.index(params["after"]) + 1:]
    chosen = found[:params["limit"]]
    return {"object": "list", "data": chosen, "first_id": chosen[0]["id"] if chosen else None,
            "last_id": chosen[-1]["id"] if chosen else None, "has_more": len(found) > len(chosen)}


def save_events(response_id: str, events: list[dict]) -> None:
    """Keep a background response's events for replay (in the caller's transaction)."""
    if events:
        db.session.add_all(ResponseEvent(response_id=response_id, sequence_number=event["sequence_number"],
                                         event=event) for event in events)


def replay_stored(row: Response, starting_after: int) -> Iterator[str]:
    """GET /v1/responses/{id}?stream=true: a background response's events again (no other keeps them)."""
    if not row.background:
        raise ServiceError(400, "Only background responses can be streamed again.")
    return replay(row.id, starting_after)


def replay(response_id: str, starting_after: int) -> Iterator[str]:
    """SSE frames of a stored response's events after ``starting_after``, then of those still to come, until
    it has ended. Holds no connection while it waits."""
    last = starting_after
    while True:
        rows = db.session.execute(select(ResponseEvent.sequence_number, ResponseEvent.event)
                                  .where(ResponseEvent.response_id == response_id,
                                         ResponseEvent.sequence_number > last)
                                  .order_by(ResponseEvent.sequence_number).limit(500)).all()
        status = db.session.scalar(select(Response.status).where(Response.id == response_id))
        db.session.commit()
        for number, event in rows:
            last = number
            yield sse(event, event["type"])
        if not rows and status not in ACTIVE:
            return
        if not rows:
            time.sleep(REPLAY_WAIT_SECONDS)


def present(row: Response) -> dict:
    return stored_object(row)


class ResponseSlot:
    """What background.wait_for_slot() asks of a queued background response (each method commits)."""

    def __init__(self, response_id: str, tenant_name: str, token: str):
        self.response_id, self.tenant, self.token = response_id, tenant_name, token

    def take(self) -> bool:
        queued = update(Response).where(Response.id == self.response_id, Response.status == "queued")
        return active_work.claim(queued.values(status="in_progress", turn_token=self.token,
                                               expires_at=utcnow() + stale_after()), self.tenant)

    def waiting(self) -> bool:
        status = db.session.scalar(select(Response.status).where(Response.id == self.response_id))
        db.session.commit()
        return status == "queued"

    def renew(self) -> None:
        renew(self.response_id)


def renew(response_id: str) -> None:
    db.session.execute(update(Response).where(Response.id == response_id, Response.status.in_(ACTIVE))
                       .values(expires_at=utcnow() + stale_after())
                       .execution_options(synchronize_session=False))
    db.session.commit()
