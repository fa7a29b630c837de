"""The Sphinx docs: they build with -W, and the reference documents every route of the app.

One build per test session (about 5 s), of a copy of docs/ in a temporary folder: the build writes
its _build/openapi.json beside its sources, and a `make docs` running at the same time must not
overwrite the one this test reads (nor this test its)."""
import html
import json
import os
import re
import shutil
import subprocess
import sys

import jsonschema
import pytest

from assistants_app import config

from .helpers import SEED_003, UNMEASURED, app_on, routes

pytestmark = pytest.mark.slow

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
sys.path.insert(0, os.path.join(DOCS, "_ext"))
from request_examples import REQUEST_EXAMPLES  # noqa: E402

# Served by Flask and flask-smorest themselves (static files, the OpenAPI document, Swagger UI),
# and the playground page (docs/playground.rst).
# /metrics: Prometheus' text format, for a scraper (docs/operations.rst), not the JSON API.
NOT_API_RULES = ("/openapi.json", "/docs", "/", "/metrics")
NOT_API_PREFIXES = ("/static/", "/docs/assets/", "/playground/")
SEED_003_PREFIX = f"{SEED_003}/"
OPENAI_ROUTES = ("initialize", "openai_chat", "delete_agent_route", "get_models")


@pytest.fixture(scope="session")
def docs_build(tmp_path_factory):
    """The folder of one `sphinx-build -W` run (the command of `make docs`) on a copy of docs/."""
    out = tmp_path_factory.mktemp("docs")
    source = out / "source"
    shutil.copytree(DOCS, source, ignore=shutil.ignore_patterns("_build", "__pycache__"))
    # The copy's conf.py finds the package beside it no more: it comes from PYTHONPATH. Coverage off
    # (UNMEASURED): the spec it documents is /openapi.json's, which the tests read; measured, the build
    # took 27 s instead of 17.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")])),
           **UNMEASURED}
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(source), str(out / "html")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"sphinx-build -W failed:\n{result.stdout}\n{result.stderr}"
    return out


@pytest.fixture(scope="session")
def built_docs(docs_build):
    """The HTML folder."""
    return docs_build / "html"


@pytest.fixture(scope="session")
def docs_app():
    with app_on("sqlite://") as app:
        yield app


@pytest.fixture(scope="session")
def spec(docs_build):
    """The OpenAPI document the build rendered the reference from (written beside its sources)."""
    with open(docs_build / "source" / "_build" / "openapi.json") as f:
        return json.load(f)


def documented_routes(app):
    """(method, werkzeug rule) for every route a client can call."""
    for rule, method in routes(app):
        if not (rule in NOT_API_RULES or rule.startswith(NOT_API_PREFIXES)):
            yield method, rule


def httpdomain_path(rule: str) -> str:
    """/assistants/<assistant_id> -> /assistants/(assistant_id), as the reference spells it."""
    return re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"(\1)", rule)


def anchor(method: str, rule: str) -> str:
    # sphinxcontrib-httpdomain's http_resource_anchor()
    return method.lower() + "-" + re.sub(r"[{}]", "", re.sub(r"[<>:/]", "-", httpdomain_path(rule)))


def operations(reference_html: str) -> dict[str, str]:
    """Anchor -> the text of that operation's entry (tags stripped, entities decoded)."""
    starts = [(m.start(), m.group(1)) for m in re.finditer(
        r'<dt class="sig sig-object http" id="((?:get|post|put|patch|delete)-[^"]*)"', reference_html)]
    entries = {}
    for (start, name), (end, _) in zip(starts, starts[1:] + [(len(reference_html), None)]):
        entries[name] = html.unescape(re.sub(r"<[^>]+>", "", reference_html[start:end]))
    return entries


def test_docs_build_without_warnings(built_docs):
    for page in ("index", "quickstart", "reference", "openai_routes", "configuration", "providers",
                 "deployment", "security", "errors", "benchmarks"):
        assert (built_docs / f"{page}.html").exists(), page


