"""What a Chat Completions provider is sent for histories the other APIs allow
(openai_adapter/chat_completions.py): parallel function calls given as items of their own go as one
assistant message; instructions in "user-message" mode open the first user message, or stand as one
when there is none."""
import json

from .helpers import chat, create_agent

WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


def sent_messages(fake) -> list[dict]:
    return fake.requests_to("/chat/completions")[-1].json["messages"]


def test_parallel_function_call_items_go_to_the_provider_as_one_assistant_message(client, auth, fake):
    calls = [{"type": "function_call", "call_id": f"call_{city}", "name": "get_weather",
              "arguments": json.dumps({"city": city})} for city in ("paris", "oslo")]
    outputs = [{"type": "function_call_output", "call_id": f"call_{city}", "output": weather}
               for city, weather in (("paris", "sunny"), ("oslo", "snow"))]
    answer = client.post("/v1/responses", headers=auth, json={
        "model": "gpt-4", "tools": [WEATHER],
        "input": [{"role": "user", "content": "weather in Paris and Oslo?"}, *calls, *outputs]})
    assert answer.status_code == 200, answer.json
    assert answer.json["output"][-1]["content"][0]["text"].startswith("Echo: ")
    sent = sent_messages(fake)
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool"]
    assert [c["id"] for c in sent[1]["tool_calls"]] == ["call_paris", "call_oslo"]
    assert [(m["tool_call_id"], m["content"]) for m in sent[2:]] == [("call_paris", "sunny"),
                                                                     ("call_oslo", "snow")]


def test_user_message_mode_puts_the_instructions_in_the_first_user_message(client, auth, fake):
    agent = create_agent(client, auth, instructions="Answer in French.",
                         chat_system_instruction_mode="user-message")
    answer = chat(client, auth, agent["id"], [{"role": "assistant", "content": "Hello!"},
                                              {"role": "user", "content": "hi"}])
    assert answer.status_code == 200, answer.json
    assert sent_messages(fake) == [{"role": "assistant", "content": "Hello!"},
                                   {"role": "user", "content": "Answer in French.\n\nhi"}]


def test_user_message_mode_without_a_user_message_sends_the_instructions_as_one(client, auth, fake):
    agent = create_agent(client, auth, instructions="Answer in French.",
                         chat_system_instruction_mode="user-message")
    answer = chat(client, auth, agent["id"], [{"role": "assistant", "content": "Hello!"}])
    assert answer.status_code == 200, answer.json
    assert sent_messages(fake)[0] == {"role": "user", "content": "Answer in French."}
