"""Vector similarity over a store's chunks: exact (every chunk's cosine), computed with numpy over the
store's vectors, which each worker keeps in memory once read -- keyed by the store's revision, so a
change by any worker or host is seen at the next search -- within VECTOR_CACHE_MAX_BYTES (least recently
used stores go first). No database vector extension is needed (docs/file_search.rst says why and the
limit: a store's first search after a change reads all its vectors).

    ids = vectors.ranked(store, query_vector, limit=50, file_ids=None)    # best first"""
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy
from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ...retrieval_models import Chunk, VectorStore
from .embeddings import FLOAT32

EXTENSION = "vector_cache"


@dataclass(frozen=True)
class StoreVectors:
    revision: int
    chunk_ids: numpy.ndarray  # int64, one per row of matrix
    file_ids: numpy.ndarray  # the file id of each row (object array)
    matrix: numpy.ndarray  # float32 rows of unit length

    @property
    def size(self) -> int:
        return self.matrix.nbytes + self.chunk_ids.nbytes + 64 * len(self.file_ids)


class VectorCache:
    def __init__(self, max_bytes: int):
        self.max_bytes, self.used = max_bytes, 0
        self.stores: OrderedDict[str, StoreVectors] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, store_id: str, revision: int) -> StoreVectors | None:
        with self.lock:
            found = self.stores.get(store_id)
            if found is None or found.revision != revision:
                return None
            self.stores.move_to_end(store_id)
            return found

    def put(self, store_id: str, vectors: StoreVectors) -> None:
        with self.lock:
            old = self.stores.pop(store_id, None)
            self.used -= old.size if old is not None else 0
            if vectors.size > self.max_bytes:
                return
            self.stores[store_id] = vectors
            self.used += vectors.size
            while self.used > self.max_bytes:
                _, evicted = self.stores.popitem(last=False)
                self.used -= evicted.size


def init_app(app) -> None:
    app.extensions[EXTENSION] = VectorCache(int(app.config["VECTOR_CACHE_MAX_BYTES"]))


def _load(store: VectorStore) -> StoreVectors:
    rows = db.session.execute(select(Chunk.id, Chunk.file_id, Chunk.embedding)
                              .where(Chunk.vector_store_id == store.id).order_by(Chunk.id)).all()
    width = max((len(row.embedding) for row in rows), default=0)
    rows = [row for row in rows if len(row.embedding) == width]  # a vector of another size cannot be compared
    matrix = numpy.frombuffer(b"".join(row.embedding for row in rows), dtype=FLOAT32)
    shape = (len(rows), width // FLOAT32.itemsize) if rows else (0, 0)
    return StoreVectors(store.revision, numpy.array([row.id for row in rows], dtype=numpy.int64),
                        numpy.array([row.file_id for row in rows], dtype=object), matrix.reshape(shape))


def store_vectors(store: VectorStore) -> StoreVectors:
    cache: VectorCache = current_app.extensions[EXTENSION]
    found = cache.get(store.id, store.revision)
    if found is None:
        found = _load(store)
        cache.put(store.id, found)
    return found


def ranked(store: VectorStore, query: numpy.ndarray, limit: int,
           file_ids: list[str] | None = None) -> list[int]:
    found = store_vectors(store)
    if not len(found.chunk_ids) or found.matrix.shape[1] != query.shape[0]:
        return []
    # einsum, not @: on the 2-core hosts measured, BLAS's matrix-vector product took 3 times as long.
    scores = numpy.einsum("ij,j->i", found.matrix, query)
    if file_ids is not None:
        scores = numpy.where(numpy.isin(found.file_ids, file_ids), scores, -numpy.inf)
    limit = min(limit, len(scores))
    best = numpy.argpartition(-scores, limit - 1)[:limit]
    best = best[numpy.argsort(-scores[best], kind="stable")]
    return [int(found.chunk_ids[index]) for index in best if scores[index] > -numpy.inf]
