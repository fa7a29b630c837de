"""langchain-openai's ChatOpenAI against the agents API's chat/completions, as its users write it: structured
output by each of its three methods, and bind_tools with a tool_choice. The standard chat-completion fields
langchain sends (tool_choice, parallel_tool_calls, response_format with a json_schema) are accepted and
reach the provider (the loopback fake answers a forced function call and JSON output as models do)."""
import httpx2
import pytest
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from .helpers import AGENTS, create_agent, headers_for, make_key


class Weather(BaseModel):
    city: str
    degrees: int


@pytest.fixture
def llm(app):
    key = make_key(app)
    agent = create_agent(app.test_client(), headers_for(key), model="gpt-4o")
    http = httpx2.Client(transport=httpx2.WSGITransport(app=app), base_url="http://testserver")
    yield ChatOpenAI(base_url=f"http://testserver{AGENTS}/{agent['id']}", api_key=key, model="gpt-4o",
                     max_retries=0, http_client=http)
    http.close()


@pytest.mark.parametrize("method", ["function_calling", "json_mode", "json_schema"])
def test_structured_output_by_each_method(llm, fake, method):
    prompt = 'The weather in Oslo? Answer as {"city": "text", "degrees": 1}'  # what json_mode needs said
    answer = llm.with_structured_output(Weather, method=method).invoke(prompt)
    assert answer == Weather(city="text", degrees=1)  # the fake's values for the schema, or the prompt's
    sent = fake.requests_to("/chat/completions")[-1].json
    if method == "function_calling":
        assert sent["tool_choice"] == {"type": "function", "function": {"name": "Weather"}}
        assert sent["parallel_tool_calls"] is False and sent["tools"][0]["function"]["name"] == "Weather"
    elif method == "json_mode":
        assert sent["response_format"] == {"type": "json_object"}
    else:
        schema = sent["response_format"]["json_schema"]
        assert sent["response_format"]["type"] == "json_schema" and schema["name"] == "Weather"
        assert set(schema["schema"]["properties"]) == {"city", "degrees"} and schema["strict"] is True


def test_bind_tools_with_a_tool_choice(llm, fake):
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return "rain"

    reply = llm.bind_tools([get_weather], tool_choice="get_weather").invoke("Oslo?")
    assert [(call["name"], call["args"]) for call in reply.tool_calls] == [("get_weather", {"city": "text"})]
    assert fake.requests_to("/chat/completions")[-1].json["tool_choice"] == {
        "type": "function", "function": {"name": "get_weather"}}
    streamed = list(llm.bind_tools([get_weather], tool_choice="required").stream("Oslo?"))
    assert "".join(chunk.tool_call_chunks[0]["args"] for chunk in streamed if chunk.tool_call_chunks) == \
        '{"city": "text"}'
