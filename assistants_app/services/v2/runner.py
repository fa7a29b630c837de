"""Carrying a run out: in the background (a greenlet under gunicorn's gevent workers, a thread
elsewhere; never a polling loop) or inside a streamed response. Either way one generator,
execute(), moves the run through in_progress to completed, requires_action or failed, through
the turn pipeline's ThreadTurn (which holds the thread's lock the run took when created), and
yields the v2 stream's events on the way. A cancel (another request) ends the run in the
database; execute() notices between the reply's pieces, or at the latest before writing, and
then writes nothing."""
import logging
import threading
import time
from typing import Iterator

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm.exc import ObjectDeletedError

from ...errors import ServiceError, as_service_error
from ...extensions import db, openai_adapter
from ...models import Run, Thread, new_token_id, utcnow
from ...openai_adapter import ProviderError, TurnDone
from .. import release_connection
from ..turns import ThreadTurn
from . import runs, steps, timestamp

log = logging.getLogger(__name__)
CANCEL_CHECK_SECONDS = 1.0
EXTENSION = "assistants_v2_runs"  # the background runs of an app still going (tests wait for them)
ERROR_CODES = {429: "rate_limit_exceeded"}
CLOSED = {"code": "server_error", "message": "The stream was closed before the run finished."}


class Cancelled(Exception):
    """The run was cancelled (or ended otherwise) while its reply was coming."""


def in_background(run: Run, token: str, tool_outputs: list[dict] | None = None) -> None:
    app = current_app._get_current_object()
    going = app.extensions.setdefault(EXTENSION, set())

    def work():
        try:
            with app.app_context():
                try:
                    for _ in execute(run.id, token, tool_outputs):
                        pass
                finally:
                    db.session.remove()
        finally:
            going.discard(worker)

    worker = threading.Thread(target=work, name=f"run {run.id}", daemon=True)
    going.add(worker)
    worker.start()


def streamed(run: Run, token: str, tool_outputs: list[dict] | None = None, prelude=()) -> Iterator[tuple[str, dict]]:
    """The whole v2 stream of a run just created (or resumed): ``prelude`` (thread.created), then
    the run's events. A client that goes away fails the run, wherever the stream was."""
    run_id = run.id
    try:
        yield from prelude
        yield "thread.run.created", runs.present(run)
        yield "thread.run.queued", runs.present(run)
        yield from execute(run_id, token, tool_outputs)
    except GeneratorExit:
        _end_failed(run_id, CLOSED)
        raise


def message(run: Run, message_id: str, status: str, text: str | None = None) -> dict:
    content = [] if text is None else [{"type": "text", "text": {"value": text, "annotations": []}}]
    now = timestamp(utcnow())
    return {"id": message_id, "object": "thread.message", "created_at": now, "thread_id": run.thread_id,
            "status": status, "incomplete_details": None, "completed_at": now if status == "completed" else None,
            "incomplete_at": None, "role": "assistant", "content": content,
            "assistant_id": run.assistant_public_id,
            "run_id": run.id, "attachments": [], "metadata": {}}


def _delta(message_id: str, text: str) -> dict:
    return {"id": message_id, "object": "thread.message.delta",
            "delta": {"content": [{"index": 0, "type": "text", "text": {"value": text, "annotations": []}}]}}


def _started(run: Run, message_id: str) -> Iterator[tuple[str, dict]]:
    yield "thread.run.step.created", steps.step(run, "message_creation", message_id, "in_progress")
    yield "thread.run.step.in_progress", steps.step(run, "message_creation", message_id, "in_progress")
    yield "thread.message.created", message(run, message_id, "in_progress")
    yield "thread.message.in_progress", message(run, message_id, "in_progress")


def _still_running(run_id: str) -> bool:
    status = db.session.scalar(select(Run.status).where(Run.id == run_id))
    release_connection()
    return status == "in_progress"


