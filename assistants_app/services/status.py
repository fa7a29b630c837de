"""An agent's live status (the agents API): AVAILABLE, or UNAVAILABLE with sentences a person can act on.

Checked at lookup, each within STATUS_TIMEOUT seconds: the credential exists and decrypts; the
provider answers and offers the agent's model; with the `assistants` backend, the remote
assistant still exists. Provider answers (failures included) are cached for MODELS_CACHE_TTL
seconds per credential, so looking up many agents costs one provider call per period."""
from concurrent.futures import ThreadPoolExecutor

from flask import current_app

from ..models import Assistant
from ..openai_adapter import Connection, ProviderError
from . import release_connection
from .credentials import ProviderNotConfigured, connection_for
from .models_cache import cached_models, cached_remote_assistant_exists, is_cached

AVAILABLE, UNAVAILABLE = "AVAILABLE", "UNAVAILABLE"
# Distinct providers asked at once when a list is checked: N dead providers cost one timeout, not N.
PARALLEL_CHECKS = 16
# Providers one list request may ask (those answered recently are free): a page of 999 agents
# must not make the service call 999 hosts for one request.
PROVIDERS_PER_LIST = 32
MODELS_SHOWN = 10
NOT_CHECKED = ("Not checked: this page names more than {limit} providers that were not asked recently. "
               "Ask for a smaller page (limit), or for this agent alone.")


def _timeout() -> float:
    return float(current_app.config["STATUS_TIMEOUT"])


def provider_label(assistant: Assistant) -> str:
    credential = assistant.credential
    if credential is None:
        return "the service's default provider (OPENAI_BASE_URL / OPENAI_API_KEY)"
    return f"credential {credential.name!r} ({credential.id})"


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
    model, remote_id, label = assistant.model, assistant.details_id, provider_label(assistant)
    try:
        models = cached_models(conn, timeout=_timeout())
    except ProviderError as err:
        return UNAVAILABLE, [_provider_problem(assistant, err)]
    errors = []
    # Azure lists its base models, not the deployment names a request names: answering is the test there.
    if conn.provider != "azure" and model not in models:
        offered = ", ".join(models[:MODELS_SHOWN]) + (", ..." if len(models) > MODELS_SHOWN else "")
        errors.append(f"Model {model!r} is not offered by the provider of {label}; "
                      f"it offers: {offered or 'no models'}. Set the agent's model to one of them, or deploy "
                      f"{model!r} there.")
    if conn.api == "assistants":
        try:
            if not cached_remote_assistant_exists(conn, remote_id, timeout=_timeout()):
                errors.append(f"The provider of {label} no longer has the remote assistant "
                              f"{remote_id!r} behind this agent: delete the agent and create it again.")
        except ProviderError as err:
            errors.append(_provider_problem(assistant, err))
    return (UNAVAILABLE if errors else AVAILABLE), errors


def agent_statuses(assistants: list[Assistant]) -> dict[str, tuple[str, list[str]]]:
    """Each agent's status; the providers behind them are asked in parallel first (then cached),
    at most PROVIDERS_PER_LIST of them."""
    unchecked = _warm_caches(assistants)
    statuses = {}
    for assistant in assistants:
        if assistant.id in unchecked:
            statuses[assistant.id] = (UNAVAILABLE, [NOT_CHECKED.format(limit=PROVIDERS_PER_LIST)])
        else:
            statuses[assistant.id] = agent_status(assistant)
    return statuses


def _warm_caches(assistants: list[Assistant]) -> set[str]:
    """Ask the providers behind ``assistants`` in parallel; the ids of agents left unchecked
    because the page needs more than PROVIDERS_PER_LIST provider calls."""
    models_lookups: dict[str, Connection] = {}
    remote_lookups: dict[tuple[str, str], Connection] = {}
    unchecked, calls = set(), 0
    for assistant in assistants:
        try:
            conn = connection_for(assistant.credential)
        except ProviderNotConfigured:
            continue
        new_models = conn.cache_key not in models_lookups and not is_cached(conn)
        remote = (conn.cache_key, assistant.details_id) if conn.api == "assistants" else None
        new_remote = remote is not None and remote not in remote_lookups and not is_cached(conn, remote[1])
        if calls + new_models + new_remote > PROVIDERS_PER_LIST:
            unchecked.add(assistant.id)
            continue
        calls += new_models + new_remote
        models_lookups.setdefault(conn.cache_key, conn)
        if remote is not None:
            remote_lookups.setdefault(remote, conn)
    if calls < 2:
        return unchecked  # one lookup at most: agent_status asks it directly
    release_connection()
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
                cached_remote_assistant_exists(conn, remote_id, timeout=_timeout())
            except ProviderError:
                pass

    with ThreadPoolExecutor(max_workers=PARALLEL_CHECKS) as pool:
        answered = {key for key, ok in zip(models_lookups, pool.map(models, models_lookups.values())) if ok}
        # agent_status skips the remote check when the provider did not answer: so do we.
        list(pool.map(remote, [item for item in remote_lookups.items() if item[0][0] in answered]))
    return unchecked
