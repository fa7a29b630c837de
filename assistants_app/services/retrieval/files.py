"""Uploaded files (/v1/files): their bytes in the database, so that every host sees them.

    row = files.upload(upload, purpose)     # 413 past FILE_MAX_BYTES, 429 past the tenant's storage quota
    files.get(file_id); files.listed(params); files.delete(row)

A file's bytes count into its tenant's TENANT_MAX_STORED_BYTES (tenant_limits.check_storage). Deleting
a file deletes it from every vector store (their chunks with it, by cascade)."""
import os

from flask import current_app
from sqlalchemy import select, update

from ...errors import ServiceError
from ...extensions import db
from ...retrieval_models import File, VectorStore, VectorStoreFile
from .. import is_plausible_id, owned_select, pages, tenant, tenant_limits
from ..v2 import listing
from . import not_found, timestamp

PURPOSES = ("assistants", "user_data", "vision")
# OpenAI's other purposes: files for APIs this service does not serve.
REFUSED_PURPOSES = ("batch", "fine-tune", "evals")


def present(row: File) -> dict:
    return {"id": row.id, "object": "file", "bytes": row.bytes, "created_at": timestamp(row.created_at),
            "expires_at": None, "filename": row.filename, "purpose": row.purpose, "status": "processed",
            "status_details": None}


def check_size(declared: int | None) -> None:
    """413 for a body that cannot hold a file of at most FILE_MAX_BYTES (its multipart framing aside)."""
    limit = current_app.config["FILE_MAX_BYTES"]
    if declared is not None and declared > limit + 64 * 1024:
        raise too_large(limit)


def too_large(limit: int) -> ServiceError:
    return ServiceError(413, f"The file is larger than {limit} bytes, the most this service keeps of one "
                             "file (FILE_MAX_BYTES).")


def upload(upload, purpose: str) -> File:
    if purpose in REFUSED_PURPOSES:
        raise ServiceError(400, "The request is invalid.", {"multipart": {"purpose": [
            f"Files with purpose '{purpose}' are not supported here: this service keeps files for "
            f"{', '.join(PURPOSES)}."]}})
    limit = current_app.config["FILE_MAX_BYTES"]
    content = upload.stream.read(limit + 1)
    if len(content) > limit:
        raise too_large(limit)
    tenant_limits.check_storage(tenant())
    filename = os.path.basename((upload.filename or "").replace("\\", "/"))[:512] or "upload"
    row = File(tenant=tenant(), filename=filename.replace("\x00", ""), purpose=purpose, bytes=len(content),
               content=content)
    db.session.add(row)
    db.session.flush()
    return row


def get(file_id: str) -> File:
    row = None
    if is_plausible_id(file_id):
        row = db.session.scalar(owned_select(File), {"id": file_id, "tenant": tenant()})
    if row is None:
        raise not_found("file", file_id)
    return row


def owned_ids(file_ids: list[str]) -> list[str]:
    """``file_ids`` if each is a file of the caller's tenant; 404 naming the first that is not."""
    found = set(db.session.scalars(select(File.id).where(File.tenant == tenant(), File.id.in_(file_ids))))
    for file_id in file_ids:
        if file_id not in found:
            raise not_found("file", file_id)
    return file_ids


def listed(params: dict) -> dict:
    query = select(File).where(File.tenant == tenant())
    if params.get("purpose"):
        query = query.where(File.purpose == params["purpose"])

    def cursor_of(file_id):
        row = db.session.scalar(query.where(File.id == file_id)) if is_plausible_id(file_id) else None
        return (row.created_at, row.id) if row is not None else None

    found = pages.page(query, (File.created_at, File.id), cursor_of, params)
    return listing([present(row) for row in found.rows], found.has_more)


def delete(row: File) -> dict:
    """The file, and with it its chunks in every store: those stores' cached vectors are stale now."""
    stores = select(VectorStoreFile.vector_store_id).where(VectorStoreFile.file_id == row.id)
    db.session.execute(update(VectorStore).where(VectorStore.id.in_(stores))
                       .values(revision=VectorStore.revision + 1)
                       .execution_options(synchronize_session=False))
    db.session.delete(row)
    return {"id": row.id, "object": "file", "deleted": True}
