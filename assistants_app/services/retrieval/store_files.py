"""The files of a vector store and their batches (/v1/vector_stores/{id}/files, .../file_batches): each
file of a store is an indexing job (indexing.py), started once the request committed.

    rows = store_files.attach(store, [{"file_id", "attributes"?, "chunking_strategy"?}, ...], batch)
    jobs = indexing.jobs_of(rows); db.session.commit(); indexing.start(jobs)

A file attached again is indexed again (its old chunks go). A batch's status is derived from its files:
cancelled once cancelled, in_progress while one is, else completed."""
from sqlalchemy import delete, func, select, update

from ...errors import ServiceError
from ...extensions import db
from ...models import utcnow
from ...retrieval_models import FileBatch, VectorStore, VectorStoreFile
from .. import is_plausible_id, pages, tenant
from ..turn_lock import stale_after
from ..v2 import listing
from . import chunking, extraction, files, not_found, timestamp
from .stores import STATUSES


def present(row: VectorStoreFile) -> dict:
    return {"id": row.file_id, "object": "vector_store.file", "usage_bytes": row.usage_bytes,
            "created_at": timestamp(row.created_at), "vector_store_id": row.vector_store_id,
            "status": row.status, "last_error": row.last_error, "chunking_strategy": row.chunking_strategy,
            "attributes": row.attributes or {}}


def attach(store: VectorStore, entries: list[dict], batch: FileBatch | None = None) -> list[VectorStoreFile]:
    file_ids = files.owned_ids([entry["file_id"] for entry in entries])
    db.session.execute(delete(VectorStoreFile).where(VectorStoreFile.vector_store_id == store.id,
                                                     VectorStoreFile.file_id.in_(file_ids)))
    now = utcnow()
    rows = [VectorStoreFile(vector_store_id=store.id, file_id=entry["file_id"], tenant=store.tenant,
                            batch_id=batch and batch.id, status="in_progress", usage_bytes=0,
                            chunking_strategy=chunking.stored(entry.get("chunking_strategy")),
                            attributes=entry.get("attributes") or {}, created_at=now,
                            expires_at=now + stale_after())
            for entry in dict((entry["file_id"], entry) for entry in entries).values()]
    db.session.add_all(rows)
    store.revision += 1
    db.session.flush()
    return rows


def get(store: VectorStore, file_id: str) -> VectorStoreFile:
    row = db.session.get(VectorStoreFile, (store.id, file_id)) if is_plausible_id(file_id) else None
    if row is None:
        raise not_found("file", file_id)
    check_stale(row)
    return row


def check_stale(row: VectorStoreFile) -> None:
    """A job whose claim lapsed belongs to a worker that died: it failed."""
    if row.status == "in_progress" and row.expires_at is not None and row.expires_at < utcnow():
        row.status = "failed"
        row.last_error = {"code": "server_error", "message": "The worker indexing this file stopped before "
                                                             "it finished; attach the file again."}


def modify(row: VectorStoreFile, attributes: dict | None) -> VectorStoreFile:
    row.attributes = attributes or {}
    return row


def remove(store: VectorStore, row: VectorStoreFile) -> dict:
    """The file leaves the store, its chunks with it (the file itself stays)."""
    db.session.delete(row)
    store.revision += 1
    return {"id": row.file_id, "object": "vector_store.file.deleted", "deleted": True}


def content(row: VectorStoreFile) -> dict:
    """The file's text, as it was indexed."""
    found = files.get(row.file_id)
    try:
        text = extraction.text_of(found.filename, found.content)
    except extraction.Unreadable as err:
        raise ServiceError(400, err.message) from None
    return {"object": "vector_store.file_content.page", "data": [{"type": "text", "text": text}],
            "has_more": False, "next_page": None}


def listed(store: VectorStore, params: dict, batch: FileBatch | None = None) -> dict:
    query = select(VectorStoreFile).where(VectorStoreFile.vector_store_id == store.id)
    if batch is not None:
        query = query.where(VectorStoreFile.batch_id == batch.id)
    if params.get("filter"):
        query = query.where(VectorStoreFile.status == params["filter"])

    def cursor_of(file_id):
        if not is_plausible_id(file_id):
            return None
        row = db.session.scalar(query.where(VectorStoreFile.file_id == file_id))
        return (row.created_at, row.file_id) if row is not None else None

    found = pages.page(query, (VectorStoreFile.created_at, VectorStoreFile.file_id), cursor_of, params)
    for row in found.rows:
        check_stale(row)
    return listing([present(row) for row in found.rows], found.has_more)


# ---------------------------------------------------------------- batches

def create_batch(store: VectorStore, fields: dict) -> tuple[FileBatch, list[VectorStoreFile]]:
    entries = fields.get("files") or [{"file_id": file_id, "attributes": fields.get("attributes"),
                                       "chunking_strategy": fields.get("chunking_strategy")}
                                      for file_id in fields.get("file_ids") or ()]
    if not entries:
        raise ServiceError(400, "Give file_ids or files: the files of the batch.",
                           {"json": {"file_ids": ["Missing data for required field."]}})
    batch = FileBatch(tenant=tenant(), vector_store_id=store.id, cancelled=False, created_at=utcnow())
    db.session.add(batch)
    db.session.flush()
    return batch, attach(store, entries, batch)


def get_batch(store: VectorStore, batch_id: str) -> FileBatch:
    batch = None
    if is_plausible_id(batch_id):
        batch = db.session.scalar(select(FileBatch).where(FileBatch.id == batch_id,
                                                          FileBatch.vector_store_id == store.id))
    if batch is None:
        raise not_found("file batch", batch_id)
    return batch


def present_batch(batch: FileBatch) -> dict:
    counts = dict.fromkeys(STATUSES, 0)
    for status, count in db.session.execute(select(VectorStoreFile.status, func.count())
                                            .where(VectorStoreFile.batch_id == batch.id)
                                            .group_by(VectorStoreFile.status)):
        counts[status] = count
    counts["total"] = sum(counts[status] for status in STATUSES)
    status = "cancelled" if batch.cancelled else ("in_progress" if counts["in_progress"] else "completed")
    return {"id": batch.id, "object": "vector_store.files_batch", "created_at": timestamp(batch.created_at),
            "vector_store_id": batch.vector_store_id, "status": status, "file_counts": counts}


def cancel_batch(batch: FileBatch) -> FileBatch:
    """Its files not indexed yet are cancelled; a job still running writes nothing (indexing.py)."""
    if not batch.cancelled and present_batch(batch)["status"] == "completed":
        raise ServiceError(400, "This batch has finished: there is nothing left to cancel.")
    batch.cancelled = True
    db.session.execute(update(VectorStoreFile).where(VectorStoreFile.batch_id == batch.id,
                                                     VectorStoreFile.status == "in_progress")
                       .values(status="cancelled").execution_options(synchronize_session=False))
    return batch
