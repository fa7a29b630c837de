"""A v2 run's claim on one of its tenant's TENANT_MAX_ACTIVE_RUNS slots (services/background.py waits
for it): the UPDATE that moves the run from queued to in_progress, made only while less of the tenant's
work (runs and file indexing, services/active_work.py) is in progress. While it waits, and while it runs,
the run renews its expires_at and its thread's turn lock: a run whose expires_at passed belongs to a worker
that died (runs.check_stale)."""
from sqlalchemy import delete, select, update

from ...extensions import db
from ...models import Message, Run, Thread, utcnow
from .. import active_work
from ..turn_lock import stale_after


class RunSlot:
    """What background.wait_for_slot() asks of a queued run. Each method commits: no connection is
    held between calls."""

    def __init__(self, run_id: str, tenant: str, thread_id: str, token: str):
        self.run_id, self.tenant, self.thread_id, self.token = run_id, tenant, thread_id, token

    def take(self) -> bool:
        """Move the run to in_progress if the tenant has a slot free (active_work decides); True when
        this call did."""
        now = utcnow()
        queued = update(Run).where(Run.id == self.run_id, Run.status == "queued")
        return active_work.claim(queued.values(status="in_progress", started_at=now,
                                               expires_at=now + stale_after()), self.tenant)

    def waiting(self) -> bool:
        """Still queued (not cancelled, expired or failed meanwhile)."""
        status = db.session.scalar(select(Run.status).where(Run.id == self.run_id))
        db.session.commit()
        return status == "queued"

    def renew(self) -> None:
        """Keep the run's claim (expires_at) and its thread's lock from going stale."""
        renew(self.run_id, self.thread_id, self.token)


def renew(run_id: str, thread_id: str, token: str) -> None:
    now = utcnow()
    db.session.execute(update(Run).where(Run.id == run_id, Run.status.in_(("queued", "in_progress")))
                       .values(expires_at=now + stale_after()).execution_options(synchronize_session=False))
    db.session.execute(update(Thread).where(Thread.id == thread_id, Thread.turn_token == token)
                       .values(turn_started_at=now).execution_options(synchronize_session=False))
    db.session.commit()


def free_thread(run: Run) -> None:
    """The thread a run that ends now (cancelled, expired, its assistant deleted) held: its lock given back;
    a run waiting for tool outputs takes its unanswered round out of the history."""
    if run.status == "requires_action":
        # The tool calls will not be answered: the run's rounds leave the history (the answered ones
        # too: a tool message must follow the call it answers), the thread waits no more.
        db.session.execute(delete(Message).where(Message.run_id == run.id,
                                                 Message.role.in_(("assistant", "tool"))))
        db.session.execute(update(Thread).where(Thread.id == run.thread_id)
                           .values(pending_tool_calls=None, pending_run_id=None))
    elif run.turn_token:
        db.session.execute(update(Thread).where(Thread.id == run.thread_id,
                                                Thread.turn_token == run.turn_token)
                           .values(turn_token=None, turn_started_at=None))
