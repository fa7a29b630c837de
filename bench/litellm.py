"""LiteLLM's proxy beside this service, in front of the same fake provider, in one run (issue 29):
``make bench BENCH_ARGS="--compare litellm"`` adds this section to the SQLite run.

LiteLLM (``LITELLM``, pinned) is installed on first use into bench/.venv-litellm (git-ignored) from the
package registry, and runs as its README says (``litellm --config ... --num_workers 2``: uvicorn, two
workers), without a database, the fake named as an OpenAI-compatible provider (``openai/<model>`` with
``api_base``). Nothing leaves the machine: the model cost map, blog posts and the other files it would
fetch are read from its package (``LITELLM_LOCAL_*``), their URLs pointed at a closed loopback port.

The comparison is LiteLLM's ``/v1/chat/completions`` against the agents API's ``chat/completions`` (both
stateless: the whole conversation in the request; ours adds the agent's instructions, the others carry
them) and the same request straight to the fake, each with the same lean client (bench/api.py), in
interleaved triples whose order rotates: added latency blocking, and to the first text delta streamed.
Then N concurrent chats, the fake holding each answer ``provider_delay`` seconds: turns/s of each side,
and the CPU seconds its processes used per 1,000 turns (throughput per core is its inverse)."""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

from tests.live_server import cpu_seconds

from .api import Api, ms, percentile
from .loadgen import closed_loop
from .processes import ROOT, _die_with_parent
from .scenarios import INSTRUCTIONS, MODEL, STATUS_PATH, Context, summary

LITELLM = "litellm[proxy]==1.108.5"  # the newest whose [proxy] extra's pins all install from PyPI here
VENV = os.path.join(ROOT, "bench", ".venv-litellm")
MASTER_KEY = "sk-litellm-bench"
START_TIMEOUT = 300.0  # it imports for a minute or more on a busy 2-core machine
CLOSED_PORT = "http://127.0.0.1:9/"  # discard: nothing listens, so nothing is fetched from anywhere
OFFLINE = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True", "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_MODEL_COST_MAP_URL": CLOSED_PORT, "LITELLM_BLOG_POSTS_URL": CLOSED_PORT,
    "LITELLM_ANTHROPIC_BETA_HEADERS_URL": CLOSED_PORT, "LITELLM_AUTOROUTER_PRESETS_URL": CLOSED_PORT,
    "LITELLM_LOG": "ERROR", "DISABLE_ADMIN_UI": "True", "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
}
FIRST_TEXT, END = b"Echo", b"[DONE]"  # every side's first chunk with text carries the fake's "Echo:"


