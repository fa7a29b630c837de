"""The measurements of issue 6, each against the running service and fake provider."""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import openai

from tests.live_server import LiveServer

from .api import Api, ms, percentile
from .loadgen import Connection, HTTPClosed, Tally, closed_loop
from .processes import FakeProvider

MODEL = "gpt-4o-mini"
INSTRUCTIONS = "Answer briefly."
# The assistant every scenario chats with (POST /assistants).
NEW_ASSISTANT = {"details": {"name": "bench", "model": MODEL, "instructions": INSTRUCTIONS}, "type": "CUSTOM"}
TURNS_PER_THREAD = 10  # a new thread every 10 turns: the history sent stays 0-18 messages long
STATUS_PATH = "/api/v1/compatibility/openai/v1/agents/"


@dataclass(frozen=True)
class Size:
    """How much of each measurement a run makes (full, or --quick for the smoke test)."""

    warmup_pairs: int = 30
    pairs: int = 400
    stream_pairs: int = 200
    conversations: int = 200
    provider_delay: float = 2.0
    rounds: int = 3
    streams: int = 1000
    stream_words: int = 10
    chunk_delay: float = 0.3
    ramp: float = 1.5
    clients: int = 16
    throughput_warmup: float = 1.0
    throughput_seconds: float = 6.0
    status_agents: int = 100
    compare_clients: int = 100  # --compare litellm: chats at once, each answered in compare_delay seconds
    compare_delay: float = 1.0


QUICK = Size(warmup_pairs=2, pairs=6, stream_pairs=4, conversations=10, provider_delay=0.2, rounds=2,
             streams=20, stream_words=3, chunk_delay=0.02, ramp=0.1, clients=4, throughput_warmup=0.1,
             throughput_seconds=0.4, status_agents=5, compare_clients=10, compare_delay=0.2)


