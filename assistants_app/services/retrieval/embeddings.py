"""Embeddings through a vector store's credential's provider (POST {base_url}/embeddings, through the
adapter), in batches; vectors kept as unit-length float32 bytes, so that a dot product is the cosine.

    model, dimensions = embeddings.settings_for(credential)    # when a store is made
    blobs = embeddings.embed_texts(store, texts)                # indexing: one blob per text
    query = embeddings.embed_query(store, "what is ...")        # searching: a unit-length numpy vector

The model: the credential's embedding_model, or its provider kind's default (EMBEDDING_MODEL and
EMBEDDING_DIMENSIONS for the app's default provider): text-embedding-3-large at 256 dimensions on
OpenAI and Azure (what OpenAI's own file_search uses), nomic-embed-text on an OpenAI-compatible server."""
import numpy
from flask import current_app

from ...errors import ServiceError
from ...extensions import db, openai_adapter
from ...models import Credential
from ...retrieval_models import VectorStore
from ..credentials import connection_for

BATCH_SIZE = 64  # texts per request: 64 chunks of 800 tokens stay far under every provider's limit
DEFAULTS = {"openai": ("text-embedding-3-large", 256), "azure": ("text-embedding-3-large", 256),
            "openai_compatible": ("nomic-embed-text", None)}


def settings_for(credential: Credential | None) -> tuple[str, int | None]:
    """(model, dimensions) a new store of this credential embeds with."""
    if credential is None:
        config = current_app.config
        kind = "openai_compatible" if config.get("OPENAI_BASE_URL") else "openai"
        if config.get("EMBEDDING_MODEL"):
            return config["EMBEDDING_MODEL"], config.get("EMBEDDING_DIMENSIONS")
        model, dimensions = DEFAULTS[kind]
        return model, config.get("EMBEDDING_DIMENSIONS") or dimensions
    if credential.embedding_model:
        return credential.embedding_model, credential.embedding_dimensions
    model, dimensions = DEFAULTS.get(credential.provider, DEFAULTS["openai_compatible"])
    return model, credential.embedding_dimensions or dimensions


def _connection(store: VectorStore):
    credential = None
    if store.credential_id is not None:
        credential = db.session.get(Credential, store.credential_id)
        if credential is None or credential.tenant != store.tenant:
            raise ServiceError(400, f"The credential of vector store {store.id} was deleted: make a new "
                                    "store with a credential that exists.")
    return connection_for(credential)


FLOAT32 = numpy.dtype("<f4")  # how a vector is stored: little-endian float32, whatever the host


def unit_vectors(vectors: list[list[float]]) -> numpy.ndarray:
    matrix = numpy.asarray(vectors, dtype=FLOAT32)
    norms = numpy.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return matrix / norms


def embed_texts(store: VectorStore, texts: list[str], between=None) -> list[bytes]:
    """One blob per text. The provider is called BATCH_SIZE texts at a time (the adapter gives the
    database connection back before each call), ``between()`` before each call after the first: raises
    ProviderError on any failure."""
    conn, model, dimensions = _connection(store), store.embedding_model, store.embedding_dimensions
    blobs: list[bytes] = []
    for start in range(0, len(texts), BATCH_SIZE):
        if start and between is not None:
            between()
        batch = openai_adapter.create_embeddings(conn, model, texts[start:start + BATCH_SIZE], dimensions)
        blobs += [row.tobytes() for row in unit_vectors(batch.vectors)]
    return blobs


def embed_query(store: VectorStore, text: str) -> numpy.ndarray:
    return unit_vectors(openai_adapter.create_embeddings(_connection(store), store.embedding_model, [text],
                                                         store.embedding_dimensions).vectors)[0]
