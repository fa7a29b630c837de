"""Hybrid search over vector stores, as OpenAI's file_search does it: a keyword ranking (keyword.py) and a
vector similarity ranking (vectors.py) of each store's chunks, fused by reciprocal rank fusion.

    results = search.run(stores, ["refund policy"], max_num_results=10, filters=None, score_threshold=0.0)

A chunk's score is its fused score over the best possible one (first in every ranking): 1.0 at most.
``filters`` are OpenAI's attribute filters ({"type": "eq", "key", "value"}, ..., {"type": "and" | "or",
"filters": [...]}) on the store files' attributes."""
from dataclasses import dataclass

from sqlalchemy import select

from ...errors import ServiceError
from ...extensions import db
from ...retrieval_models import Chunk, File, VectorStore, VectorStoreFile
from . import embeddings, keyword, vectors

RRF_K = 60  # the constant of reciprocal rank fusion (Cormack et al.): a rank r counts 1 / (60 + r)
COMPARISONS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
               "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
               "in": lambda a, b: a in b, "nin": lambda a, b: a not in b}


@dataclass
class Result:
    file_id: str
    filename: str
    score: float
    text: str
    attributes: dict


def matches(attributes: dict, condition: dict) -> bool:
    kind = condition.get("type")
    if kind in ("and", "or"):
        found = (matches(attributes, inner) for inner in condition.get("filters") or ())
        return all(found) if kind == "and" else any(found)
    if condition.get("key") not in attributes:
        return kind in ("ne", "nin")
    try:
        return bool(COMPARISONS[kind](attributes[condition["key"]], condition.get("value")))
    except TypeError:  # a number compared with a string: no match, as a typed comparison would say
        return False


def _allowed(store: VectorStore, filters: dict | None) -> tuple[list[str] | None, dict]:
    """The store's file ids the filters let through (None: all), and each completed file's attributes."""
    rows = db.session.execute(select(VectorStoreFile.file_id, VectorStoreFile.attributes)
                              .where(VectorStoreFile.vector_store_id == store.id,
                                     VectorStoreFile.status == "completed")).all()
    attributes = {row.file_id: row.attributes or {} for row in rows}
    if not filters:
        return None, attributes
    return [file_id for file_id, found in attributes.items() if matches(found, filters)], attributes


def _fused(rankings: list[list[int]]) -> dict[int, float]:
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, chunk_id in enumerate(ranking, start=1):
            scores[chunk_id] = scores.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank)
    best = len(rankings) / (RRF_K + 1)
    return {chunk_id: score / best for chunk_id, score in scores.items()}


def run(stores: list[VectorStore], queries: list[str], max_num_results: int, filters: dict | None = None,
        score_threshold: float = 0.0) -> list[Result]:
    queries = [query for query in queries if query.strip()]
    if not queries:
        raise ServiceError(400, "The query is empty.", {"json": {"query": ["Give a query to search for."]}})
    candidates = max(50, 4 * max_num_results)
    scored: dict[int, float] = {}
    attributes: dict[str, dict] = {}
    for store in stores:
        file_ids, found = _allowed(store, filters)
        attributes.update(found)
        if file_ids == [] or not found:
            continue
        query_vectors = [embeddings.embed_query(store, query) for query in queries]
        rankings = [keyword.ranked(store.id, query, candidates, file_ids) for query in queries]
        rankings += [vectors.ranked(store, vector, candidates, file_ids) for vector in query_vectors]
        scored.update(_fused(rankings))
    best = sorted((item for item in scored.items() if item[1] >= score_threshold), key=lambda item: -item[1])
    best = best[:max_num_results]
    if not best:
        return []
    rows = {row.id: row for row in db.session.execute(
        select(Chunk.id, Chunk.file_id, Chunk.text, File.filename).join(File, File.id == Chunk.file_id)
        .where(Chunk.id.in_([chunk_id for chunk_id, _ in best])))}
    return [Result(rows[chunk_id].file_id, rows[chunk_id].filename, round(score, 6), rows[chunk_id].text,
                   attributes.get(rows[chunk_id].file_id, {}))
            for chunk_id, score in best if chunk_id in rows]


def present(results: list[Result], queries: list[str]) -> dict:
    """POST /v1/vector_stores/{id}/search's page."""
    return {"object": "vector_store.search_results.page", "search_query": queries,
            "data": [{"file_id": r.file_id, "filename": r.filename, "score": r.score,
                      "attributes": r.attributes, "content": [{"type": "text", "text": r.text}]}
                     for r in results],
            "has_more": False, "next_page": None}
