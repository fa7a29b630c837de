"""Secrets: the whole API flow with recognisable API keys, provider keys and message content;
no response body or header and no log line (the "assistants_app" logger, every other
logger, and the process's stderr) holds a key; logs hold no message content unless
LOG_CONTENT=true; every request has one structured JSON log line."""
import json
import logging
import re

import pytest
from sqlalchemy import select

from assistants_app import logs
from assistants_app.extensions import db
from assistants_app.models import Credential
from assistants_app.routes import openai_routes

from .fake_openai import Fault
from .helpers import AGENTS, SECRET_KEYS, empty_tables, headers_for, make_key
DEFAULT_PROVIDER_KEY = "sk-proj-DEFAULTcanary7Qw3Zr9Lk2Vb8Nx5Tj4"
CREDENTIAL_KEYS = ("sk-CREDENTIALcanaryOne4Hs8Gd2Kp6Yw1Rm", "sk-CREDENTIALcanaryTwo9Fz3Lq7Ub5Xe2Wn",
                   "sk-CREDENTIALcanaryBad3Jt6Vm1Qa8Cd4Zy")
# A user message, instructions, a seed-003 session message, the input of a turn that crashes.
CONTENT = ("USERcanaryText-0f9e8d", "INSTRUCTIONcanary-7a6b5c", "SESSIONcanaryText-4d3c2b",
           "CRASHcanary-1z2y3x")
ACCESS_FIELDS = {"method", "path", "status", "duration_ms", "tenant", "request_id"}


@pytest.fixture
def app_config(app_config):
    return dict(app_config, OPENAI_API_KEY=DEFAULT_PROVIDER_KEY, LOG_LEVEL="DEBUG", OPENAI_MAX_RETRIES=0)


