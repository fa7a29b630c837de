"""The benchmark harness (bench/, `make bench`) is not a test, but it must not rot: run it in its
tiny mode, end to end (fake provider process, gunicorn, every measurement), in seconds."""
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest

from bench import module_trace
from bench.scenarios import STATUS_PATH  # noqa: F401  (the harness imports cleanly)

from .helpers import UNMEASURED

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = ("chat_overhead", "history_cost", "agents_completions", "status_cost", "throughput",
            "concurrent_turns", "open_streams", "turn_cost", "search")

pytestmark = pytest.mark.slow


def test_quick_bench_runs_every_measurement(tmp_path):
    output = tmp_path / "results.json"
    # SQLite only (seconds), and coverage off (tests/helpers.py, UNMEASURED)
    env = {**{k: v for k, v in os.environ.items() if k != "BENCH_DATABASE_URL"}, **UNMEASURED}
    # The limits stop a hung harness, they time nothing: it takes 30-45 s beside make test's other
    # worker, and more than 90 s on a 2-core host that others load too (it failed so, twice).
    command = [sys.executable, "-m", "bench", "--quick", "--output", str(output), "--time-limit", "240"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=270)
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(output.read_text())
    run = results["runs"]["sqlite"]
    for section in SECTIONS:
        assert "failed" not in run[section], (section, run[section])
    assert run["chat_overhead"]["blocking"]["added"]["median_ms"] is not None
    assert {"1", "20", "200"} <= set(run["history_cost"])
    assert run["history_cost"]["200"]["history_messages"][0] == 200
    assert run["agents_completions"]["added"]["median_ms"] is not None
    assert run["concurrent_turns"]["errors"] == 0 and run["open_streams"]["errors"] == 0
    assert run["concurrent_turns"]["direct_per_s"] > 0 and run["concurrent_turns"]["fraction_of_direct"] > 0
    assert run["open_streams"]["completed"] == run["open_streams"]["streams"]
    calls = run["status_cost"]["cold"]["provider_calls"] + run["status_cost"]["warm"]["provider_calls"]
    assert 1 <= calls <= run["status_cost"]["workers"]  # the models list: once per worker per cache TTL
    assert all(size > 0 for size in run["memory"]["idle_mb"] + run["memory"]["idle_pss_mb"])
    assert run["turn_cost"]["metrics_us_per_turn"] > 0 and run["turn_cost"]["commit_pairs"] > 0
    assert run["search"]["chunks"] == 5_000 and run["search"]["median_ms"] > 0
    assert "| figure | target | SQLite |" in done.stdout  # the table


