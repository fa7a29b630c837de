"""The one place that decides whether a tenant may start one more piece of background work
(services/background.py waits for it): its v2 runs and background responses in progress and its files
being indexed count together against TENANT_MAX_ACTIVE_RUNS.

    taken = active_work.claim(update(Run).where(...).values(status="in_progress", ...), tenant)

The claim is the UPDATE that moves the work to in progress, made only while fewer than the limit are in
progress; on PostgreSQL an advisory lock per tenant makes the count and the move one step. It commits."""
from flask import current_app
from sqlalchemy import func, select, text

from ..database import on_postgresql
from ..extensions import db
from ..models import Run, utcnow
from ..responses_models import Response
from ..retrieval_models import VectorStoreFile


def in_progress(tenant: str):
    """The tenant's work in progress: its runs and background responses in_progress, and its files
    claimed for indexing whose claim is alive (a claim that lapsed belongs to a worker that died)."""
    runs = select(func.count()).select_from(Run).where(Run.tenant == tenant, Run.status == "in_progress")
    responses = (select(func.count()).select_from(Response)
                 .where(Response.tenant == tenant, Response.status == "in_progress", Response.background))
    indexing = (select(func.count()).select_from(VectorStoreFile)
                .where(VectorStoreFile.tenant == tenant, VectorStoreFile.status == "in_progress",
                       VectorStoreFile.started_at.is_not(None), VectorStoreFile.expires_at > utcnow()))
    return runs.scalar_subquery() + responses.scalar_subquery() + indexing.scalar_subquery()


def claim(statement, tenant: str) -> bool:
    """Run ``statement`` (an UPDATE of one queued piece of work) if the tenant has a slot free, and
    commit; True when it moved a row."""
    limit = current_app.config["TENANT_MAX_ACTIVE_RUNS"]
    if limit:
        if on_postgresql():  # the count and the move as one step, per tenant
            db.session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                               {"key": f"run slots {tenant}"})
        statement = statement.where(in_progress(tenant) < limit)
    taken = db.session.execute(statement.execution_options(synchronize_session=False)).rowcount == 1
    db.session.commit()
    return taken
