"""The Assistants API v2 at /v1 through the official openai client (in process): assistants,
threads and messages, list paging, OpenAI's error shape, tenants, and one row behind every API."""
import openai
import pytest

from assistants_app.errors import OPENAI

from .helpers import AGENTS, headers_for, make_assistant, make_key, sdk, wait_for_runs


@pytest.fixture
def key(app):
    return make_key(app)


@pytest.fixture
def beta(app, key):
    yield sdk(app, key, default_headers={"OpenAI-Beta": "assistants=v2"}).beta
    wait_for_runs(app)


def test_assistants_crud_and_paging(beta):
    made = [beta.assistants.create(model="gpt-4", name=f"a{i}", metadata={"i": str(i)}) for i in range(5)]
    assert all(a.id.startswith("asst_") and a.object == "assistant" for a in made)
    first = beta.assistants.list(limit=2)
    assert [a.name for a in first.data] == ["a4", "a3"] and first.has_more and first.last_id == made[3].id
    assert [a.name for a in beta.assistants.list(limit=2, after=first.last_id).data] == ["a2", "a1"]
    assert [a.name for a in beta.assistants.list(order="asc", before=made[3].id, limit=2).data] == [
        "a1", "a2"]
    # auto-paging
    assert [a.name for a in beta.assistants.list(order="asc")] == ["a0", "a1", "a2", "a3", "a4"]
    changed = beta.assistants.update(made[0].id, instructions="Be brief.", temperature=0.3, top_p=0.9,
                                     tools=[{"type": "file_search"}], response_format={"type": "json_object"})
    assert (changed.name, changed.instructions, changed.temperature, changed.metadata) == (
        "a0", "Be brief.", 0.3, {"i": "0"})
    assert changed.tools[0].type == "file_search" and changed.response_format.type == "json_object"
    assert beta.assistants.retrieve(made[0].id).instructions == "Be brief."
    deleted = beta.assistants.delete(made[0].id)
    assert (deleted.id, deleted.object, deleted.deleted) == (made[0].id, "assistant.deleted", True)
    with pytest.raises(openai.NotFoundError):
        beta.assistants.retrieve(made[0].id)


def test_one_row_behind_every_api(client, auth, beta):
    flowise = make_assistant(client, auth, name="shared")
    v2 = beta.assistants.retrieve(flowise["details"]["id"])
    assert (v2.id, v2.name, v2.model) == (flowise["details"]["id"], "shared", "gpt-4")
    assert beta.assistants.retrieve(flowise["id"]).id == v2.id  # the row's own id works too
    made = beta.assistants.create(model="gpt-4o", name="from v2", tools=[{"type": "code_interpreter"}])
    listed = {a["details"]["id"]: a for a in client.get("/assistants", headers=auth).json}
    assert listed[made.id]["details"]["name"] == "from v2"
    assert listed[made.id]["details"]["tools"] == ["code_interpreter"]
    agent = client.get(f"{AGENTS}/{listed[made.id]['id']}", headers=auth)
    assert agent.status_code == 200 and agent.json["model"] == "gpt-4o"


def test_threads_and_messages(beta):
    thread = beta.threads.create(messages=[{"role": "user", "content": "one", "metadata": {"m": "1"}},
                                           {"role": "assistant",
                                            "content": [{"type": "text", "text": "two"}]}],
                                 metadata={"t": "1"})
    assert thread.object == "thread" and thread.metadata == {"t": "1"}
    assert beta.threads.update(thread.id, metadata={"t": "2"}).metadata == {"t": "2"}
    assert beta.threads.retrieve(thread.id).metadata == {"t": "2"}
    three = beta.threads.messages.create(thread_id=thread.id, role="user", content="three",
                                         attachments=[{"file_id": "file-1",
                                                       "tools": [{"type": "file_search"}]}])
    assert three.content[0].text.value == "three" and three.attachments[0].file_id == "file-1"
    listed = beta.threads.messages.list(thread_id=thread.id, order="asc", limit=2)
    assert [m.content[0].text.value for m in listed.data] == ["one", "two"] and listed.has_more
    assert listed.data[0].metadata == {"m": "1"} and listed.data[1].role == "assistant"
    rest = beta.threads.messages.list(thread_id=thread.id, order="asc", after=listed.last_id)
    assert [m.id for m in rest.data] == [three.id] and not rest.has_more
    # Newest first by default: the page before "one" holds the newer ones.
    assert [m.id for m in beta.threads.messages.list(thread_id=thread.id, before=listed.data[0].id).data] == [
        three.id, listed.data[1].id]
    assert beta.threads.messages.list(thread_id=thread.id, before=three.id).data == []
    updated = beta.threads.messages.update(three.id, thread_id=thread.id, metadata={"x": "y"})
    assert (beta.threads.messages.retrieve(three.id, thread_id=thread.id).metadata == {"x": "y"}
            == updated.metadata)
    assert beta.threads.messages.delete(three.id, thread_id=thread.id).deleted
    with pytest.raises(openai.NotFoundError):
        beta.threads.messages.retrieve(three.id, thread_id=thread.id)
    deleted = beta.threads.delete(thread.id)
    assert (deleted.object, deleted.deleted) == ("thread.deleted", True)
    with pytest.raises(openai.NotFoundError):
        beta.threads.retrieve(thread.id)


