"""Files, vector stores and file_search (the /v1 files and vector stores APIs, and the file_search tool
the service runs itself inside a turn): docs/file_search.rst says how retrieval works.

    files          uploads, their bytes and their quota
    extraction     a file's text, by the well-kept library for its kind
    chunking       the text cut in token windows (tokens: the offline tokenizer)
    embeddings     vectors through the store's credential's provider, batched
    stores         vector stores; store_files: their files and batches
    indexing       the background job that indexes one file of a store (index_slots: its claim)
    search         hybrid search: keyword (keyword.py) fused with vector similarity (vectors.py)
    file_search    the server tool built from a list of vector store ids"""
from datetime import datetime

from ...errors import NotFound


def timestamp(moment: datetime | None) -> int | None:
    return int(moment.timestamp()) if moment is not None else None


def not_found(kind: str, object_id: str) -> NotFound:
    return NotFound(f"No {kind} found with id '{object_id[:128]}'.")
