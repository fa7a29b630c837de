"""Which worker process holds a turn. A turn's lock token starts with its worker's id (a tag of
the host, and the pid), so that when gunicorn's master sees a worker die (child_exit in
gunicorn.conf.py runs assistants_app/worker_exit.py) the turns that worker held end at once,
rather than when their locks go stale (OPENAI_TIMEOUT + 30 s). Locks held on another host
still go stale by time only: a master frees only its own host's workers.

No more imports than the database's: worker_exit.py runs this in a process that starts while
the master replaces a worker."""
import hashlib
import os
import secrets
import socket

from sqlalchemy import update

from .database import db
from .models import Run, Thread, utcnow
from .responses_models import Response


def _host_tag() -> str:
    """The host name and this boot of its kernel (two machines may share a name), hashed: a fixed
    length, and no host name in the database."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot = f.read().strip()
    except OSError:  # not Linux
        boot = ""
    return hashlib.sha256(f"{socket.gethostname()} {boot}".encode()).hexdigest()[:10]


HOST_TAG = _host_tag()


def worker_id(pid: int | None = None) -> str:
    """This process's id (or that of the process ``pid`` on this host): '<host tag>.<pid>'."""
    return f"{HOST_TAG}.{pid if pid is not None else os.getpid()}"


def new_turn_token() -> str:
    """A turn lock's token: its worker's id, then a random part that makes it the turn's own."""
    return f"{worker_id()}/{secrets.token_hex(12)}"


def free_turns_of(worker: str) -> int:
    """Free the turn locks a dead worker held; how many. Its turns wrote nothing (they commit
    their messages and free their lock in one commit), so the locks are all there is to undo."""
    freed = db.session.execute(
        update(Thread).where(Thread.turn_token.startswith(f"{worker}/", autoescape=True))
        .values(turn_token=None, turn_started_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return freed


# What a v2 run that was going on in a dead worker says of itself (as OpenAI's failed runs do).
WORKER_DIED = {"code": "server_error",
               "message": "The worker running this run stopped before it finished; nothing of it was stored."}


def fail_runs_of(worker: str) -> int:
    """Mark failed the Assistants v2 runs a dead worker was carrying out (their token is its turn
    lock's); how many. Runs waiting for tool outputs hold no worker's token and stay as they are."""
    now = utcnow()
    failed = db.session.execute(
        update(Run).where(Run.turn_token.startswith(f"{worker}/", autoescape=True),
                          Run.status.in_(("queued", "in_progress")))
        .values(status="failed", failed_at=now, last_error=WORKER_DIED, turn_token=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return failed


RESPONSE_WORKER_DIED = {"code": "server_error", "message": "The worker running this response stopped "
                                                           "before it finished; nothing of it was stored."}


def fail_responses_of(worker: str) -> int:
    """Mark failed the background responses a dead worker was carrying out; how many."""
    failed = db.session.execute(
        update(Response).where(Response.turn_token.startswith(f"{worker}/", autoescape=True),
                               Response.status.in_(("queued", "in_progress")))
        .values(status="failed", error=RESPONSE_WORKER_DIED, turn_token=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return failed


def after_worker_death(worker: str) -> dict[str, int]:
    """Everything a worker that died (kill -9, out of memory, ...) left held, undone; the counts:
    its Assistants v2 runs and background responses end failed, then the turn locks it held are freed."""
    return {"runs_failed": fail_runs_of(worker), "responses_failed": fail_responses_of(worker),
            "turns_freed": free_turns_of(worker)}
