"""The agents API's chat/completions: generation options in a shape OpenAI does not define are 422s naming
the field; a provider's own words about a failure reach the log only (with LOG_CONTENT), scrubbed of the
key, whether it answered JSON or an HTML page; a Retry-After that is neither seconds nor a date is ignored."""
import logging

import pytest

from tests.fake_openai import Fault

from .helpers import assert_validation_error, chat, create_agent, user

KEY = "sk-default-test-key"  # the app's default provider key (conftest's app_config)


@pytest.fixture
def agent(client, auth):
    return create_agent(client, auth)


@pytest.mark.parametrize("field, value", [
    ("response_format", {"type": "text", "strict": True}),
    ("response_format", {"type": "json_schema"}),
    ("response_format", {"type": "json_schema", "json_schema": {"name": "x"}, "strict": True}),
    ("response_format", "auto"),
    ("tool_choice", {"type": "function"}),
    ("tool_choice", "sometimes"),
    ("metadata", {f"k{n}": "v" for n in range(17)}),
])
def test_options_in_a_shape_openai_does_not_define_are_422s(client, auth, agent, fake, field, value):
    answer = chat(client, auth, agent["id"], [user("hi")], **{field: value})
    assert_validation_error(answer, ["body", field])
    assert fake.requests_to("/chat/completions") == []


def test_a_function_tool_choice_by_name_is_passed_on(client, auth, agent, fake):
    lookup = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    answer = chat(client, auth, agent["id"], [user("hi")], tools=[lookup],
                  tool_choice={"type": "function", "function": {"name": "lookup"}}, metadata={"k": "v"})
    assert answer.status_code == 200, answer.json
    assert fake.requests_to("/chat/completions")[-1].json["tool_choice"] == {
        "type": "function", "function": {"name": "lookup"}}


@pytest.fixture
def logged_app(make_app_with):
    return make_app_with(LOG_CONTENT=True, OPENAI_MAX_RETRIES=0)


def provider_failures(caplog) -> list[dict]:
    return [record.fields for record in caplog.records if record.getMessage() == "provider call failed"]


@pytest.mark.parametrize("fault, words", [
    (Fault("status", status=400, message=f"the key {KEY} may not use this model", path="/chat/completions"),
     '"message": "the key [redacted] may not use this model"'),
    (Fault("html_error", status=502, path="/chat/completions"), "<html"),
])
def test_the_providers_words_go_to_the_log_scrubbed(logged_app, fake, caplog, fault, words):
    client, auth = logged_app
    agent = create_agent(client, auth)
    fake.add_fault(fault)
    with caplog.at_level(logging.WARNING):
        answer = chat(client, auth, agent["id"], [user("hi")])
    assert answer.status_code == 502 and KEY not in answer.get_data(as_text=True)
    failure = provider_failures(caplog)
    assert failure and failure[-1]["status"] == fault.status
    assert words in failure[-1]["detail"] and KEY not in failure[-1]["detail"]


def test_a_retry_after_that_is_no_time_is_ignored(logged_app, fake):
    client, auth = logged_app
    agent = create_agent(client, auth)
    fake.add_fault(Fault("status", status=429, headers={"Retry-After": "soon"}, path="/chat/completions"))
    answer = chat(client, auth, agent["id"], [user("hi")])
    assert answer.status_code == 429, answer.json
    assert "is rate limiting this credential (HTTP 429" in answer.json["detail"]
    assert "retry after" not in answer.json["detail"]