def test_every_route_is_in_the_reference_with_statuses_and_curl(built_docs, docs_app):
    entries = operations((built_docs / "reference.html").read_text())
    routes = list(documented_routes(docs_app))
    assert len(routes) >= 14
    missing = [f"{method} {rule}" for method, rule in routes if anchor(method, rule) not in entries]
    assert not missing, f"routes missing from the reference (docs/reference.rst): {missing}"
    for method, rule in routes:
        text = entries[anchor(method, rule)]
        url = re.sub(r"<(?:[^:<>]+:)?(\w+)>", lambda m: m.group(1).upper(), rule)
        assert "Status Codes" in text, f"{method} {rule}: no status codes"
        assert re.search(r"\b[2]\d\d\b", text), f"{method} {rule}: no success status"
        assert f'"$ASSISTANTS_URL{url}' in text and "curl" in text, f"{method} {rule}: no curl example"
        if method != "GET":
            assert f"-X {method}" in text, f"{method} {rule}: the curl example uses the wrong method"
        if rule != "/health":
            assert "401" in text, f"{method} {rule}: the 401 of a secured route is not listed"


def test_no_undocumented_operation_in_the_spec(spec, docs_app):
    """The spec the reference is rendered from is the app's own: same routes, both ways."""
    in_spec = {(method.upper(), path) for path, item in spec["paths"].items() for method in item
               if method in {"get", "post", "put", "patch", "delete"}}
    in_app = {(method, re.sub(r"<(?:[^:<>]+:)?(\w+)>", r"{\1}", rule))
              for method, rule in documented_routes(docs_app)}
    assert in_spec == in_app


def test_openai_routes_page_has_the_four_functions_in_seed_form(built_docs):
    page = (built_docs / "openai_routes.html").read_text()
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for name in OPENAI_ROUTES:
        assert f'id="assistants_app.routes.openai_routes.{name}"' in page, name
    for url in ("POST /openai/initialize", "POST /openai/chat", "POST /openai/delete_agent",
                "GET /openai/get_models"):
        assert url in text
    for label in ("URL:", "Parameters:", "Returns:", "Return type:", "Status Codes:",
                  "200 OK", "400 Bad Request", "404 Not Found"):
        assert label in text, label
    assert "---" not in text  # flask-smorest's delimiter stays out of the page


def test_every_setting_is_on_the_configuration_page(built_docs):
    text = html.unescape(re.sub(r"<[^>]+>", "", (built_docs / "configuration.html").read_text()))
    names = set(config.ENVIRONMENT_SETTINGS) | {n for n in vars(config.DefaultConfig) if n.isupper()}
    assert not sorted(n for n in names if n not in text), "settings missing from docs/configuration.rst"


def _nullable_to_json_schema(node):
    """OpenAPI 3.0's `nullable: true` as JSON Schema's type list."""
    if isinstance(node, dict):
        node = {key: _nullable_to_json_schema(value) for key, value in node.items()}
        if node.pop("nullable", False) and "type" in node:
            node["type"] = [node["type"], "null"]
            if "enum" in node:
                node["enum"] = node["enum"] + [None]
        return node
    if isinstance(node, list):
        return [_nullable_to_json_schema(value) for value in node]
    return node


def test_the_reference_example_bodies_are_valid(spec):
    """docs/_ext/request_examples.py: every body matches its route's schema, and names a real route."""
    components = _nullable_to_json_schema(spec.get("components", {}))
    landed = {prefix for prefix in (SEED_003_PREFIX,) if any(p.startswith(prefix) for p in spec["paths"])}
    for key, body in REQUEST_EXAMPLES.items():
        method, path = key.split(" ", 1)
        operation = spec["paths"].get(path, {}).get(method.lower())
        if operation is None:
            # Examples may wait for a blueprint still being written, not outlive a route.
            assert path.startswith(SEED_003_PREFIX) and SEED_003_PREFIX not in landed, f"{key}: no such route"
            continue
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        schema = dict(_nullable_to_json_schema(schema), components=components)
        jsonschema.validate(body, schema)
