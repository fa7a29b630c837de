"""The fake's reply shapes beyond the plain ones: text before tool calls, stray choices (through the
official openai client)."""
from . import FakeOpenAI

TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}


def test_text_before_tool_calls_blocking_and_streamed(fake: FakeOpenAI, client):
    fake.text_before_calls = "Let me look."
    fake.queue_tool_calls([{"name": "lookup", "arguments": '{"q": 1}'}])
    message = client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "x"}],
                                             tools=[TOOL]).choices[0].message
    assert message.content == "Let me look." and message.tool_calls[0].function.arguments == '{"q": 1}'
    fake.queue_tool_calls([{"name": "lookup", "arguments": '{"q": 2}'}])
    chunks = list(client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "x"}],
                                                 tools=[TOOL], stream=True))
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    text = [i for i, d in enumerate(deltas) if d.content]
    calls = [i for i, d in enumerate(deltas) if d.tool_calls]
    assert "".join(deltas[i].content for i in text) == "Let me look." and max(text) < min(calls)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    fake.reset()
    assert fake.text_before_calls is None and fake.stray_choices is False


def test_stray_choices_carry_index_1(fake: FakeOpenAI, client):
    fake.stray_choices = True
    chunks = list(client.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": "a b"}],
                                                 stream=True))
    assert all([c.index for c in chunk.choices] == [0, 1] for chunk in chunks)
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks) == "Echo: a b"
