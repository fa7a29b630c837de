"""The HTTP reference, rendered from the OpenAPI document the app itself produces.

`setup()` writes _build/openapi.json from `create_app()` with flask-smorest's own
`flask openapi write` at the start of every build (never committed), and registers a
sphinxcontrib-openapi renderer that adds what the stock one lacks: a section per
blueprint, a curl example for every operation, the 401 of every secured route, and
request/response fields without the server-owned and write-only ones."""
import copy
import json
import os
import re

from sphinx.util import logging
from sphinxcontrib import httpdomain
from sphinxcontrib.openapi.directive import create_directive_from_renderer
from sphinxcontrib.openapi.renderers import HttpdomainRenderer
from sphinxcontrib.openapi.renderers._httpdomain import indented
from sphinxcontrib.openapi.schema_utils import example_from_schema

from request_examples import REQUEST_EXAMPLES

log = logging.getLogger(__name__)

SPEC_PATH = os.path.join("_build", "openapi.json")  # relative to docs/
# A blueprint's tag -> its section title; tags not listed here get a section too.
TAG_TITLES = {
    "assistants": "Assistants: /assistants",
    "credentials": "Credentials: /credentials",
    "openai": "Threads and chat: /openai",
    "agents": "Agents (OpenAI compatibility): /api/v1/compatibility/openai/v1/agents",
    "agents-as-assistants": "The same, as assistants: /api/v1/compatibility/openai/v1/assistants",
    "assistants_v2": "The OpenAI Assistants API v2: /v1",
    "health": "Health: /health",
}
# Every route but the public ones answers these, whatever its own documentation says.
SECURED_STATUSES = {"401": "Missing, invalid or revoked API key (the response carries "
                           "``WWW-Authenticate: Bearer``)."}
BODY_STATUSES = {"400": "The body is not valid JSON.",
                 "413": "The body is larger than ASSISTANTS_MAX_BODY_BYTES."}
# Seed 003's API answers a body that is not JSON with its 422, in its own shape.
SEED_003_PREFIX = "/api/v1/compatibility/openai/v1/"


