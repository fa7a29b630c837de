"""Indexing one file of a vector store, in the background on the same bounded machinery as v2 runs
(services/background.py): each job waits for one of its tenant's TENANT_MAX_ACTIVE_RUNS slots
(index_slots.py), then extracts the file's text, cuts it into chunks, embeds them through the store's
provider and writes them with the file's completed status in one commit.

    jobs = indexing.jobs_of(rows)     # before the commit that attaches them (plain values)
    db.session.commit(); indexing.start(jobs)   # tests: background.wait_all(app)

A file that cannot be read ends failed with last_error {"code": "unsupported_file" | "invalid_file"}; a
provider failure with {"code": "server_error"}. A job cancelled or removed meanwhile writes nothing."""
import logging

from sqlalchemy import insert, select, update

from ...errors import ServiceError, as_service_error
from ...extensions import db
from ...openai_adapter import ProviderError
from ...models import utcnow
from ...retrieval_models import Chunk, File, VectorStore, VectorStoreFile
from .. import background, release_connection
from . import chunking, embeddings, extraction
from .index_slots import IndexSlot

log = logging.getLogger(__name__)


class Abandoned(Exception):
    """The job is no longer wanted (its batch cancelled, the file removed or deleted)."""


def jobs_of(rows: list[VectorStoreFile]) -> list[IndexSlot]:
    return [IndexSlot(row.vector_store_id, row.file_id, row.tenant, row.created_at) for row in rows]


def start(jobs: list[IndexSlot]) -> None:
    for slot in jobs:
        background.spawn(lambda slot=slot: run(slot), slot.tenant,
                         f"index {slot.file_id} into {slot.store_id}")


def run(slot: IndexSlot) -> None:
    if not background.wait_for_slot(slot):
        return
    try:
        _index(slot)
    except Abandoned:
        db.session.rollback()
    except extraction.Unreadable as err:
        _fail(slot, {"code": err.code, "message": err.message})
    except (ProviderError, ServiceError) as err:
        _fail(slot, {"code": "server_error", "message": as_service_error(err).message})
    except Exception:  # noqa: BLE001 - the job must end, whatever broke
        log.exception("indexing %s into %s failed", slot.file_id, slot.store_id)
        _fail(slot, {"code": "server_error", "message": "An internal error occurred."})


def _index(slot: IndexSlot) -> None:
    store = db.session.get(VectorStore, slot.store_id)
    row = db.session.get(VectorStoreFile, (slot.store_id, slot.file_id))
    found = db.session.scalar(select(File).where(File.id == slot.file_id))
    if store is None or row is None or found is None:
        raise Abandoned()
    filename, content, window = found.filename, found.content, chunking.window_of(row.chunking_strategy)
    release_connection()
    chunks = chunking.split(extraction.text_of(filename, content), window)
    del content
    vectors = embeddings.embed_texts(store, [text for text, _ in chunks], between=lambda: _still_wanted(slot))
    size = sum(len(text.encode()) for text, _ in chunks) + sum(len(vector) for vector in vectors)
    done = db.session.execute(update(VectorStoreFile).where(*slot.mine())
                              .values(status="completed", usage_bytes=size, last_error=None)
                              .execution_options(synchronize_session=False)).rowcount
    if done != 1:
        raise Abandoned()
    if chunks:
        db.session.execute(insert(Chunk), [
            {"vector_store_id": slot.store_id, "file_id": slot.file_id, "position": position, "text": text,
             "tokens": count, "embedding": vector}
            for position, ((text, count), vector) in enumerate(zip(chunks, vectors))])
    db.session.execute(update(VectorStore).where(VectorStore.id == slot.store_id)
                       .values(revision=VectorStore.revision + 1, last_active_at=utcnow())
                       .execution_options(synchronize_session=False))
    db.session.commit()


def _still_wanted(slot: IndexSlot) -> None:
    """Between two embedding requests: the claim renewed, or the job abandoned."""
    if not slot.renew():
        raise Abandoned()


def _fail(slot: IndexSlot, last_error: dict) -> None:
    db.session.rollback()
    db.session.execute(update(VectorStoreFile).where(*slot.mine())
                       .values(status="failed", last_error=last_error)
                       .execution_options(synchronize_session=False))
    db.session.commit()
