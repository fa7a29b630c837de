"""Vector stores (/v1/vector_stores): a tenant's searchable sets of files, each embedded with one
credential's model (embeddings.py), so that its vectors stay comparable.

    store = stores.create(fields)        # with file_ids: their indexing jobs (store_files.attach)
    stores.get(store_id); stores.present(store); stores.listed(params); stores.delete(store)

A store's status is derived: expired once expires_at passed, in_progress while a file is being indexed,
else completed; its file_counts are counted from its files."""
from datetime import timedelta

from sqlalchemy import func, select

from ...errors import ServiceError
from ...extensions import db
from ...models import utcnow
from ...retrieval_models import VectorStore, VectorStoreFile
from .. import is_plausible_id, owned_select, pages, tenant
from ..credentials import find_credential
from ..v2 import listing
from . import embeddings, not_found, timestamp

STATUSES = ("in_progress", "completed", "failed", "cancelled")


def counts_of(store_ids: list[str]) -> dict[str, dict]:
    """store id -> its file_counts, in one query."""
    counts = {store_id: dict.fromkeys(STATUSES, 0) for store_id in store_ids}
    rows = db.session.execute(select(VectorStoreFile.vector_store_id, VectorStoreFile.status, func.count())
                              .where(VectorStoreFile.vector_store_id.in_(store_ids))
                              .group_by(VectorStoreFile.vector_store_id, VectorStoreFile.status))
    for store_id, status, count in rows:
        counts[store_id][status] = count
    for found in counts.values():
        found["total"] = sum(found[status] for status in STATUSES)
    return counts


def usage_of(store_ids: list[str]) -> dict[str, int]:
    """store id -> the bytes its chunks take (their text and their vectors)."""
    return dict.fromkeys(store_ids, 0) | dict(db.session.execute(
        select(VectorStoreFile.vector_store_id, func.coalesce(func.sum(VectorStoreFile.usage_bytes), 0))
        .where(VectorStoreFile.vector_store_id.in_(store_ids))
        .group_by(VectorStoreFile.vector_store_id)).all())


def status_of(store: VectorStore, counts: dict) -> str:
    if store.expires_at is not None and store.expires_at < utcnow():
        return "expired"
    return "in_progress" if counts["in_progress"] else "completed"


def present(store: VectorStore, counts: dict | None = None, usage: int | None = None) -> dict:
    counts = counts if counts is not None else counts_of([store.id])[store.id]
    usage = usage if usage is not None else usage_of([store.id])[store.id]
    return {"id": store.id, "object": "vector_store", "created_at": timestamp(store.created_at),
            "name": store.name, "usage_bytes": usage, "file_counts": counts,
            "status": status_of(store, counts),
            "expires_after": store.expires_after, "expires_at": timestamp(store.expires_at),
            "last_active_at": timestamp(store.last_active_at), "metadata": store.store_metadata or {}}


def _expiry(store: VectorStore) -> None:
    after = store.expires_after
    store.expires_at = store.last_active_at + timedelta(days=after["days"]) if after else None


def create(fields: dict) -> VectorStore:
    credential = find_credential(fields.get("credential"))
    model, dimensions = embeddings.settings_for(credential)
    now = utcnow()
    store = VectorStore(tenant=tenant(), name=fields.get("name"), store_metadata=fields.get("metadata") or {},
                        expires_after=fields.get("expires_after"), credential_id=credential and credential.id,
                        embedding_model=model, embedding_dimensions=dimensions, created_at=now,
                        last_active_at=now, revision=0)
    _expiry(store)
    db.session.add(store)
    db.session.flush()
    return store


def modify(store: VectorStore, fields: dict) -> VectorStore:
    if "name" in fields:
        store.name = fields["name"]
    if "metadata" in fields:
        store.store_metadata = fields["metadata"] or {}
    if "expires_after" in fields:
        store.expires_after = fields["expires_after"]
        _expiry(store)
    return store


def get(store_id: str) -> VectorStore:
    store = None
    if is_plausible_id(store_id):
        store = db.session.scalar(owned_select(VectorStore), {"id": store_id, "tenant": tenant()})
    if store is None:
        raise not_found("vector store", store_id)
    return store


def usable(store_ids: list[str]) -> list[VectorStore]:
    """The caller's stores by id, for a search: 404 for one that is not the caller's, 400 for an expired
    one."""
    stores = [get(store_id) for store_id in dict.fromkeys(store_ids)]
    for store in stores:
        if store.expires_at is not None and store.expires_at < utcnow():
            raise ServiceError(400, f"Vector store {store.id} is expired.")
    return stores


def touch(store: VectorStore) -> None:
    """Used now: its expiry counts from here."""
    store.last_active_at = utcnow()
    _expiry(store)


def delete(store: VectorStore) -> dict:
    """The store, its files' entries and their chunks (by cascade; the files themselves stay)."""
    db.session.delete(store)
    return {"id": store.id, "object": "vector_store.deleted", "deleted": True}


def listed(params: dict) -> dict:
    query = select(VectorStore).where(VectorStore.tenant == tenant())

    def cursor_of(store_id):
        if not is_plausible_id(store_id):
            return None
        row = db.session.scalar(query.where(VectorStore.id == store_id))
        return (row.created_at, row.id) if row is not None else None

    found = pages.page(query, (VectorStore.created_at, VectorStore.id), cursor_of, params)
    ids = [row.id for row in found.rows]
    counts, usage = counts_of(ids), usage_of(ids)
    return listing([present(row, counts[row.id], usage[row.id]) for row in found.rows], found.has_more)
