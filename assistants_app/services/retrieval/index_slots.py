"""An indexing job's claim on one of its tenant's TENANT_MAX_ACTIVE_RUNS slots (background.wait_for_slot
asks it, as it asks a v2 run's RunSlot; services/active_work.py counts both): the UPDATE that stamps the
vector store file's started_at, made only while a slot is free. Its expires_at is renewed while it waits
and while it runs: a job whose claim lapsed belongs to a worker that died (store_files.check_stale)."""
from datetime import datetime

from sqlalchemy import select, update

from ...extensions import db
from ...models import utcnow
from ...retrieval_models import VectorStoreFile
from .. import active_work
from ..turn_lock import stale_after


class IndexSlot:
    """Each method commits: no connection is held between calls."""

    def __init__(self, store_id: str, file_id: str, tenant: str, created_at: datetime):
        self.store_id, self.file_id, self.tenant, self.created_at = store_id, file_id, tenant, created_at
        self.started_at: datetime | None = None  # once taken: what the job's writes are conditioned on

    def _this_job(self):
        """This job's row: the file attached again meanwhile is another job (another created_at)."""
        return (VectorStoreFile.vector_store_id == self.store_id, VectorStoreFile.file_id == self.file_id,
                VectorStoreFile.created_at == self.created_at, VectorStoreFile.status == "in_progress")

    def take(self) -> bool:
        now = utcnow()
        waiting = update(VectorStoreFile).where(*self._this_job(), VectorStoreFile.started_at.is_(None))
        taken = active_work.claim(waiting.values(started_at=now, expires_at=now + stale_after()), self.tenant)
        if taken:
            self.started_at = now
        return taken

    def waiting(self) -> bool:
        """Still to be indexed (not cancelled, removed or deleted meanwhile)."""
        found = db.session.scalar(select(VectorStoreFile.file_id).where(*self._this_job()))
        db.session.commit()
        return found is not None

    def mine(self):
        """The conditions of a write by the job holding this slot."""
        return (*self._this_job(), VectorStoreFile.started_at == self.started_at)

    def renew(self) -> bool:
        """Keep the claim alive; False when the job is no longer wanted (cancelled, removed, deleted)."""
        conditions = self.mine() if self.started_at is not None else self._this_job()
        renewed = db.session.execute(update(VectorStoreFile).where(*conditions)
                                     .values(expires_at=utcnow() + stale_after())
                                     .execution_options(synchronize_session=False)).rowcount == 1
        db.session.commit()
        return renewed
