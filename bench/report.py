"""The results table (Markdown for the terminal and README.md, a list-table for the docs) and
publishing it: README.md's "## Benchmarks" section, and only the table of docs/benchmarks.rst."""
from __future__ import annotations

import os
import re

from .processes import ROOT

DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


def _n(value, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float) and value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"


def _mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _failed(section) -> str | None:
    if section is None:
        return "not run"
    if "failed" in section:
        return "failed: " + section["failed"]
    if "pending" in section:
        return "pending: " + section["pending"]
    return None


def rows(run: dict) -> list[tuple[str, str, str]]:
    """(figure, target, measured) for one database's run."""
    out = []
    overhead = run.get("chat_overhead")
    problem = _failed(overhead)
    for mode, label in (("blocking", "chat turn"), ("streamed", "streamed turn, first delta")):
        target = "≤ 1 ms / ≤ 3 ms" if mode == "blocking" else "≤ 1 ms median"
        if problem:
            out.append((f"{label}: added latency, median / p99", target, problem))
            continue
        o = overhead[mode]
        added, gateway, direct = o["added"], o["gateway"], o["direct"]
        text = (f"{_n(added['median_ms'], 3)} / {_n(added['p99_ms'], 3)} ms "
                f"(gateway {_n(gateway['median_ms'])} ms vs direct {_n(direct['median_ms'])} ms median, "
                f"{o['pairs']} pairs)")
        ok = added["median_ms"] <= 1 and (mode == "streamed" or added["p99_ms"] <= 3)
        out.append((f"{label}: added latency, median / p99", target, f"{text} {_mark(ok)}"))
    if not problem:
        out.append(("workers' CPU seconds per 1,000 turns", "report",
                    f"{_n(overhead['blocking']['worker_cpu_ms_per_turn'])} s blocking, "
                    f"{_n(overhead['streamed']['worker_cpu_ms_per_turn'])} s streamed"))
    history = run.get("history_cost")
    problem = _failed(history)
    for stored in ("1", "20", "200"):
        label = f"chat turn, {stored} stored messages: added, median"
        limit = 1 + 0.005 * int(stored)
        if problem:
            out.append((label, f"≤ {limit:g} ms", problem))
            continue
        h = history[stored]
        out.append((label, f"≤ {limit:g} ms", f"{_n(h['added']['median_ms'], 3)} ms "
                    f"({h['pairs']} pairs, history {h['history_messages'][0]}-{h['history_messages'][1]}) "
                    f"{_mark(h['added']['median_ms'] <= limit)}"))
    completions = run.get("agents_completions")
    problem = _failed(completions)
    label = "agents API chat/completions, openai client both sides: added, median"
    if problem:
        out.append((label, "≤ 1 ms", problem))
    else:
        out.append((label, "≤ 1 ms", f"{_n(completions['added']['median_ms'], 3)} ms (gateway "
                    f"{_n(completions['gateway']['median_ms'])} vs direct {_n(completions['direct']['median_ms'])}"
                    f" ms median) {_mark(completions['added']['median_ms'] <= 1)}"))
    responses = run.get("responses_overhead")
    problem = _failed(responses)
    label = "Responses API, previous_response_id: added, median (beside a conversations turn)"
    target = "≤ the conversations turn's"
    if problem:
        out.append((label, target, problem))
    else:
        mine, theirs = responses["responses"]["added"]["median_ms"], responses["conversations"]["added"]["median_ms"]
        out.append((label, target, f"{_n(mine, 3)} ms vs {_n(theirs, 3)} ms ({responses['triples']} triples) "
                                   f"{_mark(mine <= theirs)}"))
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
                    f"p99 {_n(turns['p99_ms'] / 1000, 2)} s {_mark(ok)}"))
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
    throughput = run.get("throughput") or {}
    problem = _failed(throughput) if throughput else "not run"
    for name, target in (("GET /assistants/{id}, sequential", 1500), ("GET /assistants/{id}", 3000),
                         ("POST /assistants", None), ("GET /agents/{id} (status)", 3000)):
        t = throughput.get(name) if not problem else None
        label = f"{name}, {t['clients'] if t and 'clients' in t else 16} clients"
        target_text = f"≥ {target:,} req/s" if target else "-"
        if problem or _failed(t):
            out.append((label, target_text, problem or _failed(t)))
            continue
        text = (f"{_n(t['requests_per_s'])} req/s, p50 {_n(t['median_ms'])} ms, p99 {_n(t['p99_ms'])} ms, "
                f"{t['errors']} errors")
        if target:
            text += " " + _mark(t["requests_per_s"] >= target and t["errors"] == 0)
        out.append((label, target_text, text))
    memory = run.get("memory") or {}
    if memory.get("idle_pss_mb"):
        idle = memory["idle_pss_mb"]
        out.append(("PSS per worker, idle", "≤ 60 MB",
                    " / ".join(_n(x, 1) for x in idle) + f" MB {_mark(max(idle) <= 60)}"))
    if memory.get("idle_mb"):
        out.append(("RSS per worker, idle", "report", " / ".join(_n(x, 1) for x in memory["idle_mb"]) + " MB"))
    if memory.get("after_load_mb"):
        out.append(("RSS per worker, after the load", "-",
                    " / ".join(_n(x, 1) for x in memory["after_load_mb"]) + " MB"))
    status = run.get("status_cost")
    problem = _failed(status)
    label = "provider calls for status lookups of agents"
    if problem:
        out.append((label, "-", problem))
    else:
        out.append((f"provider calls for {status['agents']} agent status lookups",
                    "≤ 1 per worker per cache TTL",
                    f"{status['cold']['provider_calls']} from a cold cache ({status['workers']} workers), "
                    f"{status['warm']['provider_calls']} warm, "
                    f"{status['cold']['errors'] + status['warm']['errors']} errors"))
    cost = run.get("turn_cost")
    problem = _failed(cost)
    label = "metrics + usage record, cost per chat turn"
    if problem:
        out.append((label, "< 0.1 ms", problem))
    else:
        turn = (overhead or {}).get("blocking", {}).get("gateway", {}).get("median_ms") if not _failed(overhead) else None
        share = f", {cost['total_ms_per_turn'] / turn:.1%} of a {_n(turn)} ms turn" if turn else ""
        out.append((label, "< 0.1 ms",
                    f"{_n(cost['total_ms_per_turn'], 3)} ms: metrics {_n(cost['metrics_us_per_turn'], 1)} µs, "
                    f"usage row {_n(cost['usage_us_per_turn'], 1)} µs (commit {_n(cost['commit_without_usage_us'], 0)}"
                    f" → {_n(cost['commit_with_usage_us'], 0)} µs){share} {_mark(cost['total_ms_per_turn'] < 0.1)}"))
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


