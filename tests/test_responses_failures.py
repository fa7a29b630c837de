"""Responses that fail at the provider after they began: a streamed one ends with response.failed and is
stored failed (nothing of it in its conversation), a background one is retrieved failed. And WebSocket
mode's refusals of a malformed message, in process (socket_mode.answer: one message's events): an error
event each, the connection goes on; a continuation that failed forgets what it continued."""
import json
import time

import openai
import pytest
from flask import g

from assistants_app.services.responses import socket_mode

from .fake_openai import Fault
from .helpers import make_key, sdk, wait_for_runs


@pytest.fixture
def client(app):
    yield sdk(app, make_key(app))
    wait_for_runs(app)


def test_a_streamed_response_cut_by_a_provider_error_is_stored_failed(client, fake):
    conversation = client.conversations.create()
    fake.add_fault(Fault("error_event", after_chunks=3, path="/chat/completions", message="overloaded"))
    with client.responses.stream(model="gpt-4", input="one two three four",
                                 conversation=conversation.id) as stream:
        events = list(stream)
    kinds = [event.type for event in events]
    assert "response.output_text.delta" in kinds and kinds[-1] == "response.failed"
    failed = events[-1].response
    assert failed.status == "failed" and failed.error.code == "server_error" and failed.error.message
    stored = client.responses.retrieve(failed.id)
    assert stored.status == "failed" and stored.error.code == "server_error" and stored.output == []
    assert client.conversations.items.list(conversation.id).data == []  # the turn never happened
    again = client.responses.create(model="gpt-4", input="five", conversation=conversation.id)
    assert again.status == "completed" and again.output_text == "Echo: five"


def test_a_streamed_store_false_response_fails_without_a_row(client, fake):
    fake.add_fault(Fault("error_event", after_chunks=2, path="/chat/completions"))
    with client.responses.stream(model="gpt-4", input="one two three", store=False) as stream:
        last = list(stream)[-1]
    assert last.type == "response.failed" and last.response.error.code == "server_error"
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(last.response.id)


def test_a_background_response_the_provider_refuses_is_retrieved_failed(app, client, fake):
    fake.add_fault(Fault("status", status=429, path="/chat/completions", times=5, message="slow down"))
    queued = client.responses.create(model="gpt-4", input="later", background=True)
    assert queued.status == "queued"
    wait_for_runs(app)
    failed = client.responses.retrieve(queued.id)
    assert failed.status == "failed" and failed.error.code == "rate_limit_exceeded"
    assert failed.output == [] and failed.background is True


def test_a_background_response_cancelled_while_the_provider_answers_writes_nothing(app, client, fake):
    """The cancel lands after the turn last asked whether to go on (before the provider call; the stream
    asks again only after turns.KEEP_GOING_SECONDS) and before the reply is recorded: the record finds
    the response cancelled and writes nothing of the reply."""
    fake.delay = 0.5
    queued = client.responses.create(model="gpt-4", input="cancel me meanwhile", background=True)
    deadline = time.monotonic() + 10
    while not fake.requests_to("/chat/completions") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.requests_to("/chat/completions"), "the provider was never asked"
    assert client.responses.cancel(queued.id).status == "cancelled"
    wait_for_runs(app)
    stored = client.responses.retrieve(queued.id)
    assert stored.status == "cancelled" and stored.output == [] and stored.usage is None


def answer(app, raw: str, kept: dict | None = None) -> list[dict]:
    with app.test_request_context("/v1/responses"):
        g.tenant, g.api_key_id = "default", None
        return list(socket_mode.answer(raw, {} if kept is None else kept, first=True))


@pytest.mark.parametrize("raw, param, says", [
    ("{not json", None, "A message is a JSON object"),
    ('"response.create"', "type", "Only response.create messages"),
    ('{"type": "session.update"}', "type", "Only response.create messages"),
    ('{"type": "response.create", "model": "gpt-4", "input": "x", "background": true}', "background",
     "Not sent in WebSocket mode"),
    ('{"type": "response.create", "model": "gpt-4", "input": 5}', "input", None),
])
def test_a_malformed_websocket_message_is_one_error_event(app, fake, raw, param, says):
    [error] = answer(app, raw)
    assert error["type"] == "error" and error["status"] == 400
    assert error["error"]["type"] == "invalid_request_error" and error["error"]["param"] == param
    shown = json.dumps(error)
    assert says is None or says in shown
    assert fake.requests_to("/chat/completions") == []  # nothing reached the provider


def test_a_failed_websocket_continuation_forgets_the_response_it_continued(app, fake):
    kept: dict = {}
    body = {"type": "response.create", "model": "gpt-4", "store": False}
    first = answer(app, json.dumps({**body, "input": "one"}), kept)[-1]["response"]["id"]
    assert list(kept) == [first]
    fake.add_fault(Fault("error_event", after_chunks=2, path="/chat/completions"))
    failed = answer(app, json.dumps({**body, "input": "two three", "previous_response_id": first}), kept)
    assert failed[-1]["type"] == "response.failed" and kept == {}
    [missing] = answer(app, json.dumps({**body, "input": "x", "previous_response_id": first}), kept)
    assert missing["type"] == "error" and missing["error"]["code"] == "previous_response_not_found"
