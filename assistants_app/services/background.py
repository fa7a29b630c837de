"""Work that goes on after its request (a v2 run answered `queued`; background responses and file indexing
to come): each piece in a greenlet under gunicorn's gevent workers (a thread elsewhere), bounded per
tenant.

    background.spawn(work, tenant)        # work() runs in an app context of its own; tests: wait_all(app)
    if background.wait_for_slot(slot): ... # once the work holds one of its tenant's TENANT_MAX_ACTIVE_RUNS

A slot is taken by the statement that moves queued work to in progress, and only while fewer than
TENANT_MAX_ACTIVE_RUNS of the tenant's work is in progress: the database holds the count, so the bound
holds across workers and hosts (on PostgreSQL an advisory lock per tenant makes the count and the move one
step). Work that finds no slot free stays queued: the oldest waiting piece of a tenant in a worker asks
again when a piece of that worker ends, or after a second, and keeps its claim alive meanwhile
(``slot.renew()``), so that it is not taken for the work of a dead worker."""
import collections
import logging
import threading
import time

from flask import current_app

from ..extensions import db

log = logging.getLogger(__name__)
EXTENSION = "background_work"
RETRY_SECONDS = 1.0  # a waiting piece asks again this often (slots freed by other workers or hosts)
RENEW_SECONDS = 10.0
_current = threading.local()  # .ticket: the place in its tenant's queue of the spawned piece this thread runs


class BackgroundState:
    """One app's background work: what is running (tests wait for it) and who waits for a slot."""

    def __init__(self):
        self.running: set[threading.Thread] = set()
        self.waiting: dict[str, collections.deque] = {}  # tenant -> the Events of its waiting pieces
        self.lock = threading.Lock()


def init_app(app) -> None:
    app.extensions[EXTENSION] = BackgroundState()


def _state(app=None) -> BackgroundState:
    return (app or current_app).extensions[EXTENSION]


def spawn(work, tenant: str, name: str) -> None:
    """Run ``work()`` in an app context of its own, now; when it ends, the next waiting piece of
    ``tenant`` in this worker asks for a slot at once. Its place among its tenant's pieces waiting for a
    slot is taken here, in the order the requests made them (their threads may start in any order)."""
    app = current_app._get_current_object()
    state = _state(app)
    ticket = threading.Event()

    def run():
        _current.ticket = ticket
        try:
            with app.app_context():
                try:
                    work()
                except Exception:  # noqa: BLE001 - the work records its own failures; this is the last resort
                    log.exception("background work %s failed", name)
                finally:
                    db.session.remove()
        finally:
            _current.ticket = None
            with state.lock:
                state.running.discard(worker)
            _leave(state, tenant, ticket)  # if it ended before it asked for a slot
            wake_next(tenant, app)

    worker = threading.Thread(target=run, name=name, daemon=True)
    with state.lock:
        state.running.add(worker)
        state.waiting.setdefault(tenant, collections.deque()).append(ticket)
    worker.start()


def wake_next(tenant: str, app=None) -> None:
    """A slot of ``tenant`` may have freed in this worker: its oldest waiting piece asks now."""
    state = _state(app)
    with state.lock:
        queue = state.waiting.get(tenant)
        if queue:
            queue[0].set()


def wait_for_slot(slot) -> bool:
    """Wait until ``slot.take()`` succeeds (True), or the work no longer waits (``slot.waiting()`` is
    False: cancelled, expired): False. Pieces of one tenant in this worker ask in turn, oldest first (a
    spawned piece from when it was spawned, a request's own from now); each renews its claim every
    RENEW_SECONDS. ``slot``'s methods give the connection back before they return: none is held while it
    waits."""
    state = _state()
    me = getattr(_current, "ticket", None)
    with state.lock:
        queue = state.waiting.setdefault(slot.tenant, collections.deque())
        if me is None or me not in queue:
            me = threading.Event()
            queue.append(me)
    renewed = time.monotonic()
    try:
        while True:
            with state.lock:
                first = queue[0] is me
            if first and slot.take():
                return True
            if first or time.monotonic() - renewed > RENEW_SECONDS:
                if not slot.waiting():
                    return False
            if time.monotonic() - renewed > RENEW_SECONDS:  # every waiting piece keeps its claim alive
                slot.renew()
                renewed = time.monotonic()
            me.wait(RETRY_SECONDS)
            me.clear()
    finally:
        _leave(state, slot.tenant, me)


def _leave(state: BackgroundState, tenant: str, ticket: threading.Event) -> None:
    """``ticket`` no longer waits: out of its tenant's queue, and the next one asks now."""
    with state.lock:
        queue = state.waiting.get(tenant)
        if queue is None or ticket not in queue:
            return
        queue.remove(ticket)
        if queue:
            queue[0].set()
        else:
            state.waiting.pop(tenant, None)


def wait_all(app, timeout: float = 20.0) -> None:
    """Wait until the app's background work has ended (for tests and shutdown)."""
    deadline = time.monotonic() + timeout
    while True:
        with _state(app).lock:
            running = list(_state(app).running)
        if not running:
            return
        for worker in running:
            worker.join(max(0.0, deadline - time.monotonic()))
            if worker.is_alive():
                raise TimeoutError(f"background work {worker.name} did not end")