def write_spec(app) -> str:
    """Write the app's OpenAPI document with `flask openapi write`, from a throwaway config."""
    from cryptography.fernet import Fernet

    from assistants_app import create_app

    path = os.path.join(app.confdir, SPEC_PATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    flask_app = create_app({
        "DATABASE_URL": "sqlite://",  # never opened: only the routes are read
        "ASSISTANTS_SECRET_KEYS": Fernet.generate_key().decode(),  # so instance/ gets no key file
        "REDIS_URL": None,
    })
    # Written aside, then moved into place: a build running at the same time never reads half a file.
    temporary = f"{path}.{os.getpid()}"
    result = flask_app.test_cli_runner().invoke(args=["openapi", "write", "--format", "json", temporary])
    if result.exit_code != 0:
        raise RuntimeError(f"flask openapi write failed: {result.output}") from result.exception
    os.replace(temporary, path)
    return path


def httpdomain_path(endpoint: str) -> str:
    """/assistants/{assistant_id} -> /assistants/(assistant_id), httpdomain's parameter syntax."""
    return re.sub(r"\{(\w+)\}", r"(\1)", endpoint)


def _status_key(status: str):
    return (0, int(status)) if status.isdigit() else (1, status)


def _without(schema, flag: str):
    """A copy of a schema without the properties marked readOnly / writeOnly."""
    schema = copy.deepcopy(schema)

    def prune(node):
        if isinstance(node, dict):
            properties = node.get("properties")
            if isinstance(properties, dict):
                for name in [n for n, p in properties.items() if isinstance(p, dict) and p.get(flag)]:
                    del properties[name]
                    if name in node.get("required", []):
                        node["required"].remove(name)
            for value in node.values():
                prune(value)
        elif isinstance(node, list):
            for value in node:
                prune(value)

    prune(schema)
    return schema


def constraints(schema: dict) -> str:
    """What a schema allows, in words (Markdown): the stock renderer shows only the type."""
    words = []
    if "enum" in schema:
        words.append("One of " + ", ".join(f"`{json.dumps(value)}`" for value in schema["enum"]) + ".")
    low, high = schema.get("minLength"), schema.get("maxLength")
    if low is not None or high is not None:
        words.append(f"{low or 0} to {high} characters." if high is not None
                     else f"At least {low} characters.")
    low, high = schema.get("minimum"), schema.get("maximum")
    if low is not None or high is not None:
        words.append(f"From {low} to {high}." if low is not None and high is not None
                     else f"At least {low}." if low is not None else f"At most {high}.")
    low, high = schema.get("minItems"), schema.get("maxItems")
    if high is not None:
        words.append(f"{low or 0} to {high} items.")
    if "default" in schema:
        words.append(f"Default `{json.dumps(schema['default'])}`.")
    if schema.get("nullable"):
        words.append("May be `null`.")
    if schema.get("readOnly"):
        words.append("Set by the server.")
    if schema.get("writeOnly"):
        words.append("Never returned.")
    return " ".join(words)


def describe_constraints(node, seen=None):
    """Append each property's constraints to its description, throughout a schema."""
    seen = set() if seen is None else seen
    if id(node) in seen:  # resolved $refs share objects: annotate each once
        return
    seen.add(id(node))
    if isinstance(node, dict):
        for prop in (node.get("properties") or {}).values():
            if isinstance(prop, dict) and id(prop) not in seen:
                extra = constraints(prop)
                if extra:
                    prop["description"] = " ".join(filter(None, [prop.get("description", "").strip(), extra]))
        for value in node.values():
            describe_constraints(value, seen)
    elif isinstance(node, list):
        for value in node:
            describe_constraints(value, seen)


def one_of_each(example):
    """A generated example with one item per list: two identical items only add length."""
    if isinstance(example, list):
        return [one_of_each(item) for item in example[:1]]
    if isinstance(example, dict):
        return {key: one_of_each(value) for key, value in example.items()}
    return example


def _json_content(holder: dict):
    return (holder or {}).get("content", {}).get("application/json")


def request_example(endpoint: str, method: str, operation: dict):
    """The hand-written example body when there is one, else one generated from the schema."""
    key = f"{method.upper()} {endpoint}"
    if key in REQUEST_EXAMPLES:
        return REQUEST_EXAMPLES[key]
    content = _json_content(operation.get("requestBody"))
    if not content or "schema" not in content:
        return None
    if "example" in content:
        return content["example"]
    schema = content["schema"]
    example = example_from_schema(schema)
    required = set(schema.get("required", []))
    if isinstance(example, dict) and required:
        # Required fields only: a generated value for every optional one rarely makes a valid body.
        example = {name: value for name, value in example.items() if name in required}
    return example


def curl_lines(endpoint: str, method: str, operation: dict, body, extra=()) -> list[str]:
    url = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), endpoint)
    query = [p for p in operation.get("parameters", []) if p.get("in") == "query" and p.get("required")]
    if query:
        url += "?" + "&".join(f"{p['name']}={p['name'].upper()}" for p in query)
    first = "curl" + ("" if method == "get" else f" -X {method.upper()}") + f' "$ASSISTANTS_URL{url}"'
    options = []
    if operation.get("security", [{}]) != []:
        options.append('-H "Authorization: Bearer $ASSISTANTS_API_KEY"')
    if body is not None:
        options.append('-H "Content-Type: application/json"')
        text = json.dumps(body, ensure_ascii=False)
        if len(text) > 60:  # a long body reads better over several lines (still one shell word)
            text = json.dumps(body, ensure_ascii=False, indent=2).replace("\n", "\n  ")
        options.append("-d '" + text.replace("'", "'\\''") + "'")
    options += extra
    lines = [first] + ["  " + option for option in options]
    return "\n".join([line + " \\" for line in lines[:-1]] + lines[-1:]).splitlines()


def escape_rst(text: str) -> str:
    """Prose from the spec as reStructuredText: `asst_...` is a word, not a link target."""
    parts = re.split(r"(``.+?``)", text)
    for index in range(0, len(parts), 2):  # the odd parts are inline literals: left alone
        parts[index] = re.sub(r"(?<=\w)_(?=\W|$)", r"\\_", parts[index])
    return "".join(parts)


