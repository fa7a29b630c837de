"""Carrying a v2 run out, through the turn pipeline (services/turns.py) like every turn: in the
background (services/background.py: a greenlet under gunicorn's gevent workers, a thread elsewhere;
never a polling loop) or inside a streamed response. Either way one generator, execute(), waits queued
for one of its tenant's run slots, moves the run to in_progress, runs its turn -- which checks the
budget, meters and records it as it does every turn -- and yields the v2 stream's events on the way
(run_events.py). A cancel (another request) ends the run in the database; execute() notices within a
second, or at the latest before writing, and then writes nothing. Between events no database connection
is held: what an event shows is a plain value (a presented run)."""
import logging
import time
from typing import Iterator

from sqlalchemy import select, update

from ...errors import ServiceError, as_service_error
from ...extensions import db
from ...models import Message, Run, Thread, new_token_id, utcnow
from ...openai_adapter import ProviderError
from .. import background, release_connection, turns
from ..tenant_limits import Caller
from . import runs, timestamp
from .run_events import RunEvents, tool_step_done
from .run_slots import RunSlot, renew

log = logging.getLogger(__name__)
RENEW_SECONDS = 10.0  # a running run renews its expires_at and its thread's lock this often
ERROR_CODES = {429: "rate_limit_exceeded"}
CLOSED = {"code": "server_error", "message": "The stream was closed before the run finished."}


def in_background(run: Run, token: str, caller: Caller, tool_outputs: list[dict] | None = None) -> None:
    run_id = run.id

    def work():
        for _ in execute(run_id, token, caller, tool_outputs):
            pass
    background.spawn(work, caller.tenant, f"run {run_id}")


def streamed(run: dict, token: str, caller: Caller, tool_outputs: list[dict] | None = None,
             prelude=()) -> Iterator[tuple[str, dict]]:
    """The whole v2 stream of a run just created or resumed (``run``: it presented), ``prelude``
    (thread.created) first. A client that goes away fails the run, wherever the stream was."""
    try:
        yield from prelude
        if not tool_outputs:  # a resumed run was created long ago
            yield "thread.run.created", run
        yield "thread.run.queued", run
        yield from execute(run["id"], token, caller, tool_outputs)
    except GeneratorExit:
        _end_failed(run["id"], CLOSED)
        raise


def execute(run_id: str, token: str, caller: Caller,
            tool_outputs: list[dict] | None = None) -> Iterator[tuple[str, dict]]:
    """Carry the run out, yielding (event, data) of the v2 stream from thread.run.in_progress on."""
    slot = _slot(run_id, token)
    if slot is None or not background.wait_for_slot(slot):
        return  # cancelled, expired or gone before it started
    try:
        begun = _begin(run_id, tool_outputs)
    except ServiceError as err:
        yield from _failed(run_id, _last_error(err))
        return
    if begun is None:
        return  # its thread was deleted just as it started (and the run with it), or it was cancelled
    run, assistant, thread, turn_input, answered = begun
    yield "thread.run.in_progress", run
    if answered is not None:
        yield "thread.run.step.completed", answered
    events = RunEvents(run, new_token_id("msg_"))
    ended: dict = {}
    try:
        stream = turns.stream(caller, assistant, turn_input, thread, lock_token=token, on_overflow="truncate",
                              before_record=_finish(run_id, events.message_id, ended),
                              keep_going=_keep_going(run_id, thread.id, token))
        try:
            for event in stream:
                yield from events.on(event)
        finally:
            stream.close()
    except turns.Abandoned:
        return
    except (ProviderError, ServiceError) as err:
        yield from _failed(run_id, _last_error(err))
        return
    except GeneratorExit:
        _end_failed(run_id, CLOSED)
        raise
    except Exception:  # noqa: BLE001 - the run must end, whatever broke
        log.exception("run %s failed", run_id)
        yield from _failed(run_id, {"code": "server_error", "message": "An internal error occurred."})
        return
    outcome = stream.outcome
    yield from events.ended(outcome.done, {**run, **ended}, outcome.incomplete)


def _slot(run_id: str, token: str) -> RunSlot | None:
    run = db.session.scalar(select(Run).where(Run.id == run_id))
    slot = (RunSlot(run_id, run.tenant, run.thread_id, token)
            if run is not None and run.status == "queued" else None)
    db.session.commit()
    return slot


