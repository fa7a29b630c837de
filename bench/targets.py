"""Each figure of a run beside its target (issue 29's for the lean gateway): (figure, target, measured) rows,
which bench/report.py prints and publishes."""
from __future__ import annotations


def _n(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _sizes(values) -> str:
    return " / ".join(_n(x, 1) for x in values) + " MB"


def _failed(section) -> str | None:
    if section is None:
        return "not run"
    if "failed" in section:
        return "failed: " + section["failed"]
    if "pending" in section:
        return "pending: " + section["pending"]
    return None


# Issue 29's targets: added latency per turn by database, and what a stored message may add.
TURN_ADDED_MS = {"sqlite": 1.5, "postgresql": 2.5}
HISTORY_MS, HISTORY_PER_MESSAGE_MS = 2.0, 0.003
TURN_TARGET = "≤ 1.5 ms SQLite, ≤ 2.5 ms PostgreSQL"


def rows(run: dict, database: str = "sqlite") -> list[tuple[str, str, str]]:
    """(figure, target, measured) for one database's run."""
    limit = TURN_ADDED_MS.get(database, 1.5)
    out = []
    overhead = run.get("chat_overhead")
    problem = _failed(overhead)
    for mode, label in (("blocking", "chat turn"), ("streamed", "streamed turn, first delta")):
        label = f"{label} (/openai/chat): added latency, median / p99"
        if problem:
            out.append((label, TURN_TARGET, problem))
            continue
        o = overhead[mode]
        added, gateway, direct = o["added"], o["gateway"], o["direct"]
        out.append((label, TURN_TARGET, f"{_n(added['median_ms'], 3)} / {_n(added['p99_ms'], 3)} ms (gateway "
                    f"{_n(gateway['median_ms'])} ms vs direct {_n(direct['median_ms'])} ms median, "
                    f"{o['pairs']} pairs) {_mark(added['median_ms'] <= limit)}"))
    if not problem:
        cpu = overhead["blocking"]["worker_cpu_ms_per_turn"]
        out.append(("workers' CPU per turn", "≤ 1.5 ms", f"{_n(cpu)} ms blocking, "
                    f"{_n(overhead['streamed']['worker_cpu_ms_per_turn'])} ms streamed {_mark(cpu <= 1.5)}"))
    history = run.get("history_cost")
    problem = _failed(history)
    for stored in ("1", "20", "200"):
        label = f"chat turn, {stored} stored messages: added, median"
        target = "≤ 2 ms + 3 µs a message"
        if problem:
            out.append((label, target, problem))
            continue
        h = history[stored]
        allowed = HISTORY_MS + HISTORY_PER_MESSAGE_MS * h["history_messages"][1]
        out.append((label, target, f"{_n(h['added']['median_ms'], 3)} ms ({h['pairs']} pairs, history "
                    f"{h['history_messages'][0]}-{h['history_messages'][1]}: ≤ {allowed:.2f} ms) "
                    f"{_mark(h['added']['median_ms'] <= allowed)}"))
    completions = run.get("agents_completions")
    problem = _failed(completions)
    label = "agents API chat/completions, openai client both sides: added, median"
    if problem:
        out.append((label, TURN_TARGET, problem))
    else:
        out.append((label, TURN_TARGET, f"{_n(completions['added']['median_ms'], 3)} ms (gateway "
                    f"{_n(completions['gateway']['median_ms'])} vs direct "
                    f"{_n(completions['direct']['median_ms'])} ms median) "
                    f"{_mark(completions['added']['median_ms'] <= limit)}"))
    responses = run.get("responses_overhead")
    problem = _failed(responses)
    label = "Responses API, previous_response_id: added, median (beside a conversations turn)"
    target = "≤ the conversations turn's"
    if problem:
        out.append((label, target, problem))
    else:
        mine = responses["responses"]["added"]["median_ms"]
        theirs = responses["conversations"]["added"]["median_ms"]
        out.append((label, target, f"{_n(mine, 3)} ms vs {_n(theirs, 3)} ms ({responses['triples']} triples) "
                                   f"{_mark(mine <= theirs)}"))
    out += _concurrency_rows(run)
    out += _throughput_rows(run)
    out += _memory_and_cost_rows(run, overhead)
    out += _litellm_rows(run.get("litellm"))
    return out


def _concurrency_rows(run: dict) -> list[tuple[str, str, str]]:
    out = []
    turns = run.get("concurrent_turns")
    problem = _failed(turns)
    label = "concurrent conversations, provider answering in 2 s"
    target = "≥ 95% of direct, 0 errors"
    if problem:
        out.append((label, target, problem))
    else:
        ok = turns["fraction_of_direct"] >= 0.95 and turns["errors"] == 0
        delay = f"{turns['provider_delay_s']:g} s"
        out.append((f"{turns['conversations']} {label.replace('2 s', delay)}", target,
                    f"{turns['fraction_of_direct']:.1%} of direct ({_n(turns['turns_per_s'], 1)} vs "
                    f"{_n(turns['direct_per_s'], 1)} turns/s; {turns['fraction_of_ideal']:.1%} of the ideal "
                    f"{_n(turns['ideal_per_s'], 0)}), {turns['errors']} errors, "
                    f"p99 {_n(turns['p99_ms'] / 1000, 2)} s, "
                    f"workers' CPU {_n(turns['worker_cpu_ms_per_turn'])} ms a turn {_mark(ok)}"))
    streams = run.get("open_streams")
    problem = _failed(streams)
    if problem:
        out.append(("open streams at once", "0 errors", problem))
    else:
        rss = " + ".join(_n(x, 0) for x in streams["peak_rss_mb_per_worker"])
        out.append((f"{streams['streams']:,} open streams at once", "0 errors",
                    f"{streams['errors']} errors, {streams['peak_open']:,} open at the peak, worker RSS then "
                    f"{rss} MB, first delta p99 {_n(streams['first_delta']['p99_ms'], 0)} ms "
                    f"{_mark(streams['errors'] == 0)}"))
    return out


THROUGHPUT_TARGETS = (("GET /assistants/{id}, sequential", 1500), ("GET /assistants/{id}", 3000),
                      ("POST /assistants", None), ("GET /agents/{id} (status), sequential", 1200),
                      ("GET /agents/{id} (status)", None))


def _throughput_rows(run: dict) -> list[tuple[str, str, str]]:
    out = []
    throughput = run.get("throughput") or {}
    problem = _failed(throughput) if throughput else "not run"
    for name, target in THROUGHPUT_TARGETS:
        t = throughput.get(name) if not problem else None
        label = f"{name}, {t['clients'] if t and 'clients' in t else 16} clients"
        target_text = f"≥ {target:,} req/s" if target else "-"
        if problem or _failed(t):
            out.append((label, target_text, problem or _failed(t)))
            continue
        text = (f"{_n(t['requests_per_s'])} req/s, p50 {_n(t['median_ms'])} ms, p99 {_n(t['p99_ms'])} ms, "
                f"{t['errors']} errors, workers' CPU {_n(t.get('worker_cpu_ms_per_request'))} ms a request")
        if target:
            text += " " + _mark(t["requests_per_s"] >= target and t["errors"] == 0)
        out.append((label, target_text, text))
    return out


def _memory_and_cost_rows(run: dict, overhead) -> list[tuple[str, str, str]]:
    out = []
    memory = run.get("memory") or {}
    if memory.get("idle_pss_mb"):
        idle = memory["idle_pss_mb"]
        out.append(("PSS per worker, idle", "≤ 60 MB",
                    " / ".join(_n(x, 1) for x in idle) + f" MB {_mark(max(idle) <= 60)}"))
    if memory.get("idle_mb"):
        out.append(("RSS per worker, idle", "report", _sizes(memory["idle_mb"])))
    if memory.get("after_load_mb"):
        out.append(("RSS per worker, after the load", "-", _sizes(memory["after_load_mb"])))
    status = run.get("status_cost")
    problem = _failed(status)
    label = "provider calls for status lookups of agents"
    if problem:
        out.append((label, "-", problem))
    else:
        errors = status["cold"]["errors"] + status["warm"]["errors"]
        out.append((f"provider calls for {status['agents']} agent status lookups",
                    "≤ 1 per worker per cache TTL",
                    f"{status['cold']['provider_calls']} from a cold cache ({status['workers']} workers), "
                    f"{status['warm']['provider_calls']} warm, {errors} errors"))
    cost = run.get("turn_cost")
    problem = _failed(cost)
    label = "metrics + usage record, cost per chat turn"
    if problem:
        out.append((label, "< 0.1 ms", problem))
    else:
        turn = None if _failed(overhead) else overhead["blocking"]["gateway"]["median_ms"]
        share = f", {cost['total_ms_per_turn'] / turn:.1%} of a {_n(turn)} ms turn" if turn else ""
        out.append((label, "< 0.1 ms",
                    f"{_n(cost['total_ms_per_turn'], 3)} ms: metrics "
                    f"{_n(cost['metrics_us_per_turn'], 1)} µs, "
                    f"usage row {_n(cost['usage_us_per_turn'], 1)} µs (commit "
                    f"{_n(cost['commit_without_usage_us'], 0)} → "
                    f"{_n(cost['commit_with_usage_us'], 0)} µs){share} "
                    f"{_mark(cost['total_ms_per_turn'] < 0.1)}"))
    search = run.get("search")
    problem = _failed(search)
    label = "top-10 vector store search, one store of 100,000 chunks"
    if problem:
        out.append((label, "< 50 ms", problem))
    else:
        out.append((f"top-10 vector store search, one store of {search['chunks']:,} chunks", "< 50 ms",
                    f"median {_n(search['median_ms'])} ms, p95 {_n(search['p95_ms'])} ms (the query's "
                    f"embedding {_n(search['embedding_call_ms'])} ms of it); first search "
                    f"{_n(search['first_search_ms'])} ms {_mark(search['median_ms'] < 50)}"))
    return out


def _litellm_rows(compared) -> list[tuple[str, str, str]]:
    """The --compare litellm section: ours (the agents API's chat/completions) beside LiteLLM's proxy."""
    if compared is None:
        return []
    problem = _failed(compared)
    if problem:
        return [("beside LiteLLM's proxy", "-", problem)]
    out = []
    for mode, label in (("blocking", "chat/completions"),
                        ("streamed", "chat/completions streamed, first delta")):
        c = compared[mode]
        ours, theirs = c["ours_added"]["median_ms"], c["litellm_added"]["median_ms"]
        out.append((f"beside LiteLLM ({compared['litellm']}): {label}, added, median / p99",
                    "below LiteLLM's",
                    f"ours {_n(ours, 3)} / {_n(c['ours_added']['p99_ms'], 3)} ms, LiteLLM {_n(theirs, 3)} / "
                    f"{_n(c['litellm_added']['p99_ms'], 3)} ms (direct {_n(c['direct']['median_ms'])} ms "
                    "median, "
                    f"{c['pairs']} triples) {_mark(ours < theirs)}"))
    c = compared["concurrent"]
    ours, theirs, direct = c["ours"], c["litellm"], c["direct"]
    ok = (ours["errors"] == 0 and ours["cpu_s_per_1000_turns"] is not None
          and ours["cpu_s_per_1000_turns"] <= theirs["cpu_s_per_1000_turns"])
    out.append((f"beside LiteLLM: {c['clients']} concurrent {c['provider_delay_s']:g}-second chats",
                "≥ LiteLLM's turns per CPU second",
                f"ours {_n(ours['turns_per_s'], 1)} turns/s, {_n(ours['cpu_s_per_1000_turns'])} CPU s per "
                "1,000 turns, "
                f"{ours['errors']} errors; LiteLLM {_n(theirs['turns_per_s'], 1)} turns/s, "
                f"{_n(theirs['cpu_s_per_1000_turns'])} CPU s per 1,000 turns, {theirs['errors']} errors; "
                "direct "
                f"{_n(direct['turns_per_s'], 1)} turns/s {_mark(ok)}"))
    return out