def test_errors_come_in_openais_shape_and_as_the_sdks_classes(app, client, key, beta):
    with pytest.raises(openai.BadRequestError) as caught:
        beta.assistants.create(model="gpt-4", extra_body={"colour": "blue"})
    assert caught.value.body == {"message": "Unknown parameter: 'colour'.", "type": "invalid_request_error",
                                 "param": "colour", "code": None}
    with pytest.raises(openai.BadRequestError) as caught:
        beta.assistants.create(model="gpt-4", temperature=5)
    assert (caught.value.body["param"] == "temperature"
            and "Invalid 'temperature'" in caught.value.body["message"])
    with pytest.raises(openai.BadRequestError, match="Only text parts"):
        beta.threads.create(messages=[{"role": "user", "content": [{"type": "image_url",
                                                                    "image_url": {"url": "http://x"}}]}])
    with pytest.raises(openai.BadRequestError) as caught:
        beta.assistants.list(limit=101)
    assert caught.value.body["param"] == "limit"
    with pytest.raises(openai.BadRequestError, match="after"):
        beta.assistants.list(after="asst_nothing")
    with pytest.raises(openai.NotFoundError) as caught:
        beta.threads.runs.create(thread_id="thread_nothing", assistant_id="asst_nothing")
    assert caught.value.body["code"] == "not_found"
    with pytest.raises(openai.AuthenticationError) as caught:
        sdk(app, "sk-asst-wrong").beta.assistants.list()
    assert caught.value.body["code"] == "invalid_api_key"
    not_json = client.post("/v1/threads", headers={**headers_for(key), "Content-Type": "application/json"},
                           data="{not json")
    assert not_json.status_code == 400 and set(not_json.json["error"]) == {"message", "type", "param", "code"}
    deep = client.post("/v1/threads", headers=headers_for(key), data="[" * 100_000,
                       content_type="application/json")
    assert deep.status_code == 400 and "error" in deep.json


def test_a_path_or_method_the_api_lacks_answers_in_openais_shape(app, client, key):
    """The SDKs read the error's message from the body; flask-smorest's own 404 gave them "(no body)"."""
    client_sdk = sdk(app, key)
    with pytest.raises(openai.NotFoundError) as caught:
        client_sdk.get("/nope", cast_to=object)
    assert caught.value.body == {"message": "Invalid URL (GET /v1/nope).", "type": "invalid_request_error",
                                 "param": None, "code": "not_found"}
    assert caught.value.message == "Error code: 404 - Invalid URL (GET /v1/nope)."
    with pytest.raises(openai.NotFoundError, match=r"Invalid URL \(POST /v1/threads/x/unknown\)"):
        client_sdk.post("/threads/x/unknown", cast_to=object, body={})
    with pytest.raises(openai.APIStatusError) as caught:
        client_sdk.put("/threads", cast_to=object, body={})
    assert caught.value.status_code == 405 and caught.value.body == {
        "message": "Invalid method for URL (PUT /v1/threads): use POST.", "type": "invalid_request_error",
        "param": None, "code": None}
    assert set(caught.value.response.headers["Allow"].split(", ")) == {"POST", "OPTIONS"}
    unknown = (("GET", "/v1"), ("GET", "/v1/"), ("DELETE", "/v1/nope/deeper"), ("GET", "/v1/threads/x/y"))
    for method, path in unknown:
        raw = client.open(path, method=method, headers=headers_for(key))
        assert (raw.status_code, raw.json) == (404, {"error": {
            "message": f"Invalid URL ({method} {path}).", "type": "invalid_request_error", "param": None,
            "code": "not_found"}})
    raw = client.open("/v1/assistants", method="PATCH")  # no key: a path is unknown to anyone
    assert raw.status_code == 405 and raw.json["error"]["message"].endswith("use GET, POST.")
    assert set(raw.headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}


def test_rate_limits_and_large_bodies_answer_in_openais_shape(make_app):
    app = make_app(RATELIMIT_DEFAULT="2 per minute", ASSISTANTS_MAX_BODY_BYTES=1000)
    key = make_key(app)
    beta = sdk(app, key).beta
    with pytest.raises(openai.BadRequestError):
        beta.threads.create(metadata={"k": "v" * 600})  # a value over 512 characters
    with pytest.raises(openai.APIStatusError) as caught:
        beta.threads.create(messages=[{"role": "user", "content": "x" * 2000}])
    assert caught.value.status_code == 413 and "larger than" in caught.value.body["message"]
    with pytest.raises(openai.RateLimitError) as caught:
        beta.assistants.list()
    assert caught.value.response.headers["Retry-After"] and caught.value.body["type"] == "rate_limit_error"


def test_an_unexpected_error_is_a_500_saying_nothing(app):
    with app.test_request_context("/v1/threads"):
        response, status = OPENAI._unexpected(RuntimeError("internal detail"))
    assert status == 500 and response.json == {"error": {"message": "An internal error occurred.",
                                                         "type": "server_error", "param": None,
                                                         "code": "server_error"}}


def test_tenants_see_only_their_own(app, beta):
    other = sdk(app, make_key(app, tenant="other", name="other")).beta
    assistant = beta.assistants.create(model="gpt-4", name="mine")
    thread = beta.threads.create(messages=[{"role": "user", "content": "secret"}])
    run = beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id,
                                            poll_interval_ms=20)
    assert other.assistants.list().data == []
    for call in (lambda: other.assistants.retrieve(assistant.id), lambda: other.threads.retrieve(thread.id),
                 lambda: other.threads.messages.list(thread_id=thread.id),
                 lambda: other.threads.runs.retrieve(run.id, thread_id=thread.id),
                 lambda: other.threads.create_and_run(assistant_id=assistant.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    mine = other.threads.create()
    with pytest.raises(openai.NotFoundError):
        other.threads.runs.retrieve(run.id, thread_id=mine.id)
    with pytest.raises(openai.NotFoundError):
        other.threads.runs.create(thread_id=mine.id, assistant_id=assistant.id)