def _finish(run: Run, done: TurnDone, message_id: str):
    """before_commit of the run's turn: the reply takes the streamed id, the run its end, unless
    it was cancelled meanwhile (then nothing is written)."""
    def write(reply_row):
        reply_row["id"] = message_id
        now = utcnow()
        values = {"turn_token": None, "usage": vars(done.usage) if done.usage else None}
        if done.tool_calls:
            calls = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                     for c in done.tool_calls]
            values.update(status="requires_action", expires_at=now + runs.TOOL_OUTPUTS_WAIT, required_action={
                "type": "submit_tool_outputs", "submit_tool_outputs": {"tool_calls": calls}})
        else:
            values.update(status="completed", completed_at=now)
        if db.session.execute(update(Run).where(Run.id == run.id, Run.status == "in_progress").values(**values)
                              .execution_options(synchronize_session=False)).rowcount != 1:
            raise Cancelled()
    return write


def _start(run_id: str) -> Run | None:
    run = db.session.get(Run, run_id)
    started = db.session.execute(update(Run).where(Run.id == run_id, Run.status == "queued").values(
        status="in_progress", started_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return run if started == 1 else None


def execute(run_id: str, token: str, tool_outputs: list[dict] | None = None) -> Iterator[tuple[str, dict]]:
    """Carry the run out, yielding (event, data) of the v2 stream from thread.run.in_progress on."""
    run = _start(run_id)
    if run is None:
        return  # cancelled before it started
    try:
        started = runs.present(run)  # read again: _start() committed
    except ObjectDeletedError:
        return  # its thread was deleted just after it started, and the run with it
    yield "thread.run.in_progress", started
    message_id, announced = new_token_id("msg_"), False
    try:
        thread = db.session.get(Thread, run.thread_id)
        if thread is None:
            return  # deleted meanwhile, and its runs with it
        with ThreadTurn(thread, runs.turn_input(run, thread, tool_outputs), run.assistant, token) as owner:
            items = openai_adapter.stream_turn(owner.conn, owner.request)
            try:
                checked = time.monotonic()
                for item in items:
                    if isinstance(item, TurnDone):
                        done = item
                        continue
                    if not announced:
                        announced = True
                        yield from _started(run, message_id)
                    yield "thread.message.delta", _delta(message_id, item.text)
                    if time.monotonic() - checked > CANCEL_CHECK_SECONDS:
                        checked = time.monotonic()
                        if not _still_running(run_id):
                            raise Cancelled()  # the provider's answer is abandoned
            finally:
                items.close()
            owner.record(done, before_commit=_finish(run, done, message_id))
    except Cancelled:
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
    db.session.refresh(run)
    if done.text or not done.tool_calls:
        if not announced:
            yield from _started(run, message_id)
        yield "thread.message.completed", message(run, message_id, "completed", done.text)
        yield "thread.run.step.completed", steps.step(run, "message_creation", message_id, "completed",
                                                      completed_at=utcnow())
    if done.tool_calls:
        calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in done.tool_calls]
        yield "thread.run.step.created", steps.step(run, "tool_calls", message_id, "in_progress",
                                                    details=steps.tool_calls_details(calls, {}))
        yield "thread.run.requires_action", runs.present(run)
    else:
        yield "thread.run.completed", runs.present(run)


def _last_error(err: Exception) -> dict:
    service_error = as_service_error(err)
    return {"code": ERROR_CODES.get(service_error.status, "server_error"), "message": service_error.message}


def _end_failed(run_id: str, last_error: dict) -> Run | None:
    """Fail the run if it is still going; None if it is gone (its thread was deleted)."""
    db.session.rollback()
    run = db.session.get(Run, run_id)  # read again, maybe in another session than it began (a closed stream)
    if run is not None and run.status in ("queued", "in_progress"):
        runs.end(run, "failed", last_error)
    return run


def _failed(run_id: str, last_error: dict) -> Iterator[tuple[str, dict]]:
    run = _end_failed(run_id, last_error)
    if run is not None:
        yield "thread.run.failed", runs.present(run)
