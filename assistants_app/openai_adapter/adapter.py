"""OpenAIAdapter, shaped like a Flask extension: ``init_app`` keeps its settings and client
cache in ``app.extensions["openai_adapter"]``; every method finds them through
``current_app``, so call the methods inside an app context. ``stream_turn`` reads the
app state when it is called: the iterator it returns may run outside the app context."""
from __future__ import annotations

import functools
import logging
import re
from typing import Iterator

from flask import current_app

from .. import metrics
from . import assistants, chat_completions, embeddings, responses
from .addresses import AddressPolicy
from .calls import Call, Settings
from .clients import ClientCache
from .errors import ProviderError
from .interface import AssistantSpec, Connection, Embeddings, TextDelta, TurnDone, TurnRequest

log = logging.getLogger(__name__)

EXTENSION = "openai_adapter"
BACKENDS = {"chat_completions": chat_completions, "responses": responses, "assistants": assistants}
# What a model id looks like: a list of anything else (an internal service's reply) is not shown.
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,199}")
MAX_MODELS = 2000


def counted(method):
    """assistants_provider_errors_total counts each failed operation once, by kind."""
    @functools.wraps(method)
    def call(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except ProviderError as err:
            metrics.count_provider_error(err.kind)
            raise
    return call


def counted_stream(items: Iterator) -> Iterator:
    try:
        yield from items
    except ProviderError as err:
        metrics.count_provider_error(err.kind)
        raise


class AdapterState:
    """What one Flask app keeps for the adapter."""

    def __init__(self, settings: Settings, policy: AddressPolicy, before_call) -> None:
        self.settings = settings
        self.policy = policy
        self.clients = ClientCache(settings, policy)
        self.before_call = before_call


class OpenAIAdapter:
    def __init__(self, app=None) -> None:
        if app is not None:
            self.init_app(app)

    def init_app(self, app, before_call=None) -> None:
        """``before_call()`` runs before every provider operation (the app gives its database connection
        back there: a provider may take minutes). Reads OPENAI_TIMEOUT, OPENAI_CONNECT_TIMEOUT,
        OPENAI_MAX_RETRIES, OPENAI_RETRY_BACKOFF, PROVIDER_MAX_REPLY_BYTES, PROVIDER_MAX_TURN_BYTES,
        LOG_CONTENT and PROVIDER_ALLOWED_HOSTS (config.py: typed, with their defaults), once: later config
        changes need a new init_app."""
        config = app.config
        settings = Settings(timeout=config["OPENAI_TIMEOUT"],
                            connect_timeout=config["OPENAI_CONNECT_TIMEOUT"],
                            max_retries=config["OPENAI_MAX_RETRIES"], backoff=config["OPENAI_RETRY_BACKOFF"],
                            max_reply_bytes=config["PROVIDER_MAX_REPLY_BYTES"],
                            max_turn_bytes=config["PROVIDER_MAX_TURN_BYTES"],
                            log_content=config["LOG_CONTENT"])
        policy = AddressPolicy.parse(config.get("PROVIDER_ALLOWED_HOSTS"))
        app.extensions[EXTENSION] = AdapterState(settings, policy, before_call or (lambda: None))

    @staticmethod
    def _state() -> AdapterState:
        return current_app.extensions[EXTENSION]

    def client(self, conn: Connection):
        """The cached openai client for ``conn`` (for tests and benchmarks; routes use the methods)."""
        return self._state().clients.get(conn)

    def _begin(self, conn: Connection, subject: str, *, timeout: float | None = None, lookup: bool = False,
               turn: bool = False):
        state = self._state()
        state.before_call()
        client = state.clients.get(conn)  # first: building one is not the provider's time
        return client, Call(state.settings, conn, subject, timeout=timeout, lookup=lookup, turn=turn)

    def provider_url_problem(self, base_url: str) -> str | None:
        """Why a tenant's credential may not use this base_url (PROVIDER_ALLOWED_HOSTS), or None."""
        return self._state().policy.check_url(base_url)

    @staticmethod
    def _backend(conn: Connection):
        try:
            return BACKENDS[conn.api]
        except KeyError:
            raise ValueError(f"unknown api {conn.api!r}; expected one of {', '.join(BACKENDS)}") from None

    # ------------------------------------------------------------------ models
    @counted
    def list_models(self, conn: Connection, *, timeout: float | None = None) -> list[str]:
        """The provider's model ids, sorted: only ids that look like model names, at most
        MAX_MODELS. ``timeout`` replaces OPENAI_TIMEOUT (status checks)."""
        client, call = self._begin(conn, "the model list", timeout=timeout)
        page = call.send(lambda t: client.models.list(timeout=t))
        with call.guard():
            ids = {model.id for model in page.data
                   if isinstance(model.id, str) and MODEL_ID.fullmatch(model.id)}
            return sorted(ids)[:MAX_MODELS]

    # ------------------------------------------------------------------ remote assistants
    @counted
    def create_remote_assistant(self, conn: Connection, spec: AssistantSpec) -> str:
        client, call = self._begin(conn, f"model '{spec.model}'")
        return assistants.create_assistant(client, spec, call)

    @counted
    def update_remote_assistant(self, conn: Connection, remote_id: str, spec: AssistantSpec) -> None:
        client, call = self._begin(conn, f"remote assistant '{remote_id}'", lookup=True)
        assistants.update_assistant(client, remote_id, spec, call)

    @counted
    def delete_remote_assistant(self, conn: Connection, remote_id: str) -> None:
        """Deletes the remote assistant; one the provider no longer has counts as deleted."""
        client, call = self._begin(conn, f"remote assistant '{remote_id}'", lookup=True)
        try:
            assistants.delete_assistant(client, remote_id, call)
        except ProviderError as exc:
            if exc.kind != "not_found":
                raise

    @counted
    def remote_assistant_metadata(self, conn: Connection, remote_id: str, *,
                                  timeout: float | None = None) -> dict[str, str] | None:
        """The remote assistant's metadata, or None when the provider has no such assistant."""
        client, call = self._begin(conn, f"remote assistant '{remote_id}'", timeout=timeout, lookup=True)
        try:
            return assistants.retrieve_assistant(client, remote_id, call)
        except ProviderError as exc:
            if exc.kind == "not_found":
                return None
            raise

    # ------------------------------------------------------------------ remote threads
    @counted
    def create_remote_thread(self, conn: Connection) -> str | None:
        """A conv_ id (responses), a thread_ id (assistants), or None (chat_completions: no call)."""
        backend = self._backend(conn)
        if backend is chat_completions:
            return None
        client, call = self._begin(conn, "a new remote thread")
        return backend.create_thread(client, call)

    def delete_remote_thread(self, conn: Connection, remote_id: str | None, *,
                             timeout: float | None = None) -> None:
        """Best effort: a failure is logged, not raised (the local thread goes either way)."""
        backend = self._backend(conn)
        if remote_id is None or backend is chat_completions:
            return
        client, call = self._begin(conn, f"remote thread '{remote_id}'", timeout=timeout, lookup=True)
        try:
            backend.delete_thread(client, remote_id, call)
        except ProviderError as exc:
            if exc.kind != "not_found":
                log.warning("could not delete remote thread %s: %s", remote_id, exc.message)

    # ------------------------------------------------------------------ turns
    @counted
    def run_turn(self, conn: Connection, req: TurnRequest) -> TurnDone:
        """One blocking turn. chat_completions and responses send a real non-streamed request."""
        backend = self._backend(conn)
        client, call = self._begin(conn, f"model '{req.model}'", turn=True)
        return backend.run_turn(client, req, call)

    def stream_turn(self, conn: Connection, req: TurnRequest) -> Iterator[TextDelta | TurnDone]:
        """TextDelta items as the text arrives, then one TurnDone, last. Raises ProviderError on any
        failure, also mid-stream. The request is sent on the first ``next()``: call it before
        committing to a 200 to answer early failures (429, 401...) with a proper status."""
        backend = self._backend(conn)
        client, call = self._begin(conn, f"model '{req.model}'", turn=True)
        return counted_stream(backend.stream_turn(client, req, call))

    # ------------------------------------------------------------------ embeddings
    @counted
    def create_embeddings(self, conn: Connection, model: str, inputs: list[str],
                          dimensions: int | None = None) -> Embeddings:
        """The vectors of ``inputs`` (one request: the caller batches), whatever the credential's backend."""
        client, call = self._begin(conn, f"embedding model '{model}'", turn=True)
        return embeddings.create(client, model, inputs, dimensions, call)
