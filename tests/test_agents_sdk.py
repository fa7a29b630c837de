"""The OpenAI Agents SDK (openai-agents) pointed at /v1 of a real gunicorn, tracing off: a run, a function
tool, a streamed run, OpenAIConversationsSession as session memory, and runs continued by
previous_response_id and by conversation_id -- the state kept here, over the loopback fake (a
chat-completions provider)."""
import asyncio

import pytest
from agents import (Agent, OpenAIConversationsSession, Runner, function_tool, set_default_openai_api,
                    set_default_openai_client, set_tracing_disabled)
from openai import AsyncOpenAI


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Rain in {city}."


async def scenario(base_url: str, key: str, fake) -> dict:
    client = AsyncOpenAI(base_url=base_url, api_key=key, max_retries=0)
    set_default_openai_client(client, use_for_tracing=False)
    set_default_openai_api("responses")
    set_tracing_disabled(True)
    agent = Agent(name="Helper", instructions="Be brief.", model="gpt-4", tools=[get_weather])
    found = {}
    found["plain"] = (await Runner.run(agent, "Hello")).final_output
    fake.queue_tool_calls([{"name": "get_weather", "arguments": '{"city": "Oslo"}'}])
    tooled = await Runner.run(agent, "Weather in Oslo?")
    found["tool"] = (tooled.final_output, [item.type for item in tooled.new_items])
    streamed = Runner.run_streamed(agent, "Stream this")
    found["stream_events"] = {event.type async for event in streamed.stream_events()}
    found["streamed"] = streamed.final_output
    session = OpenAIConversationsSession(openai_client=client)
    await Runner.run(agent, "My name is Ada.", session=session)
    remembered = await Runner.run(agent, "What is my name?", session=session)
    found["session"] = (remembered.final_output, [item.get("role") for item in await session.get_items()])
    first = await Runner.run(agent, "First.")
    chained = await Runner.run(agent, "Second.", previous_response_id=first.last_response_id)
    found["chained"] = chained.final_output
    conversation = await client.conversations.create()
    await Runner.run(agent, "In a conversation.", conversation_id=conversation.id)
    await Runner.run(agent, "Still there?", conversation_id=conversation.id)
    items = await client.conversations.items.list(conversation.id, order="asc")
    found["conversation"] = [item.content[0].text for item in items.data]
    await client.close()
    return found


@pytest.mark.slow
def test_the_agents_sdk_runs_on_the_responses_and_conversations_apis(live_server, fake):
    server = live_server()
    found = asyncio.run(scenario(f"{server.url}/v1", server.api_key, fake))
    assert found["plain"] == "Echo: Hello"
    assert found["tool"] == ("Echo: Weather in Oslo?", ["tool_call_item", "tool_call_output_item",
                                                        "message_output_item"])
    assert "raw_response_event" in found["stream_events"] and found["streamed"] == "Echo: Stream this"
    assert found["session"] == ("Echo: What is my name?", ["user", "assistant", "user", "assistant"])
    assert found["chained"] == "Echo: Second."
    assert found["conversation"] == ["In a conversation.", "Echo: In a conversation.", "Still there?",
                                     "Echo: Still there?"]
    sent = fake.requests_to("/chat/completions")
    tool_round = next(r.json["messages"] for r in sent
                      if any(m["role"] == "tool" for m in r.json["messages"]))
    assert [m["role"] for m in tool_round] == ["system", "user", "assistant", "tool"]
    # the SDK ran the tool, the gateway carried its output
    assert tool_round[-1]["content"] == "Rain in Oslo."
