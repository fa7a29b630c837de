"""Prometheus metrics (prometheus_client), every gunicorn worker's in every scrape.

Under gunicorn, gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR before any worker imports this
module: each worker then writes its values to files there, and GET /metrics sums them all
(MultiProcessCollector). Without it (flask run, a test) the values live in this process.

Labels are bounded and never carry content, a secret or a tenant: a route's template (not its path),
a method, a status, a backend, an outcome, a provider failure's kind, a model id (capped in number,
in all and per tenant, so no tenant can use up the labels the others' models need). Children are
cached: recording a turn costs a few dict lookups and the value updates themselves.

This state is the process's, not an app's, on purpose: prometheus_client's families live in its
process-wide REGISTRY (and, under gunicorn, in files named by the worker's pid), so every app of a process
counts into the same families; the children cache and the model labels follow the families they belong to."""
import os
import re
import threading

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)

# Turns and provider calls last seconds to minutes (OPENAI_TIMEOUT, 120 s by default).
SLOW_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
MODEL_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,99}")
MAX_MODELS = 200  # distinct model labels per process; any further model counts as "other"
MAX_MODELS_PER_TENANT = 20  # of which one tenant's turns may add at most this many

HTTP_REQUESTS = Counter("assistants_http_requests_total", "HTTP requests answered.",
                        ["method", "route", "status"])
HTTP_SECONDS = Histogram("assistants_http_request_duration_seconds",
                         "Time from a request's arrival to its response's headers.", ["method", "route"])
CHAT_TURNS = Counter("assistants_chat_turns_total", "Chat turns, by how they ended.",
                     ["api", "backend", "outcome"])
CHAT_TURN_SECONDS = Histogram("assistants_chat_turn_duration_seconds",
                              "A chat turn from its start to its recorded end (a stream's last piece).",
                              ["api", "backend"], buckets=SLOW_BUCKETS)
PROVIDER_SECONDS = Histogram("assistants_provider_request_duration_seconds",
                             "One provider request (each retry its own), to its reply or a stream's headers.",
                             ["backend"], buckets=SLOW_BUCKETS)
PROVIDER_ERRORS = Counter("assistants_provider_errors_total", "Provider operations that failed, by kind.",
                          ["kind"])
TOKENS = Counter("assistants_tokens_total", "Tokens of recorded turns, as the provider counted them.",
                 ["direction", "model"])
ACTIVE_STREAMS = Gauge("assistants_active_streams", "Streamed chat turns in progress.",
                       multiprocess_mode="livesum")
MODELS_CACHE = Counter("assistants_models_cache_total", "Model-list lookups, answered from the cache or not.",
                       ["result"])
BUDGET_REFUSALS = Counter("assistants_budget_refusals_total",
                          "Turns refused because the API key had used its daily token budget.")

_children: dict = {}
_models: set = set()
_models_added_by: dict[str, set] = {}  # tenant -> the labels its turns added (at most MAX_MODELS tenants)
_lock = threading.Lock()


def child(family, *labels):
    """The family's child for these label values, created once (labels() costs a lock and a tuple)."""
    key = (family, labels)
    found = _children.get(key)
    if found is None:
        with _lock:
            found = _children.setdefault(key, family.labels(*labels))
    return found


def model_label(model: str, tenant: str) -> str:
    """A model id as a label: one that looks like a model id, among the first MAX_MODELS seen and the
    first MAX_MODELS_PER_TENANT that ``tenant`` added. A label another tenant added is shared."""
    if model in _models:
        return model
    if not MODEL_LABEL.fullmatch(model or ""):
        return "other"
    with _lock:
        if model not in _models:  # (another thread may have added it meanwhile)
            if len(_models) >= MAX_MODELS or len(_models_added_by.get(tenant, ())) >= MAX_MODELS_PER_TENANT:
                return "other"
            _models_added_by.setdefault(tenant, set()).add(model)
            _models.add(model)
    return model


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    method = method if method in METHODS else "other"
    child(HTTP_REQUESTS, method, route, str(status)).inc()
    child(HTTP_SECONDS, method, route).observe(seconds)


def observe_turn(api: str, backend: str, outcome: str, seconds: float) -> None:
    child(CHAT_TURNS, api, backend, outcome).inc()
    child(CHAT_TURN_SECONDS, api, backend).observe(seconds)


def observe_provider_request(backend: str, seconds: float) -> None:
    child(PROVIDER_SECONDS, backend).observe(seconds)


def count_provider_error(kind: str) -> None:
    child(PROVIDER_ERRORS, kind).inc()


def count_tokens(model: str, prompt_tokens: int, completion_tokens: int, tenant: str) -> None:
    label = model_label(model, tenant)
    child(TOKENS, "prompt", label).inc(prompt_tokens)
    child(TOKENS, "completion", label).inc(completion_tokens)


def count_models_lookup(hit: bool) -> None:
    child(MODELS_CACHE, "hit" if hit else "miss").inc()


def multiprocess_directory() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def exposition() -> tuple[bytes, str]:
    """The text format of every metric: all workers' (multiprocess mode) or this process's."""
    directory = multiprocess_directory()
    if directory:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