class Context:
    def __init__(self, service: LiveServer, fake: FakeProvider, size: Size) -> None:
        self.service, self.fake, self.size = service, fake, size
        self.api = Api(service.url, service.api_key)
        self.host, self.port = "127.0.0.1", service.port
        self.headers = {"Authorization": f"Bearer {service.api_key}"}

    def new_assistant(self, credential: str | None = None) -> str:
        body = {**NEW_ASSISTANT, "credential": credential} if credential else NEW_ASSISTANT
        return self.api.call("POST", "/assistants", body)["id"]

    def new_threads(self, agent_id: str, count: int) -> list[str]:
        ids: list[str] = []
        body = json.dumps({"agent_id": agent_id}).encode()
        tally = asyncio.run(closed_loop(
            self.host, self.port, self.headers, lambda w, i: ("POST", "/openai/initialize", body),
            concurrency=min(16, count), rounds=-(-count // min(16, count)),
            check=lambda reply: ids.append(reply.json()["thread_id"]) is None))
        if tally.errors:
            raise RuntimeError(f"could not start threads: {dict(tally.failures)}")
        return ids[:count]


def summary(values: list[float]) -> dict:
    return {"median_ms": ms(percentile(values, 50), 3), "p99_ms": ms(percentile(values, 99), 3)}


# ---------------------------------------------------------------------------------- 1. overhead
# The direct side is the same client as the gateway side (bench/api.py: http.client, one keep-alive
# connection) sending the request the service sends, so "added" is the service's own cost.
DIRECT_FIRST_TEXT = b'"content": "Echo'  # the fake's first chunk carrying text (its reply is "Echo: ...")
DIRECT_END = b"data: [DONE]"


def chat_overhead(ctx: Context) -> dict:
    """Interleaved pairs: one turn through /openai/chat, the same request straight to the fake."""
    size = ctx.size
    agent_id = ctx.new_assistant()
    direct = Api(ctx.fake.base_url, "sk-bench")
    out = {}
    for mode, count in (("blocking", size.pairs), ("streamed", size.stream_pairs)):
        workers_cpu = ctx.service.workers_cpu()
        pairs = Pairs(ctx, direct, agent_id, mode)
        for i in range(size.warmup_pairs + count):
            if i % TURNS_PER_THREAD == 0:
                pairs.new_thread()
            pairs.run(i, record=i >= size.warmup_pairs)
        turns = size.warmup_pairs + count
        out[mode] = {"pairs": count, **pairs.figures(),
                     # The workers' CPU per turn (a thread started every 10 turns included): unlike
                     # latency, it does not grow when other processes compete for the cores.
                     "worker_cpu_ms_per_turn": ms((ctx.service.workers_cpu() - workers_cpu) / turns)}
    direct.close()
    return out


def history_cost(ctx: Context) -> dict:
    """The added time of a blocking turn on a thread already holding about 1, 20 and 200 messages:
    it must grow no faster than linearly (target: at most 1 ms + 5 us per message)."""
    size = ctx.size
    agent_id = ctx.new_assistant()
    direct = Api(ctx.fake.base_url, "sk-bench")
    out = {}
    for stored in (1, 20, 200):
        pairs = Pairs(ctx, direct, agent_id, "blocking")
        pairs.new_thread()
        pairs.fill(stored // 2)  # each turn stores two messages
        count = max(4, size.pairs // 10)
        for i in range(count):
            pairs.run(i, record=True)
        out[str(stored)] = {"pairs": count, "history_messages": [stored // 2 * 2, (stored // 2 + count) * 2],
                            **pairs.figures()}
    direct.close()
    return out


class Pairs:
    """Turns on one thread, each sent through the gateway and straight to the fake in turn, the
    order alternating pair by pair so the machine's drift hits both sides alike."""

    def __init__(self, ctx: Context, direct: Api, agent_id: str, mode: str) -> None:
        self.ctx, self.direct, self.agent_id, self.mode = ctx, direct, agent_id, mode
        self.thread_id, self.history = None, []
        self.gateway_times, self.direct_times, self.added = [], [], []

    def new_thread(self) -> None:
        self.thread_id = self.ctx.api.call("POST", "/openai/initialize",
                                           {"agent_id": self.agent_id})["thread_id"]
        self.history = []

    def fill(self, turns: int) -> None:
        """Turns through the gateway alone: history for the measured pairs to carry."""
        for i in range(turns):
            text = f"Earlier question {i}?"
            _gateway_turn(self.ctx.api, {"agent_id": self.agent_id, "thread_id": self.thread_id,
                                         "user_input": text})
            self.history += [{"role": "user", "content": text},
                             {"role": "assistant", "content": "Echo: " + text}]

    def run(self, i: int, record: bool) -> None:
        text = f"Question {i}: how are things today?"
        messages = [{"role": "system", "content": INSTRUCTIONS}, *self.history,
                    {"role": "user", "content": text}]
        body = {"agent_id": self.agent_id, "thread_id": self.thread_id, "user_input": text}
        provider_body = {"model": MODEL, "messages": messages}
        if self.mode == "blocking":
            steps = (lambda: _gateway_turn(self.ctx.api, body),
                     lambda: _direct_turn(self.direct, provider_body))
        else:
            steps = (lambda: _gateway_stream(self.ctx.api, body),
                     lambda: _direct_stream(self.direct, provider_body))
        first, second = steps if i % 2 == 0 else steps[::-1]
        a, b = first(), second()
        through_gateway, straight = (a, b) if i % 2 == 0 else (b, a)
        self.history += [{"role": "user", "content": text}, {"role": "assistant", "content": "Echo: " + text}]
        if record:
            self.gateway_times.append(through_gateway)
            self.direct_times.append(straight)
            self.added.append(through_gateway - straight)

    def figures(self) -> dict:
        return {"added": summary(self.added), "gateway": summary(self.gateway_times),
                "direct": summary(self.direct_times)}


def _gateway_turn(api: Api, body: dict) -> float:
    t0 = time.perf_counter()
    reply = api.call("POST", "/openai/chat", body)
    elapsed = time.perf_counter() - t0
    if reply["response"] != "Echo: " + body["user_input"]:
        raise RuntimeError(f"unexpected reply {reply!r}")
    return elapsed


def _direct_turn(direct: Api, body: dict) -> float:
    t0 = time.perf_counter()
    direct.call("POST", "/chat/completions", body)
    return time.perf_counter() - t0


def _gateway_stream(api: Api, body: dict) -> float:
    first, _, _ = api.stream("/openai/chat", {**body, "stream": True})
    return first


def _direct_stream(direct: Api, body: dict) -> float:
    """Seconds to the first chunk carrying text (the gateway's first delta carries text too)."""
    first, _, _ = direct.stream("/chat/completions", {**body, "stream": True,
                                                      "stream_options": {"include_usage": True}},
                                first_text=DIRECT_FIRST_TEXT, end=DIRECT_END)
    return first


def agents_completions(ctx: Context) -> dict:
    """The agents API's chat/completions with the official openai client on both sides: the
    gateway's URL for the agent, then the provider's URL, in interleaved pairs."""
    size = ctx.size
    agent_id = ctx.new_assistant()
    gateway = openai.OpenAI(base_url=f"{ctx.service.url}{STATUS_PATH}{agent_id}", api_key=ctx.service.api_key,
                            max_retries=0, timeout=30)
    direct = openai.OpenAI(base_url=ctx.fake.base_url, api_key="sk-bench", max_retries=0, timeout=30)
    times = {"gateway": [], "direct": [], "added": []}
    for i in range(size.warmup_pairs + size.pairs):
        messages = [{"role": "user", "content": f"Question {i}?"}]
        # The gateway adds the agent's instructions; the direct request carries them itself.
        sides = {"gateway": (gateway, messages),
                 "direct": (direct, [{"role": "system", "content": INSTRUCTIONS}, *messages])}
        order = ("gateway", "direct") if i % 2 == 0 else ("direct", "gateway")
        took = {}
        for side in order:
            client, sent = sides[side]
            t0 = time.perf_counter()
            client.chat.completions.create(model=MODEL, messages=sent)
            took[side] = time.perf_counter() - t0
        if i >= size.warmup_pairs:
            times["gateway"].append(took["gateway"])
            times["direct"].append(took["direct"])
            times["added"].append(took["gateway"] - took["direct"])
    gateway.close()
    direct.close()
    return {"pairs": size.pairs, **{name: summary(values) for name, values in times.items()}}


# ---------------------------------------------------------------------------------- 2. concurrency
def concurrent_turns(ctx: Context) -> dict:
    """N conversations at once, the provider holding each answer `provider_delay` seconds; then the
    same load generator, N clients, straight to the provider: the service's throughput is reported
    against that (what the load generator and the fake allow on this host) and against the ideal."""
    size = ctx.size
    agent_id = ctx.new_assistant()
    threads = ctx.new_threads(agent_id, size.conversations)
    bodies = [json.dumps({"agent_id": agent_id, "thread_id": t, "user_input": "Hello there"}).encode()
              for t in threads]
    provider = urlsplit(ctx.fake.base_url)
    messages = [{"role": "system", "content": INSTRUCTIONS}, {"role": "user", "content": "Hello there"}]
    direct_body = json.dumps({"model": MODEL, "messages": messages}).encode()
    ctx.fake.configure(delay=size.provider_delay)
    workers_cpu = ctx.service.workers_cpu()
    try:
        tally = asyncio.run(closed_loop(
            ctx.host, ctx.port, ctx.headers, lambda w, i: ("POST", "/openai/chat", bodies[w]),
            concurrency=size.conversations, rounds=size.rounds, timeout=60 + size.provider_delay))
        cpu_ms = ms((ctx.service.workers_cpu() - workers_cpu) / max(1, tally.completed))
        direct = asyncio.run(closed_loop(
            provider.hostname, provider.port, {"Authorization": "Bearer sk-bench"},
            lambda w, i: ("POST", provider.path + "/chat/completions", direct_body),
            concurrency=size.conversations, rounds=size.rounds, timeout=60 + size.provider_delay))
    finally:
        ctx.fake.configure()
    ideal = size.conversations / size.provider_delay
    achieved, straight = tally.completed / tally.elapsed, direct.completed / direct.elapsed
    return {"conversations": size.conversations, "provider_delay_s": size.provider_delay,
            "rounds": size.rounds,
            "turns": tally.completed, "errors": tally.errors + direct.errors,
            "failures": {**{f"direct: {k}": v for k, v in direct.failures.items()}, **dict(tally.failures)},
            "turns_per_s": round(achieved, 2), "direct_per_s": round(straight, 2),
            "ideal_per_s": round(ideal, 2),
            "fraction_of_direct": round(achieved / straight, 4) if straight else 0.0,
            "fraction_of_ideal": round(achieved / ideal, 4), **summary(tally.latencies),
            "direct_median_ms": summary(direct.latencies)["median_ms"], "worker_cpu_ms_per_turn": cpu_ms}


def open_streams(ctx: Context) -> dict:
    """N streamed turns open at once; the provider sends one word every `chunk_delay` seconds."""
    size = ctx.size
    agent_id = ctx.new_assistant()
    threads = ctx.new_threads(agent_id, size.streams)
    text = " ".join(f"word{n}" for n in range(size.stream_words))
    ctx.fake.configure(chunk_delay=size.chunk_delay)
    try:
        result = asyncio.run(_open_streams(ctx, agent_id, threads, text))
    finally:
        ctx.fake.configure()
    return result


async def _open_streams(ctx: Context, agent_id: str, threads: list[str], text: str) -> dict:
    size = ctx.size
    tally = Tally()
    first_deltas: list[float] = []
    state = {"open": 0, "peak_open": 0, "peak_rss": [], "peak_rss_total": 0.0}
    done = asyncio.Event()

    async def one(index: int, thread_id: str) -> None:
        await asyncio.sleep(size.ramp * index / len(threads))
        conn = Connection(ctx.host, ctx.port, ctx.headers)
        body = json.dumps({"agent_id": agent_id, "thread_id": thread_id, "user_input": text,
                           "stream": True}).encode()
        t0 = time.perf_counter()
        state["open"] += 1
        state["peak_open"] = max(state["peak_open"], state["open"])
        try:
            request = conn.request("POST", "/openai/chat", body, first_event=b"event: delta",
                                   until=b"event: done")
            reply = await asyncio.wait_for(request, 120)
        except (HTTPClosed, OSError, asyncio.TimeoutError) as exc:
            tally.failures[type(exc).__name__] += 1
            return
        finally:
            state["open"] -= 1
            conn.close()
        tally.statuses[reply.status] += 1
        if reply.status != 200:
            tally.failures[f"HTTP {reply.status}"] += 1
        elif b"event: error" in reply.body or b"event: done" not in reply.body:
            tally.failures["error event" if b"event: error" in reply.body else "no done event"] += 1
        else:
            tally.latencies.append(time.perf_counter() - t0)
            first_deltas.append(reply.first_event_at - t0)

    async def sample_memory() -> None:
        while not done.is_set():
            sizes = ctx.service.worker_rss_mb()
            if sum(sizes) > state["peak_rss_total"]:
                state["peak_rss_total"], state["peak_rss"] = sum(sizes), sizes
            try:
                await asyncio.wait_for(done.wait(), 0.2)
            except asyncio.TimeoutError:
                pass

    started = time.perf_counter()
    sampler = asyncio.create_task(sample_memory())
    await asyncio.gather(*(one(i, t) for i, t in enumerate(threads)))
    done.set()
    await sampler
    return {"streams": len(threads), "chunk_delay_s": size.chunk_delay, "completed": tally.completed,
            "errors": tally.errors, "failures": dict(tally.failures), "peak_open": state["peak_open"],
            "elapsed_s": round(time.perf_counter() - started, 2),
            "first_delta": summary(first_deltas), "stream_duration": summary(tally.latencies),
            "peak_rss_mb_per_worker": [round(x, 1) for x in state["peak_rss"]]}


# ---------------------------------------------------------------------------------- 3. throughput
def throughput(ctx: Context, has_status_route: bool) -> dict:
    size = ctx.size
    agent_ids = [ctx.new_assistant() for _ in range(10)]
    create = json.dumps(NEW_ASSISTANT).encode()
    get_one = (lambda w, i: ("GET", f"/assistants/{agent_ids[(w + i) % 10]}", None), None)
    targets = {  # name: (clients, request maker, reply check)
        "GET /assistants/{id}, sequential": (1, *get_one),
        "GET /assistants/{id}": (size.clients, *get_one),
        "POST /assistants": (size.clients, lambda w, i: ("POST", "/assistants", create), None),
    }
    if has_status_route:
        get_status = (lambda w, i: ("GET", STATUS_PATH + agent_ids[(w + i) % 10], None),
                      lambda reply: b'"AVAILABLE"' in reply.body)
        targets["GET /agents/{id} (status), sequential"] = (1, *get_status)
        targets["GET /agents/{id} (status)"] = (size.clients, *get_status)
    out = {}
    for name, (clients, make, check) in targets.items():
        asyncio.run(closed_loop(ctx.host, ctx.port, ctx.headers, make, concurrency=clients,
                                duration=size.throughput_warmup, check=check))
        workers_cpu = ctx.service.workers_cpu()
        tally = asyncio.run(closed_loop(ctx.host, ctx.port, ctx.headers, make, concurrency=clients,
                                        duration=size.throughput_seconds, check=check))
        workers_cpu = ctx.service.workers_cpu() - workers_cpu
        out[name] = {"clients": clients, "requests_per_s": round(tally.completed / tally.elapsed, 1),
                     "requests": tally.completed, "errors": tally.errors, "failures": dict(tally.failures),
                     **summary(tally.latencies),
                     "generator_cpu_share": round(tally.generator_cpu / tally.elapsed, 3),
                     "workers_cpu_share": round(workers_cpu / tally.elapsed, 3),
                     "worker_cpu_ms_per_request": ms(workers_cpu / max(1, tally.completed))}
    if not has_status_route:
        out["GET /agents/{id} (status)"] = {"pending": "the seed-003 routes are not in the app yet"}
    return out


# ---------------------------------------------------------------------------------- 5. status cost
def status_cost(ctx: Context) -> dict:
    """Provider calls made while looking up N agents, from a cold models cache: the agents use a
    credential of their own, so nothing before warmed its cache."""
    size = ctx.size
    credential = ctx.api.call("POST", "/credentials", {
        "name": "bench provider", "provider": "openai_compatible", "base_url": ctx.fake.base_url,
        "api_key": "sk-bench-status"}, expect=201)["id"]
    agent_ids = [ctx.new_assistant(credential) for _ in range(size.status_agents)]
    # As many clients as divide the count (10 for 100), so each agent is looked up exactly once.
    clients = max(n for n in range(1, min(size.clients, len(agent_ids)) + 1) if len(agent_ids) % n == 0)
    rounds = len(agent_ids) // clients
    out = {"agents": len(agent_ids), "clients": clients, "workers": len(ctx.service.worker_pids())}
    for phase in ("cold", "warm"):
        ctx.fake.clear()
        tally = asyncio.run(closed_loop(
            ctx.host, ctx.port, ctx.headers,
            lambda w, i: ("GET", STATUS_PATH + agent_ids[(w * rounds + i) % len(agent_ids)], None),
            concurrency=clients, rounds=rounds, check=lambda reply: b'"AVAILABLE"' in reply.body))
        out[phase] = {"lookups": tally.completed + tally.errors, "errors": tally.errors,
                      "provider_calls": ctx.fake.count("")}
    return out