class Recorder(logging.Handler):
    """Every record, formatted as the app formats them (JSON)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logs.JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def recorded_logs():
    """Records of the app's logger and, at DEBUG, of every library's (openai, httpx2, werkzeug...)."""
    recorder, everything = Recorder(), Recorder()
    app_logger, root = logging.getLogger("assistants_app"), logging.getLogger()
    app_logger.addHandler(recorder)
    root.addHandler(everything)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    yield recorder, everything
    root.setLevel(old_level)
    root.removeHandler(everything)
    app_logger.removeHandler(recorder)


class Client:
    """The Flask test client, keeping every response (streams read whole)."""

    def __init__(self, client, headers):
        self.client, self.headers, self.responses = client, headers, []

    def __call__(self, method, path, expect=None, headers=None, **kwargs):
        response = self.client.open(path, method=method, headers=headers or self.headers, **kwargs)
        text = response.get_data(as_text=True)
        self.responses.append((f"{method} {path}", response.status_code, dict(response.headers), text))
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, text[:300])
        return response


def whole_flow(call, fake, other_headers):
    """Credentials, assistants, threads and turns (blocking and streamed), models, seed 003,
    and the failures: a rejected credential, a provider 500, validation and lookup errors."""
    provider = {"provider": "openai_compatible", "base_url": fake.base_url}
    cred = call("POST", "/credentials", 201,
                json={"name": "canary", **provider, "api_key": CREDENTIAL_KEYS[0]}).json
    call("GET", "/credentials", 200)
    call("GET", f"/credentials/{cred['id']}", 200)
    call("PUT", f"/credentials/{cred['id']}", 200, json={"api_key": CREDENTIAL_KEYS[1]})
    # An invalid credential that carries a key: the 422 must not echo it.
    call("POST", "/credentials", 422, json={"name": "x", "base_url": "not a url",
                                            "api_key": CREDENTIAL_KEYS[2]})
    call("POST", "/credentials", 422, json={"name": "x", "api_key": CREDENTIAL_KEYS[2] * 200})

    details = {"model": "gpt-4", "name": "canary", "instructions": CONTENT[1]}
    with_credential = call("POST", "/assistants", 200,
                           json={"details": details, "credential": cred["id"]}).json
    with_default = call("POST", "/assistants", 200, json={"details": details}).json
    call("GET", "/assistants", 200)
    call("GET", f"/assistants/{with_credential['id']}", 200)
    call("PUT", f"/assistants/{with_default['id']}", 200, json={"details": {**details, "temperature": 0.5}})

    for assistant in (with_credential, with_default):
        thread = call("POST", "/openai/initialize", 200, json={"agent_id": assistant["id"]}).json["thread_id"]
        turn = {"agent_id": assistant["id"], "thread_id": thread, "user_input": CONTENT[0]}
        call("POST", "/openai/chat", 200, json=turn)
        call("POST", "/openai/chat", 200, json={**turn, "stream": True})
        call("GET", f"/openai/threads/{thread}/messages", 200)
    call("GET", "/openai/get_models", 200)
    call("GET", "/openai/get_models", 200, query_string={"credential": cred["id"]})

    agent = call("POST", AGENTS, 201,
                 json={"model": "gpt-4", "instructions": CONTENT[1], "credential": cred["id"]}).json
    call("GET", f"{AGENTS}/{agent['id']}", 200)
    call("GET", AGENTS, 200)
    call("POST", f"{AGENTS}/{agent['id']}", 200, json={"metadata": {"k": "v"}})
    chat = {"messages": [{"role": "user", "content": CONTENT[2]}]}
    session = call("POST", f"{AGENTS}/{agent['id']}/chat/completions", 200,
                   json={**chat, "create_session": True}).json["session_id"]
    call("POST", f"{AGENTS}/{agent['id']}/chat/completions", 200,
         json={**chat, "store_in_session": session, "stream": True})
    call("POST", f"{AGENTS}/{agent['id']}/chat/completions", 200, json=chat)

    # The provider rejects the credential, and says so quoting the key (as some servers do).
    for key, assistant in ((CREDENTIAL_KEYS[1], with_credential), (DEFAULT_PROVIDER_KEY, with_default)):
        thread = call("POST", "/openai/initialize", 200, json={"agent_id": assistant["id"]}).json["thread_id"]
        turn = {"agent_id": assistant["id"], "thread_id": thread, "user_input": CONTENT[0]}
        for stream in (False, True):
            fake.add_fault(Fault("status", status=401, path="/chat/completions",
                                 message=f"Incorrect API key provided: {key}. Find your API key at ..."))
            call("POST", "/openai/chat", 502, json={**turn, "stream": stream})
            fake.add_fault(Fault("status", status=500, path="/chat/completions",
                                 message=f"upstream failure while using {key} for {CONTENT[0]}"))
            call("POST", "/openai/chat", 502, json={**turn, "stream": stream})
        fake.add_fault(Fault("error_event", after_chunks=1, path="/chat/completions",
                             message=f"broken {key}"))
        # The error comes before any text: a plain 502, no stream.
        call("POST", "/openai/chat", 502, json={**turn, "stream": True})
    fake.add_fault(Fault("status", status=401, path="/chat/completions",
                         message=f"Incorrect API key provided: {CREDENTIAL_KEYS[1]}"))
    call("POST", f"{AGENTS}/{agent['id']}/chat/completions", 502, json=chat)
    fake.add_fault(Fault("status", status=401, path="/models",
                         message=f"Incorrect API key: {CREDENTIAL_KEYS[1]}"))
    fresh = call("POST", "/credentials", 201,
                 json={"name": "fresh", **provider, "api_key": CREDENTIAL_KEYS[1]}).json
    call("GET", "/openai/get_models", 502, query_string={"credential": fresh["id"]})
    call("GET", f"{AGENTS}/{agent['id']}", 200)  # live status: UNAVAILABLE, naming the provider's error

    call("GET", f"/assistants/{with_credential['id']}", 404, headers=other_headers)
    call("GET", "/assistants", 401, headers={"Authorization": "Bearer sk-asst-not-a-key"})
    call("DELETE", f"{AGENTS}/{agent['id']}", 200)
    call("POST", "/openai/delete_agent", 200, json={"agent_id": with_default["id"]})
    return thread


def test_no_key_in_any_response_or_log_line(app, client, auth, api_key, fake, recorded_logs, capfd,
                                            monkeypatch):
    recorder, everything = recorded_logs
    other_key = make_key(app, tenant="other")
    call = Client(client, auth)
    thread = whole_flow(call, fake, {"Authorization": f"Bearer {other_key}"})

    # An unhandled error whose message quotes the request: a 500 that says nothing, a log line that neither.
    def explode(caller, assistant, turn, thread_, **options):
        raise ValueError(f"cannot handle {turn.text!r} with {CREDENTIAL_KEYS[1]}")
    monkeypatch.setattr(openai_routes.turns, "complete", explode)
    agent_id = call("POST", "/assistants", 200, json={"details": {"model": "gpt-4"}}).json["id"]
    thread = call("POST", "/openai/initialize", 200, json={"agent_id": agent_id}).json["thread_id"]
    response = call("POST", "/openai/chat", 500,
                    json={"agent_id": agent_id, "thread_id": thread, "user_input": CONTENT[3]})
    assert response.json == {"code": 500, "status": "Internal Server Error",
                             "message": "An internal error occurred."}

    with app.app_context():
        ciphertexts = [row.api_key_ciphertext.decode() for row in db.session.scalars(select(Credential))]
    secrets = [api_key, other_key, DEFAULT_PROVIDER_KEY, *CREDENTIAL_KEYS, *SECRET_KEYS.split(","),
               *ciphertexts]
    stderr = capfd.readouterr().err
    places = [(f"{what} -> {status} body", body) for what, status, _, body in call.responses]
    places += [(f"{what} -> {status} headers", json.dumps(headers))
               for what, status, headers, _ in call.responses]
    places += [("app log", line) for line in recorder.lines]
    places += [("library log", line) for line in everything.lines]
    places += [("stderr", stderr)]
    hits = [(where, secret[:12]) for where, text in places for secret in secrets if secret in text]
    assert hits == []

    # Logs: no message content (LOG_CONTENT is off), however it got there.
    log_text = "\n".join(recorder.lines + everything.lines + [stderr])
    assert [c for c in CONTENT if c in log_text] == []
    exception_lines = [json.loads(line) for line in recorder.lines if '"exception"' in line]
    assert exception_lines and "ValueError (message not logged" in exception_lines[-1]["exception"]

    # One structured line per request, with its fields; the tenant of every authenticated one.
    access = [json.loads(line) for line in recorder.lines if '"assistants_app.access"' in line]
    assert len(access) == len(call.responses)
    assert all(ACCESS_FIELDS <= set(line) for line in access)
    assert all(isinstance(line["duration_ms"], float) and re.fullmatch(r"[0-9a-f]{32}", line["request_id"])
               for line in access)
    assert [(line["method"], line["path"], line["status"]) for line in access] == [
        (what.split(" ")[0], what.split(" ")[1], status) for what, status, _, _ in call.responses]
    assert {line["tenant"] for line in access if line["status"] != 401} == {"default", "other"}
    assert stderr.count('"logger": "assistants_app.access"') == len(access)  # the same lines reach stderr
    response_ids = [headers["X-Request-Id"] for _, _, headers, _ in call.responses]
    assert response_ids == [line["request_id"] for line in access]


def test_content_is_logged_only_with_log_content(make_app, fake, recorded_logs):
    recorder, _ = recorded_logs
    for log_content in (False, True):
        app = make_app(LOG_CONTENT=log_content)
        key = make_key(app, name=f"content-{log_content}")
        client = Client(app.test_client(), headers_for(key))
        agent = client("POST", "/assistants", 200, json={"details": {"model": "gpt-4"}}).json["id"]
        thread = client("POST", "/openai/initialize", 200, json={"agent_id": agent}).json["thread_id"]
        turn = {"agent_id": agent, "thread_id": thread, "user_input": CONTENT[0]}
        completion = {"messages": [{"role": "user", "content": CONTENT[1]}]}
        for stream in (False, True):
            client("POST", "/openai/chat", 200, json={**turn, "stream": stream})
            # The agents API's stateless completions (no session) too.
            client("POST", f"{AGENTS}/{agent}/chat/completions", 200, json={**completion, "stream": stream})
        turns = [json.loads(line) for line in recorder.lines if '"assistants_app.content"' in line]
        if not log_content:
            assert turns == [] and not [line for line in recorder.lines
                                        if CONTENT[0] in line or CONTENT[1] in line]
        else:
            assert len(turns) == 4
            assert turns[0]["messages"] == [{"role": "user", "content": CONTENT[0]}]
            assert turns[0]["reply"] == f"Echo: {CONTENT[0]}" and turns[0]["thread_id"] == thread
            for stateless in turns[1], turns[3]:
                assert stateless["messages"] == [{"role": "user", "content": CONTENT[1]}]
                assert stateless["reply"] == f"Echo: {CONTENT[1]}" and stateless["thread_id"] is None
        with app.app_context():
            empty_tables()
