"""The keyword ranking of a store's chunks, by the database's own full-text index: FTS5's bm25 on SQLite
(the vector_store_chunks_fts table the migration made), ts_rank over the generated tsvector column on
PostgreSQL. A query's words are matched with OR (any word counts, more count more), as a search box does.

    ids = keyword.ranked(store_id, "how do refunds work", limit=50, file_ids=None)   # best first"""
import re

from sqlalchemy import bindparam, text

from ...extensions import db

WORD = re.compile(r"\w+")
MAX_WORDS = 32  # a query longer than this is ranked by its first 32 distinct words

SQLITE = """SELECT c.id FROM vector_store_chunks_fts JOIN vector_store_chunks AS c ON c.id = vector_store_chunks_fts.rowid
WHERE vector_store_chunks_fts MATCH :match AND c.vector_store_id = :store {files}
ORDER BY bm25(vector_store_chunks_fts) LIMIT :limit"""
POSTGRESQL = """SELECT id FROM vector_store_chunks, to_tsquery('english', :match) AS query
WHERE vector_store_id = :store AND text_search @@ query {files}
ORDER BY ts_rank(text_search, query) DESC, id LIMIT :limit"""


def words(query: str) -> list[str]:
    """The query's distinct words: letters, digits and underscores only, so that no word can carry
    either database's query syntax."""
    return list(dict.fromkeys(WORD.findall(query.lower())))[:MAX_WORDS]


def ranked(store_id: str, query: str, limit: int, file_ids: list[str] | None = None) -> list[int]:
    found = words(query)
    if not found or file_ids == []:
        return []
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        sql, match = POSTGRESQL, " | ".join(found)
    else:
        sql, match = SQLITE, " OR ".join(f'"{word}"' for word in found)
    params = {"match": match, "store": store_id, "limit": limit}
    statement = text(sql.format(files="" if file_ids is None else "AND file_id IN :file_ids"
                                if dialect == "postgresql" else "AND c.file_id IN :file_ids"))
    if file_ids is not None:
        statement = statement.bindparams(bindparam("file_ids", expanding=True))
        params["file_ids"] = file_ids
    return list(db.session.scalars(statement, params))