def free_port() -> int:
    """A port free now (LiteLLM's proxy takes its port as a number, not a bound socket)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        return listener.getsockname()[1]


def installed() -> str:
    """bench/.venv-litellm/bin/litellm, installed first if it is not there."""
    command = os.path.join(VENV, "bin", "litellm")
    if not os.path.exists(command):
        print(f"[bench] installing {LITELLM} into {VENV} (once)...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([os.path.join(VENV, "bin", "pip"), "install", "--quiet", LITELLM], check=True)
    return command


class LiteLLMProxy:
    """``litellm --config`` with two workers on a free loopback port, in a process group of its own."""

    def __init__(self, provider_url: str, workdir: str, workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = os.path.join(workdir, "litellm.yaml")
        with open(config, "w") as f:
            f.write(f"model_list:\n  - model_name: {MODEL}\n    litellm_params:\n"
                    f"      model: openai/{MODEL}\n      api_base: {provider_url}\n      api_key: sk-bench\n"
                    f"general_settings:\n  master_key: {MASTER_KEY}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "LITELLM_"))}
        self.log_path = os.path.join(workdir, "litellm.log")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [installed(), "--config", config, "--host", "127.0.0.1", "--port", str(self.port),
                 "--num_workers", str(workers)], env={**env, **OFFLINE}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/health/liveliness")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.5)
        self.stop()
        with open(self.log_path, errors="replace") as f:
            raise RuntimeError("LiteLLM's proxy did not start:\n" + f.read()[-2000:])

    def cpu(self) -> float:
        """CPU seconds of its processes (its process group) so far."""
        total = 0.0
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.getpgid(int(entry)) == self.process.pid:
                        total += cpu_seconds(int(entry))
                except (OSError, ProcessLookupError):
                    continue
        return total

    def stop(self) -> None:
        if self.process.poll() is None:
            for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                try:
                    os.killpg(self.process.pid, sig)
                    self.process.wait(grace)
                    break
                except ProcessLookupError:
                    break
                except subprocess.TimeoutExpired:
                    continue


def compare(ctx: Context, workdir: str) -> dict:
    size = ctx.size
    proxy = LiteLLMProxy(ctx.fake.base_url, workdir)
    try:
        agent_id = ctx.new_assistant()
        ours = Api(ctx.service.url, ctx.service.api_key)
        sides = {"ours": (ours, f"{STATUS_PATH}{agent_id}/chat/completions"),
                 "litellm": (Api(proxy.url, MASTER_KEY), "/v1/chat/completions"),
                 "direct": (Api(ctx.fake.base_url, "sk-bench"), "/chat/completions")}
        out = {"litellm": LITELLM, "workers": {"ours": len(ctx.service.worker_pids()), "litellm": 2}}
        for mode in ("blocking", "streamed"):
            count = size.pairs if mode == "blocking" else size.stream_pairs
            out[mode] = _triples(sides, mode, size.warmup_pairs, count)
        out["concurrent"] = _concurrent(ctx, proxy, agent_id)
        for api, _ in sides.values():
            api.close()
    finally:
        proxy.stop()
    return out


def _body(side: str, text: str) -> dict:
    messages = [{"role": "user", "content": text}]
    if side != "ours":  # the agent adds its instructions; the others are sent them
        messages.insert(0, {"role": "system", "content": INSTRUCTIONS})
    return {"model": MODEL, "messages": messages}


def _triples(sides: dict, mode: str, warmup: int, count: int) -> dict:
    names = list(sides)
    times = {name: [] for name in names}
    for i in range(warmup + count):
        took = {}
        for name in names[i % 3:] + names[:i % 3]:
            api, path = sides[name]
            body = _body(name, f"Question {i}: how are things today?")
            if mode == "streamed":
                took[name] = api.stream(path, {**body, "stream": True}, first_text=FIRST_TEXT, end=END)[0]
            else:
                started = time.perf_counter()
                reply = api.call("POST", path, body)
                took[name] = time.perf_counter() - started
                if not reply["choices"][0]["message"]["content"].startswith("Echo: Question"):
                    raise RuntimeError(f"{name} answered {reply!r}")
        if i >= warmup:
            for name in names:
                times[name].append(took[name])
    added = {name: [t - d for t, d in zip(times[name], times["direct"])] for name in ("ours", "litellm")}
    return {"pairs": count, **{f"{name}_added": summary(values) for name, values in added.items()},
            **{name: summary(values) for name, values in times.items()}}


def _concurrent(ctx: Context, proxy: LiteLLMProxy, agent_id: str) -> dict:
    """N clients at once, 3 turns each, the fake holding each answer: ours, LiteLLM, then direct."""
    size = ctx.size
    clients, delay = size.compare_clients, size.compare_delay
    provider = urlsplit(ctx.fake.base_url)
    litellm = urlsplit(proxy.url)
    runs = {
        "ours": (ctx.host, ctx.port, ctx.headers, f"{STATUS_PATH}{agent_id}/chat/completions", "ours",
                 ctx.service.workers_cpu),
        "litellm": ("127.0.0.1", litellm.port, {"Authorization": f"Bearer {MASTER_KEY}"},
                    "/v1/chat/completions", "litellm", proxy.cpu),
        "direct": (provider.hostname, provider.port, {"Authorization": "Bearer sk-bench"},
                   provider.path + "/chat/completions", "direct", None),
    }
    out = {"clients": clients, "provider_delay_s": delay, "rounds": size.rounds}
    ctx.fake.configure(delay=delay)
    try:
        for name, (host, port, headers, path, side, cpu) in runs.items():
            body = json.dumps(_body(side, "Hello there")).encode()
            used = cpu() if cpu else 0.0
            tally = asyncio.run(closed_loop(host, port, headers, lambda w, i: ("POST", path, body),
                                            concurrency=clients, rounds=size.rounds, timeout=60 + delay))
            used = (cpu() - used) if cpu else None
            out[name] = {"turns": tally.completed, "errors": tally.errors, "failures": dict(tally.failures),
                         "turns_per_s": round(tally.completed / tally.elapsed, 2),
                         "median_ms": ms(percentile(tally.latencies, 50), 1),
                         "p99_ms": ms(percentile(tally.latencies, 99), 1),
                         "cpu_s_per_1000_turns":
                             None if used is None else round(1000 * used / max(1, tally.completed), 2)}
    finally:
        ctx.fake.configure()
    return out
