"""Top-10 search over one vector store of 100,000 chunks (issue 28's target: under 50 ms), through the
running service: ``POST /v1/vector_stores/{id}/search`` as a client sends it, so the figure holds the
keyword ranking (FTS5 / PostgreSQL full-text), the vector similarity over the store's 100,000 vectors, the
fusion, the chunks' text read back, and the query's embedding by the fake provider (its own round trip
is measured alone too, as ``embedding_call_ms``).

The store is filled straight into the service's database (the indexing path is the tests' concern): a
file, its vector store file, and 100,000 chunks of 80 words drawn from a 5,000-word vocabulary with 256
dimension unit vectors. The first searches read the store's vectors into each worker's cache
(``first_search_ms``); the figure is the median of the searches after that, with random 3-word queries."""
from __future__ import annotations

import random
import statistics
import time

import numpy
from sqlalchemy import create_engine, insert, text

from assistants_app.retrieval_models import Chunk, File, VectorStoreFile
from assistants_app.models import utcnow

from .api import ms

CHUNKS, QUICK_CHUNKS = 100_000, 5_000
DIMENSIONS = 256
BATCH = 5_000


def vocabulary(rng: random.Random, size: int = 5_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return list(dict.fromkeys("".join(rng.choice(letters) for _ in range(rng.randint(3, 10)))
                              for _ in range(size * 2)))[:size]


def fill(database_url: str, store_id: str, tenant: str, count: int, rng: random.Random,
         words: list[str]) -> None:
    engine = create_engine(database_url)
    weights = [1.0 / (rank + 1) for rank in range(len(words))]  # Zipf-like: a few words are everywhere
    vectors = numpy.random.default_rng(7).standard_normal((count, DIMENSIONS)).astype("<f4")
    vectors /= numpy.linalg.norm(vectors, axis=1, keepdims=True)
    with engine.begin() as connection:
        connection.execute(insert(File), [{"id": "file-bench", "tenant": tenant, "filename": "bench.txt",
                                           "purpose": "assistants", "bytes": 0, "content": b"",
                                           "created_at": utcnow()}])
        connection.execute(insert(VectorStoreFile), [{
            "vector_store_id": store_id, "file_id": "file-bench", "tenant": tenant, "status": "completed",
            "usage_bytes": 0, "chunking_strategy": {"type": "static"}, "attributes": {},
            "created_at": utcnow()}])
        for start in range(0, count, BATCH):
            connection.execute(insert(Chunk), [
                {"vector_store_id": store_id, "file_id": "file-bench", "position": index, "tokens": 80,
                 "text": " ".join(rng.choices(words, weights, k=80)), "embedding": vectors[index].tobytes()}
                for index in range(start, min(start + BATCH, count))])
        connection.execute(text("UPDATE vector_stores SET revision = revision + 1 WHERE id = :id"),
                           {"id": store_id})
    engine.dispose()


def measure(ctx, database_url: str, quick: bool) -> dict:
    rng = random.Random(28)
    words = vocabulary(rng)
    count = QUICK_CHUNKS if quick else CHUNKS
    store = ctx.api.call("POST", "/v1/vector_stores", {"name": "bench"})
    started = time.perf_counter()
    fill(database_url, store["id"], "default", count, rng, words)
    filled = time.perf_counter() - started
    cold = [_search(ctx, store["id"], rng, words) for _ in range(4)]  # each worker reads the vectors once
    times = [_search(ctx, store["id"], rng, words) for _ in range(10 if quick else 100)]
    embedding = [_embedding_call(ctx, rng, words) for _ in range(10 if quick else 50)]
    return {"chunks": count, "dimensions": DIMENSIONS, "fill_seconds": round(filled, 1),
            "first_search_ms": ms(max(cold)), "median_ms": ms(statistics.median(times)),
            "p95_ms": ms(sorted(times)[int(len(times) * 0.95) - 1]),
            "embedding_call_ms": ms(statistics.median(embedding))}


def _search(ctx, store_id: str, rng: random.Random, words: list[str]) -> float:
    query = " ".join(rng.sample(words[:2000], 3))
    started = time.perf_counter()
    found = ctx.api.call("POST", f"/v1/vector_stores/{store_id}/search",
                         {"query": query, "max_num_results": 10})
    elapsed = time.perf_counter() - started
    if len(found["data"]) != 10:
        raise RuntimeError(f"a search found {len(found['data'])} chunks, not 10")
    return elapsed


def _embedding_call(ctx, rng: random.Random, words: list[str]) -> float:
    import json
    import urllib.request

    body = json.dumps({"model": "nomic-embed-text", "input": [" ".join(rng.sample(words, 3))]}).encode()
    request = urllib.request.Request(f"{ctx.fake.base_url}/embeddings", data=body, method="POST",
                                     headers={"Authorization": "Bearer sk-bench",
                                              "Content-Type": "application/json"})
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
    return time.perf_counter() - started
