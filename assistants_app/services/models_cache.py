"""The provider answers worth remembering briefly (answer_cache.py): a credential's model
list, and whether a remote assistant still exists."""
from .. import metrics
from ..extensions import openai_adapter, provider_answers
from ..models import Credential
from ..openai_adapter import Connection
from .credentials import connection_for


def _key(conn: Connection, remote_id: str | None = None) -> str:
    return f"remote_assistant:{conn.cache_key}:{remote_id}" if remote_id else f"models:{conn.cache_key}"


def cached_models(conn: Connection, *, timeout: float | None = None) -> list[str]:
    """The provider's model ids (assistants_models_cache_total: a miss when the provider was asked)."""
    asked = []

    def ask():
        asked.append(True)
        return openai_adapter.list_models(conn, timeout=timeout)

    try:
        return provider_answers.answer(_key(conn), ask)
    finally:
        metrics.count_models_lookup(hit=not asked)


def models_of(credential: Credential | None) -> list[str]:
    """The model ids of a credential's provider (None: the service's default one)."""
    return cached_models(connection_for(credential))


def cached_remote_assistant_exists(conn: Connection, remote_id: str, *, timeout: float | None = None) -> bool:
    """Whether the provider still has the remote assistant behind an agent."""
    return provider_answers.answer(
        _key(conn, remote_id),
        lambda: openai_adapter.remote_assistant_metadata(conn, remote_id, timeout=timeout) is not None)


def is_cached(conn: Connection, remote_id: str | None = None) -> bool:
    """Whether that answer is remembered (no provider call needed for it)."""
    return provider_answers.is_cached(_key(conn, remote_id))
