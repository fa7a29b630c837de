"""What a Responses API turn costs beside a conversations-API turn (issue 27: a non-streamed response with
previous_response_id adds no more than a conversations-API turn), in the same run: interleaved triples of
the same question -- through /openai/chat on a thread, through POST /v1/responses continuing the previous
response, and straight to the fake provider -- each chain restarted every 10 turns, as chat_overhead does."""
from __future__ import annotations

import time

from .api import Api
from .scenarios import INSTRUCTIONS, MODEL, TURNS_PER_THREAD, Context, _direct_turn, _gateway_turn, summary


def responses_overhead(ctx: Context) -> dict:
    size = ctx.size
    agent_id = ctx.new_assistant()
    direct = Api(ctx.fake.base_url, "sk-bench")
    added = {"conversations": [], "responses": []}
    thread_id = previous = None
    history: list[dict] = []
    for i in range(size.warmup_pairs + size.pairs):
        if i % TURNS_PER_THREAD == 0:
            thread_id = ctx.api.call("POST", "/openai/initialize", {"agent_id": agent_id})["thread_id"]
            previous, history = None, []
        text = f"Question {i}: how are things today?"
        chat = {"agent_id": agent_id, "thread_id": thread_id, "user_input": text}
        response = {"model": MODEL, "instructions": INSTRUCTIONS, "input": text,
                    **({"previous_response_id": previous} if previous else {})}
        provider = {"model": MODEL, "messages": [{"role": "system", "content": INSTRUCTIONS}, *history,
                                                 {"role": "user", "content": text}]}
        steps = [lambda: _gateway_turn(ctx.api, chat), lambda: _responses_turn(ctx.api, response),
                 lambda: _direct_turn(direct, provider)]
        order = [(i + shift) % 3 for shift in range(3)]  # each side first as often as the others
        times = [0.0, 0.0, 0.0]
        for index in order:
            result = steps[index]()
            times[index], previous = (result[0], result[1]) if index == 1 else (result, previous)
        history += [{"role": "user", "content": text}, {"role": "assistant", "content": "Echo: " + text}]
        if i >= size.warmup_pairs:
            added["conversations"].append(times[0] - times[2])
            added["responses"].append(times[1] - times[2])
    direct.close()
    out = {side: {"added": summary(values)} for side, values in added.items()}
    out["triples"] = size.pairs
    return out


def _responses_turn(api: Api, body: dict) -> tuple[float, str]:
    t0 = time.perf_counter()
    reply = api.call("POST", "/v1/responses", body)
    elapsed = time.perf_counter() - t0
    text = reply["output"][0]["content"][0]["text"]
    if text != "Echo: " + body["input"]:
        raise RuntimeError(f"unexpected reply {text!r}")
    return elapsed, reply["id"]