def _begin(run_id: str, tool_outputs: list[dict] | None):
    """What the run's turn and its events need, read now, and the connection given back: the presented
    run, its assistant and thread, the TurnInput, and (resumed) the tool step its outputs completed."""
    run = db.session.get(Run, run_id, populate_existing=True)
    thread = db.session.get(Thread, run.thread_id) if run is not None else None
    if thread is None or run.status != "in_progress":  # gone, or cancelled since it took its slot
        db.session.commit()
        return None
    if run.assistant is None:  # deleted just as the run started: the deletion failed it already
        db.session.commit()
        raise ServiceError(404, "The run's assistant was deleted.")
    presented = runs.present(run)
    answered = _answered_step(run, presented, tool_outputs) if tool_outputs else None
    begun = presented, run.assistant, thread, runs.turn_input(run, thread, tool_outputs), answered
    release_connection()
    return begun


def _answered_step(run: Run, presented: dict, tool_outputs: list[dict]) -> dict | None:
    """The tool_calls step whose calls ``tool_outputs`` answer, completed (thread.run.step.completed)."""
    asked = db.session.scalar(select(Message).where(Message.run_id == run.id, Message.role == "assistant",
                                                    Message.tool_calls.is_not(None))
                              .order_by(Message.position.desc()).limit(1))
    if asked is None or not asked.tool_calls:
        return None
    outputs = {output["tool_call_id"]: output["output"] for output in tool_outputs}
    return tool_step_done(presented, asked.id, asked.tool_calls, outputs)


def _keep_going(run_id: str, thread_id: str, token: str):
    """keep_going() of the run's turn: still in_progress (not cancelled)? Renews its claim now and then."""
    renewed = [time.monotonic()]

    def still_running() -> bool:
        status = db.session.scalar(select(Run.status).where(Run.id == run_id))
        release_connection()
        if status == "in_progress" and time.monotonic() - renewed[0] > RENEW_SECONDS:
            renew(run_id, thread_id, token)
            renewed[0] = time.monotonic()
        return status == "in_progress"
    return still_running


def _finish(run_id: str, message_id: str, ended: dict):
    """before_record of the run's turn: the reply takes the streamed id, the run its end (completed,
    requires_action or incomplete) in the same commit, unless it was cancelled meanwhile (then nothing
    is written). ``ended`` receives the run's new values as presented."""
    def write(reply_row, done, incomplete):
        reply_row["id"] = message_id
        now = utcnow()
        usage = vars(done.usage) if done.usage else None
        values = {"turn_token": None, "usage": usage}
        if done.tool_calls:
            calls = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                     for c in done.tool_calls]
            values.update(status="requires_action", expires_at=now + runs.TOOL_OUTPUTS_WAIT, required_action={
                "type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}})
        elif incomplete or done.finish_reason == "length":
            values.update(status="incomplete", completed_at=now)
        else:
            values.update(status="completed", completed_at=now)
        if db.session.execute(update(Run).where(Run.id == run_id, Run.status == "in_progress")
                              .values(**values)
                              .execution_options(synchronize_session=False)).rowcount != 1:
            raise turns.Abandoned()
        ended.update(status=values["status"], usage=usage, required_action=values.get("required_action"),
                     completed_at=timestamp(values.get("completed_at")),
                     expires_at=timestamp(values.get("expires_at")),
                     incomplete_details={"reason": "max_completion_tokens"}
                     if values["status"] == "incomplete" else None)
    return write


def _last_error(err: Exception) -> dict:
    service_error = as_service_error(err)
    return {"code": ERROR_CODES.get(service_error.status, "server_error"), "message": service_error.message}


def _end_failed(run_id: str, last_error: dict) -> dict | None:
    """Fail the run if it is still going; the run as presented then, or None if it is gone."""
    db.session.rollback()
    run = db.session.get(Run, run_id, populate_existing=True)  # maybe in another session than it began
    if run is None:
        db.session.commit()
        return None
    if run.status in ("queued", "in_progress"):
        runs.end(run, "failed", last_error)
    presented = runs.present(run)
    db.session.commit()
    return presented


def _failed(run_id: str, last_error: dict) -> Iterator[tuple[str, dict]]:
    presented = _end_failed(run_id, last_error)
    if presented is not None:
        yield "thread.run.failed", presented
