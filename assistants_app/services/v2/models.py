"""GET /v1/models: the models a tenant's key can name, in OpenAI's shape.

    listed()        -> {"object": "list", "data": [model, ...]}
    get(model_id)   -> one model, or 404 model_not_found

A gateway's client asks for the model ids it may put in an assistant's `model`: those of the
service's default provider (the one /v1/assistants creates assistants on) first, then those of
each of the tenant's stored credentials, oldest first. A model that several offer is listed once,
owned_by the first: "default" (the service's default provider) or "credential:<id>" (the
credential to give an assistant at /assistants to use it). `created` is 0: the models cache keeps
ids only, and OpenAI-compatible servers disagree on its meaning anyway.

Each provider's list comes through the models cache (MODELS_CACHE_TTL, failures too), the providers
not cached asked in parallel, each within STATUS_TIMEOUT, at most status.PROVIDERS_PER_LIST of them a
request. A provider that fails, or has no usable key, is left out and logged; only when every
provider asked failed does the list fail, with the first one's error (502, 504, 429)."""
import logging
from concurrent.futures import ThreadPoolExecutor

from flask import current_app
from sqlalchemy import select

from ...errors import NotFound
from ...extensions import db
from ...models import Credential
from ...openai_adapter import Connection, ProviderError
from .. import release_connection, tenant
from ..credentials import ProviderNotConfigured, connection_for
from ..models_cache import cached_models, is_cached
from ..status import PARALLEL_CHECKS, PROVIDERS_PER_LIST

log = logging.getLogger(__name__)
DEFAULT_OWNER = "default"


class ModelNotFound(NotFound):
    """OpenAI's 404 for a model the key cannot use (code model_not_found)."""

    openai_code = "model_not_found"

    def __init__(self, model_id: str):
        super().__init__(f"The model '{model_id[:128]}' does not exist or you do not have access to it.")


def _providers() -> list[tuple[str, Connection]]:
    """(owner, connection) of the default provider, when there is one, and of each credential."""
    found = []
    try:
        found.append((DEFAULT_OWNER, connection_for(None)))
    except ProviderNotConfigured:
        pass  # no default provider: nothing of it to list
    credentials = db.session.scalars(select(Credential).where(Credential.tenant == tenant())
                                     .order_by(Credential.created_at, Credential.id))
    for credential in credentials:
        try:
            found.append((f"credential:{credential.id}", connection_for(credential)))
        except ProviderNotConfigured as err:  # a key the configured ASSISTANTS_SECRET_KEYS cannot read
            log.warning("models of credential %s left out: %s", credential.id, err.message)
    return found


def _within_budget(providers: list[tuple[str, Connection]]) -> list[tuple[str, Connection]]:
    """The providers to ask: every one cached, and the first PROVIDERS_PER_LIST of the others."""
    kept, uncached = [], 0
    for owner, conn in providers:
        if not is_cached(conn):
            uncached += 1
            if uncached > PROVIDERS_PER_LIST:
                log.warning("models of %s left out: this request asked %d providers already",
                            owner, PROVIDERS_PER_LIST)
                continue
        kept.append((owner, conn))
    return kept


def _ask_each(providers: list[tuple[str, Connection]]) -> list[list[str] | ProviderError]:
    """Each provider's model ids, or its failure; in parallel, each within STATUS_TIMEOUT."""
    app = current_app._get_current_object()
    timeout = float(app.config["STATUS_TIMEOUT"])

    def ask(conn: Connection) -> list[str] | ProviderError:
        with app.app_context():
            try:
                return cached_models(conn, timeout=timeout)
            except ProviderError as err:
                return err

    conns = [conn for _, conn in providers]
    if len(conns) < 2:
        return [ask(conn) for conn in conns]
    with ThreadPoolExecutor(max_workers=PARALLEL_CHECKS) as pool:
        return list(pool.map(ask, conns))


def _model(model_id: str, owner: str) -> dict:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": owner}


def _all() -> list[dict]:
    providers = _within_budget(_providers())
    release_connection()  # the providers may take STATUS_TIMEOUT: no database connection held meanwhile
    answers = _ask_each(providers)
    failures = [answer for answer in answers if isinstance(answer, ProviderError)]
    if providers and len(failures) == len(providers):
        raise failures[0]
    seen: dict[str, dict] = {}
    for (owner, _), answer in zip(providers, answers):
        if isinstance(answer, ProviderError):
            log.warning("models of %s left out: %s", owner, answer.message)
            continue
        for model_id in answer:
            seen.setdefault(model_id, _model(model_id, owner))
    return list(seen.values())


def listed() -> dict:
    return {"object": "list", "data": _all()}


def get(model_id: str) -> dict:
    for model in _all():
        if model["id"] == model_id:
            return model
    raise ModelNotFound(model_id)
