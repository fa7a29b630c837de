"""An agent's live status (seed 003): AVAILABLE, or UNAVAILABLE with sentences a person can act on.

Checked at lookup, each within STATUS_TIMEOUT seconds: the credential exists and decrypts; the
provider answers and offers the agent's model; with the `assistants` backend, the remote
assistant still exists. Provider answers (failures included) are cached for MODELS_CACHE_TTL
seconds per credential, so looking up many agents costs one provider call per period."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from ..extensions import openai_adapter
from ..models import Assistant
from ..openai_adapter import Connection, ProviderError
from .credentials import ProviderNotConfigured, connection_for
from .models_cache import cached_models

AVAILABLE, UNAVAILABLE = "AVAILABLE", "UNAVAILABLE"
# Distinct providers asked at once when a list is checked: N dead providers cost one timeout, not N.
PARALLEL_CHECKS = 16
MODELS_SHOWN = 10

_remote_locks: dict[str, threading.Lock] = {}
_remote_locks_guard = threading.Lock()


def _timeout() -> float:
    return float(current_app.config["STATUS_TIMEOUT"])


def provider_label(assistant: Assistant) -> str:
    credential = assistant.credential
    if credential is None:
        return "the service's default provider (OPENAI_BASE_URL / OPENAI_API_KEY)"
    return f"credential {credential.name!r} ({credential.id})"


def _remote_assistant_exists(conn: Connection, remote_id: str) -> bool:
    """Cached like the model list (answers and failures), in the same store."""
    cache = current_app.extensions["models_cache"]
    key = f"remote_assistant:{conn.cache_key}:{remote_id}"
    cached = cache.store.get(key)
    if cached is None:
        with _remote_locks_guard:
            if len(_remote_locks) > 10_000:
                _remote_locks.clear()
            lock = _remote_locks.setdefault(key, threading.Lock())
        with lock:
            cached = cache.store.get(key)
            if cached is None:
                try:
                    value = {"exists": openai_adapter.remote_assistant_exists(conn, remote_id, timeout=_timeout())}
                except ProviderError as err:
                    value = {"error": {"kind": err.kind, "message": err.message}}
                cached = json.dumps(value)
                cache.store.set(key, cached, cache.ttl)
    value = json.loads(cached)
    if "error" in value:
        raise ProviderError(value["error"]["kind"], value["error"]["message"])
    return value["exists"]


def _provider_problem(assistant: Assistant, err: ProviderError) -> str:
    label = provider_label(assistant)
    if err.kind == "credential_rejected":
        return f"The provider rejected the API key of {label}: {err.message}. Store a valid API key for it."
    if err.kind in ("unreachable", "timeout"):
        return (f"The provider of {label} is not answering: {err.message}. Check that it is running and "
                f"that its base_url is right.")
    return f"The provider of {label} failed: {err.message}."


def agent_status(assistant: Assistant) -> tuple[str, list[str]]:
    """(AVAILABLE | UNAVAILABLE, errors). Never raises for a provider problem: it reports it."""
    try:
        conn = connection_for(assistant.credential)
    except ProviderNotConfigured as err:
        return UNAVAILABLE, [err.message]
    model = assistant.model
    try:
        models = cached_models(conn, timeout=_timeout())
    except ProviderError as err:
        return UNAVAILABLE, [_provider_problem(assistant, err)]
    errors = []
    # Azure lists its base models, not the deployment names a request names: answering is the test there.
    if conn.provider != "azure" and model not in models:
        offered = ", ".join(models[:MODELS_SHOWN]) + (", ..." if len(models) > MODELS_SHOWN else "")
        errors.append(f"Model {model!r} is not offered by the provider of {provider_label(assistant)}; "
                      f"it offers: {offered or 'no models'}. Set the agent's model to one of them, or deploy "
                      f"{model!r} there.")
    if conn.api == "assistants":
        try:
            if not _remote_assistant_exists(conn, assistant.details_id):
                errors.append(f"The provider of {provider_label(assistant)} no longer has the remote assistant "
                              f"{assistant.details_id!r} behind this agent: delete the agent and create it again.")
        except ProviderError as err:
            errors.append(_provider_problem(assistant, err))
    return (UNAVAILABLE if errors else AVAILABLE), errors


def agent_statuses(assistants: list[Assistant]) -> dict[str, tuple[str, list[str]]]:
    """Each agent's status; the providers behind them are asked in parallel first (then cached)."""
    _warm_caches(assistants)
    return {assistant.id: agent_status(assistant) for assistant in assistants}


def _warm_caches(assistants: list[Assistant]) -> None:
    models_lookups: dict[str, Connection] = {}
    remote_lookups: dict[tuple[str, str], Connection] = {}
    for assistant in assistants:
        try:
            conn = connection_for(assistant.credential)
        except ProviderNotConfigured:
            continue
        models_lookups.setdefault(conn.cache_key, conn)
        if conn.api == "assistants":
            remote_lookups.setdefault((conn.cache_key, assistant.details_id), conn)
    if len(models_lookups) + len(remote_lookups) < 2:
        return  # one lookup: agent_status asks it directly
    app = current_app._get_current_object()

    def models(conn) -> bool:
        with app.app_context():
            try:
                cached_models(conn, timeout=_timeout())
            except ProviderError:
                return False
            return True

    def remote(item):
        (_, remote_id), conn = item
        with app.app_context():
            try:
                _remote_assistant_exists(conn, remote_id)
            except ProviderError:
                pass

    with ThreadPoolExecutor(max_workers=PARALLEL_CHECKS) as pool:
        answered = {key for key, ok in zip(models_lookups, pool.map(models, models_lookups.values())) if ok}
        # agent_status skips the remote check when the provider did not answer: so do we.
        list(pool.map(remote, [item for item in remote_lookups.items() if item[0][0] in answered]))
