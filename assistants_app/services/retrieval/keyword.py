"""The keyword ranking of a store's chunks, by the database's own full-text index: FTS5's bm25 on SQLite
(the vector_store_chunks_fts table the migration made), ts_rank over the generated tsvector column on
PostgreSQL. A query's words are matched with OR (any word counts, more count more), as a search box does.

    ids = keyword.ranked(store_id, "how do refunds work", limit=50, file_ids=None)   # best first"""
import re

from sqlalchemy import bindparam, text

from ...extensions import db

WORD = re.compile(r"\w+")
MAX_WORDS = 32  # a query longer than this is ranked by its first 32 distinct words

# SQLite, first: the best matches of every store, then those of this store among them (an FTS5 query
# with a join ranks every match of every word: tens of ms at 100,000 chunks). When this store has too
# few among them, the exact join below ranks all its matches. Both find a chunk's store through the
# covering index (id, vector_store_id, file_id): a chunk's row, with its text and vector, is 1-2 KB.
SQLITE_WIDE = """SELECT rowid FROM vector_store_chunks_fts WHERE vector_store_chunks_fts MATCH :match
ORDER BY rank LIMIT :wide"""
COVERING = "INDEXED BY ix_vector_store_chunks_id_vector_store_id_file_id"
SQLITE_OF_STORE = f"""SELECT id FROM vector_store_chunks {COVERING}
WHERE id IN :ids AND vector_store_id = :store {{files}}"""
SQLITE = f"""SELECT c.id FROM vector_store_chunks_fts
JOIN vector_store_chunks AS c {COVERING} ON c.id = vector_store_chunks_fts.rowid
WHERE vector_store_chunks_fts MATCH :match AND c.vector_store_id = :store {{files}}
ORDER BY bm25(vector_store_chunks_fts) LIMIT :limit"""
POSTGRESQL = """SELECT id FROM vector_store_chunks, to_tsquery('english', :match) AS query
WHERE vector_store_id = :store AND text_search @@ query {files}
ORDER BY ts_rank(text_search, query) DESC, id LIMIT :limit"""
WIDER = 8  # the first SQLite query reads this many times the matches wanted


def words(query: str) -> list[str]:
    """The query's distinct words: letters, digits and underscores only, so that no word can carry
    either database's query syntax."""
    return list(dict.fromkeys(WORD.findall(query.lower())))[:MAX_WORDS]


def ranked(store_id: str, query: str, limit: int, file_ids: list[str] | None = None) -> list[int]:
    found = words(query)
    if not found or file_ids == []:
        return []
    if db.session.get_bind().dialect.name == "postgresql":
        return _run(POSTGRESQL, {"match": " | ".join(found), "store": store_id, "limit": limit}, file_ids)
    match = " OR ".join(f'"{word}"' for word in found)
    wide = list(db.session.scalars(text(SQLITE_WIDE), {"match": match, "wide": limit * WIDER}))
    if wide:
        ours = set(_run(SQLITE_OF_STORE, {"ids": wide, "store": store_id}, file_ids, expanding=("ids",)))
        if len(ours) >= limit or len(wide) < limit * WIDER:  # enough, or every match was read
            return [chunk_id for chunk_id in wide if chunk_id in ours][:limit]
    return _run(SQLITE, {"match": match, "store": store_id, "limit": limit}, file_ids)


def _run(sql: str, params: dict, file_ids: list[str] | None, expanding=()) -> list[int]:
    statement = text(sql.format(files="" if file_ids is None else "AND file_id IN :file_ids"))
    if file_ids is not None:
        params = {**params, "file_ids": file_ids}
        expanding = (*expanding, "file_ids")
    statement = statement.bindparams(*(bindparam(name, expanding=True) for name in expanding))
    return list(db.session.scalars(statement, params))
