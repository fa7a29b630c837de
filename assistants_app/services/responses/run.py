"""Creating a response: one turn of the pipeline (services/turns.py), blocking, streamed, or in the
background, its output items built from how the turn ended and stored with it in the turn's own commit
(the response row; on a conversation, its input and output items too).

    answer = run.create(fields)    # the response object, or (stream) an iterator of SSE frames
    events = run.create(fields, kept, as_events=True)   # (stream) the events as dicts: WebSocket mode, whose
                                                        # store:false responses `kept` holds (unsaved rows)"""
import time
from typing import Iterator

from flask import g

from ...errors import ServiceError, as_service_error
from ...extensions import db
from ...models import new_token_id, utcnow
from ...openai_adapter import ProviderError
from ...responses_models import Response
from ...streaming import sse
from ...workers import new_turn_token
from .. import background, turns
from ..tenant_limits import Caller
from ..turn_lock import stale_after
from . import items, request, store
from .events import Draft, ResponseEvents
from .present import response_object, timestamp, usage_object

API = "responses"
FLUSH_SECONDS = 0.25  # a background response's events are stored at most this far behind
RENEW_SECONDS = 10.0


def create(fields: dict, kept: dict | None = None, *, as_events: bool = False):
    caller = Caller.of_request(API)
    plan = request.plan(fields, kept)
    saved = fields.get("store") is not False
    response_id, created_at = new_token_id("resp_"), utcnow()
    common = dict(created_at=timestamp(created_at), model=plan.turn.model,
                  previous_response_id=plan.previous.id if plan.previous else None,
                  conversation_id=plan.conversation.id if plan.conversation else None,
                  background=bool(fields.get("background")), metadata=fields.get("metadata"))
    if fields.get("background"):
        return _in_background(caller, plan, fields, response_id, created_at, common)
    draft, finished = Draft(searches=plan.searches), {}
    hook = _recorder(plan, draft, finished, saved, response_id, created_at, common, kept=kept)
    if not fields.get("stream"):
        try:
            outcome = turns.complete(caller, plan.assistant, plan.turn, plan.conversation, before_record=hook,
                                     on_overflow="truncate")
        except (ProviderError, ServiceError) as err:
            if saved and isinstance(err, ProviderError):
                _save_failed(plan, response_id, created_at, common, err)
            raise
        return finished["response"] if outcome else None
    stream = turns.stream(caller, plan.assistant, plan.turn, plan.conversation, before_record=hook,
                          on_overflow="truncate")
    begun = response_object(response_id, "in_progress", plan.echo, **common)

    def on_failure(err):
        return _save_failed(plan, response_id, created_at, common, err) if saved else None

    events = _events(stream, draft, finished, begun, on_failure)
    return events if as_events else _frames(events)


def _events(stream, draft: Draft, finished: dict, begun: dict, on_failure) -> Iterator[dict]:
    events = ResponseEvents(draft)
    try:
        yield from [*events.begun(begun), *events.in_progress(begun)]
        for piece in stream:
            yield from events.on(piece)
        yield from events.ended(finished["response"])
    except (ProviderError, ServiceError) as err:
        failed = on_failure(err) or {**begun, "status": "failed", "error": _error(err)}
        yield from events.ended(failed)
    finally:
        stream.close()


def _frames(events: Iterator[dict]) -> Iterator[str]:
    try:
        for event in events:
            yield sse(event, event["type"])
    finally:
        events.close()


def _error(err: Exception) -> dict:
    err = as_service_error(err)
    return {"code": "rate_limit_exceeded" if err.status == 429 else "server_error", "message": err.message}


def _recorder(plan: request.Plan, draft: Draft, finished: dict, saved: bool, response_id: str, created_at,
              common: dict, existing: bool = False, kept: dict | None = None):
    """before_record of the response's turn: its output items (the ids the stream used), the reply row's id
    and items on a conversation, and the response row (new, or a background one brought to its end; not
    saved: kept in ``kept`` when given, never added to the session)."""
    def record(reply_row, done, incomplete):
        call_ids = [draft.call_id(i) for i in range(len(done.tool_calls))]
        output = items.output_items(done, draft.message_id, call_ids, incomplete,
                                    draft.before or [call["item"] for call in plan.searches], draft.searches)
        if reply_row is not None:
            reply_row.update(id=draft.message_id, item={"ids": call_ids})
        status = "incomplete" if incomplete or done.finish_reason == "length" else "completed"
        usage, now = usage_object(done.usage), utcnow()
        finished["response"] = response_object(response_id, status, plan.echo, output=output,
                                               usage=usage, completed_at=timestamp(now), **common)
        if existing:
            if not store.end(response_id, status, commit=False, output=output, usage=usage, completed_at=now):
                raise turns.Abandoned()  # cancelled meanwhile: nothing is written
        elif saved:
            db.session.add(_row(plan, response_id, created_at, common, status=status, output=output,
                                usage=usage, completed_at=now))
        elif kept is not None:  # with its whole context: the rows of its chain may be gone from `kept`
            row = _row(plan, response_id, created_at, common, status=status, output=output)
            kept[response_id] = row
            row.previous_response_id, row.input_items = None, [*plan.context, *plan.input_items]
    return record