class ReferenceRenderer(HttpdomainRenderer):
    """sphinxcontrib-openapi's httpdomain renderer, one section per blueprint, with curl."""

    option_spec = dict(HttpdomainRenderer.option_spec)

    def __init__(self, state, options):
        super().__init__(state, options)
        convert = self._convert_markup
        self._convert_markup = lambda text: escape_rst(convert(text))

    def render(self, spec):
        if os.environ.get("DOCS_DUMP_REFERENCE"):  # debugging: the reStructuredText we generate
            with open(os.environ["DOCS_DUMP_REFERENCE"], "w") as dump:
                dump.write("\n".join(self.render_restructuredtext_markup(spec)))
        return super().render(spec)

    def render_restructuredtext_markup(self, spec):
        from sphinxcontrib.openapi import utils

        spec = copy.deepcopy(spec)
        utils.normalize_spec(spec, **self._options)
        tags = {tag["name"]: tag.get("description", "") for tag in spec.get("tags", [])}
        sections: dict[str, list] = {name: [] for name in tags}
        for endpoint, path in spec.get("paths", {}).items():
            for method, operation in path.items():
                if method in {"get", "put", "post", "delete", "patch", "head", "options"}:
                    tag = (operation.get("tags") or ["other"])[0]
                    sections.setdefault(tag, []).append((endpoint, method, operation))
        # Health last: it is the one route a frontend never calls.
        order = [t for t in TAG_TITLES if t in sections and t != "health"]
        order += [t for t in sections if t not in order and t != "health"]
        order += ["health"] if "health" in sections else []
        for tag in order:
            if not sections[tag]:
                continue
            title = TAG_TITLES.get(tag, tag)
            yield f".. _reference-{tag}:"
            yield ""
            yield title
            yield "-" * len(title)
            yield ""
            if tags.get(tag):
                yield from self._convert_markup(tags[tag]).strip().splitlines()
                yield ""
            for endpoint, method, operation in sections[tag]:
                yield from self.render_operation(endpoint, method, operation)
                yield ""

    def render_operation(self, endpoint, method, operation):
        operation = self._complete(endpoint, operation)
        yield f".. http:{method}:: {httpdomain_path(endpoint)}"
        if operation.get("deprecated"):
            yield "   :deprecated:"
        yield ""
        if operation.get("summary"):
            summary = re.sub(r"([\\*`|_])", r"\\\1", " ".join(operation["summary"].split()))
            yield f"   **{summary}**"
            yield ""
        if operation.get("description"):
            yield from indented(self._convert_markup(operation["description"]).strip().splitlines())
            yield ""

        body = request_example(endpoint, method, operation)
        yield "   .. code-block:: bash"
        yield "      :caption: curl"
        yield ""
        yield from indented(curl_lines(endpoint, method, operation, body), 6)
        yield ""
        if body is not None and _json_content(operation.get("requestBody")):
            properties = _json_content(operation["requestBody"])["schema"].get("properties", {})
            if properties.get("stream", {}).get("type") == "boolean":
                yield "   Streamed (``text/event-stream``; ``-N`` turns off curl's buffering):"
                yield ""
                yield "   .. code-block:: bash"
                yield ""
                streamed = curl_lines(endpoint, method, operation, dict(body, stream=True), ["-N"])
                yield from indented(streamed, 6)
                yield ""

        yield from indented(self.render_parameters(operation.get("parameters", [])))
        if "requestBody" in operation:
            yield from indented(self.render_request_body(operation["requestBody"], endpoint, method))
        yield from indented(self.render_responses(operation["responses"]))
        yield ""

    def render_request_body(self, request_body, endpoint, method):
        # The fields only: the curl example above shows the body.
        content = _json_content(request_body)
        if self._json_schema_description and content and content.get("schema"):
            yield from self.render_json_schema_description(_without(content["schema"], "readOnly"), "req")
            yield ""

    def render_responses(self, responses):
        for status, response in responses.items():
            content = _json_content(response)
            if content and content.get("schema"):
                content["schema"] = _without(content["schema"], "writeOnly")
                if "example" not in content and "examples" not in content:
                    content["example"] = one_of_each(example_from_schema(content["schema"]))
        yield from super().render_responses(responses)

    def _complete(self, endpoint, operation):
        """Constraints in words; statuses in numeric order with the app-wide ones added, and
        flask-smorest's catch-all `default` dropped (the errors page describes every body)."""
        operation = copy.deepcopy(operation)
        for parameter in operation.get("parameters", []):
            extra = constraints(parameter.get("schema", {}))
            if extra:
                parameter["description"] = " ".join(filter(None, [parameter.get("description"), extra]))
        describe_constraints(operation.get("requestBody"))
        responses = operation.get("responses", {})
        responses.pop("default", None)
        if operation.get("security", [{}]) != []:
            for status, description in SECURED_STATUSES.items():
                responses.setdefault(status, {"description": description})
        if _json_content(operation.get("requestBody")):
            for status, description in BODY_STATUSES.items():
                if not (status == "400" and endpoint.startswith(SEED_003_PREFIX)):
                    responses.setdefault(status, {"description": description})
        operation["responses"] = dict(sorted(responses.items(), key=lambda item: _status_key(str(item[0]))))
        return operation


def generate_spec(app):
    path = write_spec(app)
    log.info(f"[openapi_reference] wrote {os.path.relpath(path, app.confdir)}")


def setup(app):
    app.setup_extension("sphinxcontrib.openapi")
    # RFC 6585's 431 (every route may answer it: request_limits.py), which httpdomain's table lacks.
    httpdomain.HTTP_STATUS_CODES.setdefault(431, "Request Header Fields Too Large")
    app.add_directive("openapi-reference", create_directive_from_renderer(ReferenceRenderer))
    app.connect("builder-inited", generate_spec)
    return {"version": "1", "parallel_read_safe": True}