def test_a_short_soak_passes(tmp_path):
    """`make soak` (bench/soak.py) for a few seconds on SQLite: the load, the samples, the checks."""
    output = tmp_path / "soak.json"
    env = {**{k: v for k, v in os.environ.items() if k != "SOAK_DATABASE_URL"}, "SOAK_SECONDS": "8",
           # The soak's clients close each connection after its answer: no keep-alive to wait out.
           "SOAK_RATE": "20", "SOAK_QUIET_SECONDS": "1", **UNMEASURED}
    done = subprocess.run([sys.executable, "-m", "bench.soak", "--output", str(output)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=270)
    [run] = json.loads(output.read_text())
    assert done.returncode == 0 and run["passed"], done.stdout + done.stderr
    assert run["database"] == "sqlite" and run["requests"] >= 100 and run["unexpected"] == 0
    assert run["acknowledged_writes"] > 0 and run["missing_writes"] == []


def test_the_floor_measures_the_bare_server_and_the_app_in_process(tmp_path):
    """`python -m bench.floor` with tiny sizes (figures meaningless): gunicorn alone serves its constant
    body, the service its GETs, and every route in process answers 200 (its harness raises otherwise)."""
    output = tmp_path / "floor.json"
    done = subprocess.run([sys.executable, "-m", "bench.floor", "--seconds", "0.5", "--requests", "20",
                           "--output", str(output)], cwd=ROOT, env={**os.environ, **UNMEASURED},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(output.read_text())
    assert set(result["over_http"]) == {"gunicorn alone (a constant body)", "GET /health",
                                        "GET /assistants/{id}"}
    for row in result["over_http"].values():
        assert row["errors"] == 0 and row["requests_per_s"] > 0 and row["worker_cpu_ms_per_request"] > 0
    assert len(result["in_process"]) == 5 and all(row["cpu_us"] > 0 for row in result["in_process"].values())
    assert "in process (the app as a WSGI callable" in done.stdout


def test_litellm_rows_put_ours_beside_litellm():
    """`--compare litellm` (bench/litellm.py) is too slow for CI (an install, a minute to start): its rows
    in the table, from a result of its shape, say which side met the targets."""
    from bench.targets import rows

    def side(median, p99):
        return {"median_ms": median, "p99_ms": p99}

    def concurrent(turns_per_s, cpu):
        return {"turns": 300, "errors": 0, "failures": {}, "turns_per_s": turns_per_s, "median_ms": 1003.0,
                "p99_ms": 1100.0, "cpu_s_per_1000_turns": cpu}

    compared = {"litellm": "litellm[proxy]==1.108.5", "workers": {"ours": 2, "litellm": 2},
                "blocking": {"pairs": 400, "ours_added": side(1.2, 3.0), "litellm_added": side(9.0, 20.0),
                             "direct": side(0.4, 0.8), "ours": side(1.6, 3.5), "litellm": side(9.4, 21.0)},
                "streamed": {"pairs": 200, "ours_added": side(9.5, 12.0), "litellm_added": side(9.0, 20.0),
                             "direct": side(0.5, 0.9), "ours": side(10.0, 13.0), "litellm": side(9.5, 21.0)},
                "concurrent": {"clients": 100, "provider_delay_s": 1.0, "rounds": 3,
                               "ours": concurrent(95.0, 3.1), "litellm": concurrent(60.0, 25.0),
                               "direct": concurrent(98.0, None)}}
    table = {figure: measured for figure, _, measured in rows({"litellm": compared}, "sqlite")
             if figure.startswith("beside LiteLLM")}
    assert len(table) == 3
    blocking, streamed, load = table.values()
    assert blocking.startswith("ours 1.200 / 3.000 ms, LiteLLM 9.000 / 20.000 ms")
    assert blocking.endswith(" met")
    assert streamed.endswith("**not met**")
    assert "ours 95.0 turns/s, 3.10 CPU s per 1,000 turns" in load and load.endswith(" met")


def test_a_streamed_turn_of_every_api_enters_each_layer_once_per_phase():
    """`python -m bench.module_trace`: a streamed request of each API goes route -> pipeline -> adapter
    and back, each layer entered once in each phase of the turn (it exits 1 otherwise)."""
    done = subprocess.run([sys.executable, "-m", "bench.module_trace"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    for api in ("conversations /openai/chat", "agents chat/completions", "assistants v2 run", "responses"):
        assert f"\n{api}: " in "\n" + done.stdout
    assert done.stdout.count("layers entered more than once: none") == 4 * len(module_trace.PHASES)


def test_the_trace_counts_a_layer_called_back_by_what_it_called():
    """What the check above relies on, on made-up frames: a callback into the pipeline is a second entry;
    calls one after the other into the same module are one; a call from a library is none."""
    def call(trace, module, name, caller=None):
        code = SimpleNamespace(co_filename=module_trace.PACKAGE + module, co_name=name, co_flags=0)
        back = None if caller is None else SimpleNamespace(
            f_code=SimpleNamespace(co_filename=module_trace.PACKAGE + caller))
        trace.profile(SimpleNamespace(f_code=code, f_back=back), "call", None)

    trace = module_trace.Trace()
    call(trace, "routes/openai_routes.py", "openai_chat")  # from Flask: no switch
    call(trace, "services/turns.py", "stream", "routes/openai_routes.py")
    for check in ("check_budget", "check_storage", "take_turn_slot"):
        call(trace, "services/tenant_limits.py", check, "services/turns.py")
    call(trace, "services/thread_turn.py", "begin", "services/turns.py")
    assert trace.layers_entered_again() == 0
    call(trace, "services/turns.py", "on_history", "services/thread_turn.py")  # called back
    assert trace.worst(layers=True)["start"] == {"services/turns.py": 2}
    assert trace.worst(layers=False)["start"] == {}  # the three checks: one entry
    assert trace.layers_entered_again() == 2