def _row(plan: request.Plan, response_id: str, created_at, common: dict, **values) -> Response:
    return Response(id=response_id, tenant=g.tenant, created_at=created_at, model=common["model"],
                    previous_response_id=common["previous_response_id"],
                    conversation_id=common["conversation_id"],
                    assistant_id=plan.assistant.id or None, background=common["background"],
                    request={**plan.echo, "conversation_id": common["conversation_id"]},
                    input_items=plan.input_items, response_metadata=common["metadata"] or {},
                    api_key_id=g.get("api_key_id"), **{"output": [], **values})


def _save_failed(plan: request.Plan, response_id: str, created_at, common: dict, err: Exception) -> dict:
    """A failed response is stored too (nothing of it reaches a conversation)."""
    db.session.rollback()
    error = _error(err)
    db.session.add(_row(plan, response_id, created_at, common, status="failed", error=error))
    db.session.commit()
    return response_object(response_id, "failed", plan.echo, error=error, **common)


# ---------------------------------------------------------------- background

def _in_background(caller: Caller, plan: request.Plan, fields: dict, response_id: str, created_at,
                   common: dict):
    """Stored queued, carried out by a greenlet; answered queued, or streamed from its stored events."""
    row = _row(plan, response_id, created_at, common, status="queued", expires_at=utcnow() + stale_after())
    row.request = {**row.request, "create": {k: v for k, v in fields.items() if k not in ("input", "stream")}}
    queued = response_object(response_id, "queued", plan.echo, **common)
    db.session.add(row)
    store.save_events(response_id, ResponseEvents(Draft()).begun(queued))
    db.session.commit()
    background.spawn(lambda: execute(response_id, caller), caller.tenant, f"response {response_id}")
    if fields.get("stream"):
        return store.replay(response_id, -1)
    return queued


def execute(response_id: str, caller: Caller) -> None:
    """Carry out a queued background response: wait for a slot, run its turn, store its events as they
    come."""
    g.tenant = caller.tenant
    g.api_key_id = caller.api_key_id
    token = new_turn_token()
    if not background.wait_for_slot(store.ResponseSlot(response_id, caller.tenant, token)):
        return  # cancelled while queued
    row = db.session.get(Response, response_id)
    fields = {**row.request["create"], "input": row.input_items}
    common = dict(created_at=timestamp(row.created_at), model=row.model,
                  previous_response_id=row.previous_response_id, conversation_id=row.conversation_id,
                  background=True, metadata=row.response_metadata)
    db.session.commit()
    events = ResponseEvents(Draft())
    events.number = 2  # created and queued were stored when it was created
    pending = events.in_progress(response_object(response_id, "in_progress", row.request, **common))
    try:
        plan = request.plan(fields)
        events.draft.searches = plan.searches
        finished: dict = {}
        hook = _recorder(plan, events.draft, finished, True, response_id, None, common, existing=True)
        stream = turns.stream(caller, plan.assistant, plan.turn, plan.conversation, before_record=hook,
                              keep_going=_keep_going(response_id), on_overflow="truncate")
        try:
            flushed = time.monotonic()
            for piece in stream:
                pending += events.on(piece)
                if time.monotonic() - flushed > FLUSH_SECONDS:
                    _flush(response_id, pending)
                    flushed = time.monotonic()
        finally:
            stream.close()
        pending += events.ended(finished["response"])
    except turns.Abandoned:
        return _flush(response_id, pending)
    except (ProviderError, ServiceError) as err:
        store.end(response_id, "failed", error=_error(err))
        pending += events.ended(response_object(response_id, "failed", row.request, error=_error(err),
                                                **common))
    _flush(response_id, pending)


def _flush(response_id: str, pending: list) -> None:
    db.session.rollback()
    store.save_events(response_id, pending)
    db.session.commit()
    pending.clear()


def _keep_going(response_id: str):
    renewed = [time.monotonic()]

    def still_running() -> bool:
        status = db.session.scalar(db.select(Response.status).where(Response.id == response_id))
        db.session.commit()
        if status == "in_progress" and time.monotonic() - renewed[0] > RENEW_SECONDS:
            store.renew(response_id)
            renewed[0] = time.monotonic()
        return status == "in_progress"
    return still_running
