"""The Responses API's WebSocket mode against a real gunicorn (gevent workers, flask-sock): a client of
its own (simple-websocket's) sends response.create messages on one connection and reads each response's
events; refusals are error events and the connection goes on."""
import http.client
import json
from urllib.parse import urlsplit

import pytest
from simple_websocket import Client

from tests.fake_openai import Fault

from .helpers import auth_for, key_on

TERMINAL = ("response.completed", "response.incomplete", "response.failed", "error")


def connect(server, key=None):
    return Client.connect(server.url.replace("http://", "ws://") + "/v1/responses",
                          headers={"Authorization": f"Bearer {key or server.api_key}"})


def turn(ws, body=None, raw=None) -> list[dict]:
    """One message sent, its events read up to the terminal one."""
    ws.send(raw if raw is not None else json.dumps({"type": "response.create", "model": "gpt-4", **body}))
    events = []
    while not events or events[-1]["type"] not in TERMINAL:
        events.append(json.loads(ws.receive(timeout=20)))
    return events


def upgrade(server, authorization: str) -> tuple[int, dict]:
    """A WebSocket handshake by hand: the status and JSON body of a refusal."""
    where = urlsplit(server.url)
    connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)
    connection.request("GET", "/v1/responses", headers={
        "Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Authorization": authorization})
    answer = connection.getresponse()
    return answer.status, json.loads(answer.read())


@pytest.mark.slow
def test_websocket_mode(live_server, fake):
    server = live_server(measured=True)  # a server of its own, measured: only a real one reaches flask-sock
    status, body = upgrade(server, "Bearer sk-asst-wrong")
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert upgrade(server, "")[0] == 401

    ws = connect(server)
    first = turn(ws, {"store": False, "input": "Remember: cobalt."})
    kinds = [event["type"] for event in first]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"
    assert [event["sequence_number"] for event in first] == list(range(len(first)))
    answered = first[-1]["response"]
    assert answered["store"] is False
    assert answered["output"][0]["content"][0]["text"] == "Echo: Remember: cobalt."
    second = turn(ws, {"store": False, "previous_response_id": answered["id"], "input": "The word?"})[-1]
    assert second["type"] == "response.completed"
    assert second["response"]["previous_response_id"] == answered["id"]
    sent = fake.requests_to("/chat/completions")[-1].json["messages"]
    assert [m["content"] for m in sent] == ["Remember: cobalt.", "Echo: Remember: cobalt.", "The word?"]
    assert server.request("GET", f"/v1/responses/{answered['id']}").status == 404  # never stored

    stored = server.request("POST", "/v1/responses", {"model": "gpt-4", "input": "Stored one."}).body
    on = turn(ws, {"previous_response_id": stored["id"], "input": "Go on."})[-1]["response"]
    assert on["previous_response_id"] == stored["id"] and on["store"] is True
    assert server.request("GET", f"/v1/responses/{on['id']}").body["status"] == "completed"

    create = {"type": "response.create", "model": "gpt-4"}
    for wrong, param in ((json.dumps({"type": "session.update"}), "type"), ("{not json", None),
                         (json.dumps({**create, "input": "x", "stream": True}), "stream"),
                         (json.dumps({**create, "input": 5}), "input")):
        [error] = turn(ws, raw=wrong)
        assert error["type"] == "error" and error["status"] == 400 and error["error"]["param"] == param
        assert error["error"]["code"] and error["error"]["message"]

    fake.add_fault(Fault("status", status=401))  # the provider refuses the credential: before any event
    [error] = turn(ws, {"store": False, "previous_response_id": answered["id"], "input": "Again."})
    assert error["status"] == 502 and error["error"]["type"] == "server_error"
    [gone] = turn(ws, {"store": False, "previous_response_id": answered["id"], "input": "Again."})
    assert gone["error"]["code"] == "previous_response_not_found"  # the failed continuation forgot it
    fake.add_fault(Fault("cut", after_chunks=3))  # the provider's stream ends early: the response failed
    cut = turn(ws, {"store": False, "input": "Cut off here."})
    assert cut[-1]["type"] == "response.failed", cut
    assert turn(ws, {"store": False, "input": "Still here."})[-1]["type"] == "response.completed"
    ws.close()

    again = connect(server)  # another connection: the store:false responses of the first are not there
    [missing] = turn(again, {"store": False, "previous_response_id": second["response"]["id"], "input": "x"})
    assert missing == {"type": "error", "status": 404, "error": {
        "message": f"Previous response with id '{second['response']['id']}' not found.",
        "type": "invalid_request_error", "param": "previous_response_id",
        "code": "previous_response_not_found"}}
    other = connect(server, key_on(server.env["DATABASE_URL"], tenant="other"))  # another tenant's: not found
    [hidden] = turn(other, {"previous_response_id": stored["id"], "input": "x"})
    assert hidden["error"]["code"] == "previous_response_not_found"
    again.close()
    other.close()


def test_websocket_messages_count_against_the_rate_limit(make_app):
    """In process: the connection's request counted once (its first message with it), each later one too."""
    from assistants_app.services.responses import socket_mode

    app = make_app(RATELIMIT_DEFAULT="3 per minute")
    upgrade_request = {"Upgrade": "websocket", "Connection": "Upgrade", **auth_for(app)}
    with app.test_request_context("/v1/responses", headers=upgrade_request):
        assert app.preprocess_request() is None  # the handshake: counted, authenticated
        body = json.dumps({"type": "response.create", "model": "gpt-4", "store": False, "input": "x"})
        ends = [list(socket_mode.answer(body, {}, first=number == 0))[-1] for number in range(4)]
    assert [event["type"] for event in ends] == ["response.completed"] * 3 + ["error"]
    assert ends[-1]["status"] == 429 and ends[-1]["error"]["code"] == "rate_limit_exceeded"


def test_a_connection_keeps_its_latest_store_false_responses_and_survives_a_fault(app, fake, monkeypatch):
    """In process (socket_mode.answer, the events of one message): the connection's store:false responses
    are its latest KEPT; an unexpected error is a 500 error event, not the connection's end."""
    from flask import g

    from assistants_app.services.responses import run, socket_mode

    def events(body, kept, first=False):
        return list(socket_mode.answer(json.dumps({"type": "response.create", "model": "gpt-4", **body}),
                                       kept, first))

    monkeypatch.setattr(socket_mode, "KEPT", 1)
    with app.test_request_context("/v1/responses"):
        g.tenant, g.api_key_id = "default", None
        kept: dict = {}
        first = events({"store": False, "input": "one"}, kept, first=True)[-1]["response"]["id"]
        second = events({"store": False, "input": "two", "previous_response_id": first},
                        kept)[-1]["response"]["id"]
        assert list(kept) == [second]
        events({"store": False, "input": "three", "previous_response_id": second}, kept)  # the whole chain
        assert [m["content"] for m in fake.requests_to("/chat/completions")[-1].json["messages"]] == [
            "one", "Echo: one", "two", "Echo: two", "three"]
        second = next(iter(kept))
        [missing] = events({"store": False, "input": "x", "previous_response_id": first}, kept)
        assert missing["error"]["code"] == "previous_response_not_found"
        monkeypatch.setattr(run, "create", lambda *args, **kwargs: 1 / 0)
        [error] = events({"store": False, "input": "x", "previous_response_id": second}, kept)
        assert error == {"type": "error", "status": 500, "error": {
            "message": "An internal error occurred.", "type": "server_error", "param": None,
            "code": "server_error"}}
        assert kept == {}  # a failed continuation forgets what it continued