def header(meta: dict) -> str:
    return (f"Measured {meta['date']} by `make bench` on {meta['nproc']} cores ({meta['cpu']}), "
            f"Python {meta['python']}, gunicorn {meta['workers']} gevent workers x "
            f"{meta['worker_connections']} connections, commit {meta['commit']}; CPU free for the run "
            f"{meta.get('cpu_available_before', 'n/a')} / {meta.get('cpu_available_after', 'n/a')} cores "
            f"(before / after, of {meta['nproc']}).")


def markdown(results: dict) -> str:
    runs = results["runs"]
    names = list(runs)
    table = {}
    targets = {}
    for name in names:
        for figure, target, measured in rows(runs[name]):
            table.setdefault(figure, {})[name] = measured
            targets[figure] = target
    lines = [header(results["meta"]), "",
             "| figure | target | " + " | ".join(DATABASE_NAMES.get(n, n) for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for figure, measured in table.items():
        lines.append(f"| {figure} | {targets[figure]} | "
                     + " | ".join(measured.get(n, "-").replace("|", "/") for n in names) + " |")
    return "\n".join(lines) + "\n"


def rst_table(results: dict) -> str:
    """docs/benchmarks.rst's list-table: scenario, concurrency, requests/s, p50, p99, errors, notes."""
    meta = results["meta"]
    lines = [f".. list-table:: {header(meta).replace('`', '')}", "   :header-rows: 1", ""]
    cells = [["scenario", "concurrency", "requests/s", "p50 (ms)", "p99 (ms)", "errors", "notes"]]
    for database, run in results["runs"].items():
        db = DATABASE_NAMES.get(database, database)
        overhead = run.get("chat_overhead") or {}
        for mode in ("blocking", "streamed"):
            o = overhead.get(mode)
            if o:
                what = "chat turn" if mode == "blocking" else "streamed turn, first delta"
                cells.append([f"{what}: added over direct ({db})", "1", "-", _n(o["added"]["median_ms"], 3),
                              _n(o["added"]["p99_ms"], 3), "0",
                              f"gateway {_n(o['gateway']['median_ms'])} ms vs direct "
                              f"{_n(o['direct']['median_ms'])} ms median"])
        for stored, h in (run.get("history_cost") or {}).items():
            if isinstance(h, dict) and "added" in h:
                cells.append([f"chat turn, {stored} stored messages: added ({db})", "1", "-",
                              _n(h["added"]["median_ms"], 3), _n(h["added"]["p99_ms"], 3), "0",
                              f"history {h['history_messages'][0]}-{h['history_messages'][1]} messages"])
        completions = run.get("agents_completions")
        if completions and not _failed(completions):
            cells.append([f"agents API chat/completions, openai client: added ({db})", "1", "-",
                          _n(completions["added"]["median_ms"], 3), _n(completions["added"]["p99_ms"], 3), "0",
                          f"gateway {_n(completions['gateway']['median_ms'])} ms vs direct "
                          f"{_n(completions['direct']['median_ms'])} ms median"])
        responses = run.get("responses_overhead")
        if responses and not _failed(responses):
            for side in ("responses", "conversations"):
                added = responses[side]["added"]
                cells.append([f"{side} turn (previous_response_id / thread): added ({db})", "1", "-",
                              _n(added["median_ms"], 3), _n(added["p99_ms"], 3), "0",
                              f"{responses['triples']} triples with the same request straight to the provider"])
        turns = run.get("concurrent_turns")
        if turns and not _failed(turns):
            cells.append([f"conversations, provider {turns['provider_delay_s']:g} s ({db})",
                          str(turns["conversations"]), _n(turns["turns_per_s"], 1), _n(turns["median_ms"], 0),
                          _n(turns["p99_ms"], 0), str(turns["errors"]),
                          f"{turns['fraction_of_direct']:.1%} of direct "
                          f"({_n(turns['direct_per_s'], 1)} turns/s, "
                          f"median {_n(turns['direct_median_ms'], 0)} ms), {turns['fraction_of_ideal']:.1%} "
                          f"of the ideal {_n(turns['ideal_per_s'], 0)} turns/s"])
        streams = run.get("open_streams")
        if streams and not _failed(streams):
            cells.append([f"open streams, first delta ({db})", f"{streams['streams']:,}", "-",
                          _n(streams["first_delta"]["median_ms"], 0), _n(streams["first_delta"]["p99_ms"], 0),
                          str(streams["errors"]),
                          "worker RSS at the peak "
                          + " + ".join(_n(x, 0) for x in streams["peak_rss_mb_per_worker"]) + " MB"])
        for name, t in (run.get("throughput") or {}).items():
            if isinstance(t, dict) and not _failed(t):
                cells.append([f"{name} ({db})", str(t["clients"]), _n(t["requests_per_s"], 0),
                              _n(t["median_ms"]), _n(t["p99_ms"]), str(t["errors"]),
                              f"workers' CPU {_n(t.get('worker_cpu_ms_per_request'), 2)} ms per request"])
        memory = run.get("memory") or {}
        status = run.get("status_cost")
        notes = []
        if memory.get("idle_pss_mb"):
            notes.append("PSS idle " + " / ".join(_n(x, 1) for x in memory["idle_pss_mb"]) + " MB")
        if memory.get("idle_mb"):
            notes.append("RSS idle " + " / ".join(_n(x, 1) for x in memory["idle_mb"]) + " MB")
        if memory.get("after_load_mb"):
            notes.append("after the load " + " / ".join(_n(x, 1) for x in memory["after_load_mb"]) + " MB")
        if notes:
            cells.append([f"memory per worker ({db})", "-", "-", "-", "-", "-", ", ".join(notes)])
        if status and not _failed(status):
            cells.append([f"{status['agents']} agent status lookups ({db})", str(status.get("clients", "-")),
                          "-", "-", "-",
                          str(status["cold"]["errors"] + status["warm"]["errors"]),
                          f"{status['cold']['provider_calls']} provider calls cold, "
                          f"{status['warm']['provider_calls']} warm"])
    for row in cells:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def publish(results: dict) -> list[str]:
    """Writes the table into README.md and docs/benchmarks.rst; returns the files changed."""
    changed = []
    readme = os.path.join(ROOT, "README.md")
    with open(readme) as f:
        text = f.read()
    section = ("## Benchmarks\n\n`make bench` measures what the gateway costs its users (bench/README.md "
               "explains each figure); `BENCH_DATABASE_URL=postgresql://...` adds PostgreSQL.\n\n"
               + markdown(results))
    start = text.find("\n## Benchmarks\n")
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        following = text.find("\n## ", start + 1)
        text = text[:start + 1] + section + (text[following:] if following != -1 else "")
    with open(readme, "w") as f:
        f.write(text)
    changed.append("README.md")
    docs = os.path.join(ROOT, "docs", "benchmarks.rst")
    if os.path.exists(docs):
        with open(docs) as f:
            text = f.read()
        # The first list-table and its indented body (up to the first line that is not indented).
        match = re.search(r"^\.\. list-table::.*\n(?:(?:[ \t]+.*)?\n)*?(?=\S|\Z)", text, re.M)
        if match:
            text = text[:match.start()] + rst_table(results) + ("\n" if match.end() < len(text) else "") \
                + text[match.end():]
            with open(docs, "w") as f:
                f.write(text)
            changed.append("docs/benchmarks.rst")
    return changed
