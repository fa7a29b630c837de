"""The soak's measurements and pass criteria (bench/soak.py runs the load): the database
connections a service holds, every acknowledged write checked against the database, and the
figures with their verdict."""
from __future__ import annotations

import json
import os

from sqlalchemy import create_engine, text

from tests.live_server import LiveServer

MAPPED = {429, 502, 504}  # what the service answers for the provider faults the soak injects
RSS_GROWTH_LIMIT_MB = 10.0
FLAT_SLACK = 4  # fds / connections at the end may exceed the after-warm-up count by this much
POOL_SIZE = 5  # SQLAlchemy's QueuePool default, which the service keeps
PROVIDER_KEEPALIVE = 100  # openai_adapter/transport.py's max_keepalive_connections


def database_probe(url: str, service: LiveServer):
    """How many connections the service holds to its database: PostgreSQL's count; SQLite, the
    workers' open descriptors of the database file (and its -wal and -shm)."""
    if url.startswith("postgresql"):
        engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1), pool_size=1)

        def count() -> int:
            with engine.connect() as connection:
                return connection.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                              "current_database() AND pid <> pg_backend_pid()"))
        return count
    path = url.split(":///", 1)[1]

    def sqlite_files() -> int:
        found = 0
        for pid in service.worker_pids():
            try:
                found += sum(os.readlink(f"/proc/{pid}/fd/{fd}").startswith(path)
                             for fd in os.listdir(f"/proc/{pid}/fd"))
            except OSError:
                pass
        return found
    return sqlite_files


def open_descriptors(pid: int, provider_port: int) -> tuple[int, int]:
    """A worker's open descriptors: (all but its connections to the provider, those connections).
    The provider client keeps idle connections for reuse (up to 100, closed lazily when next used):
    a pool, counted apart so that a leak elsewhere is not hidden by it, nor mistaken for one."""
    remote = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                remote[fields[9]] = int(fields[2].rsplit(":", 1)[1], 16)
    to_provider = others = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and remote.get(target[8:-1]) == provider_port:
            to_provider += 1
        else:
            others += 1
    return others, to_provider


def verify_writes(soak, url: str) -> list[str]:
    """Every acknowledged write, as the database holds it now: what is missing or wrong."""
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    problems = []
    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT id, details FROM assistants")).all())
        for assistant_id, details in soak.assistants.items():
            stored = rows.get(assistant_id)
            stored = json.loads(stored) if isinstance(stored, str) else stored
            if stored != details:
                problems.append(f"assistant {assistant_id}: {stored!r} != acknowledged {details!r}")
        problems += [f"deleted assistant {i} is there" for i in soak.deleted if i in rows]
        messages = {m: (t, c) for m, t, c
                    in connection.execute(text("SELECT id, thread_id, content FROM messages"))}
        for thread_id, message_id, words in soak.replies:
            if messages.get(message_id) != (thread_id, f"Echo: {words}"):
                problems.append(f"reply {message_id} on {thread_id}: {messages.get(message_id)!r}")
        stored = dict(connection.execute(
            text("SELECT id, output FROM responses WHERE status = 'completed'")).all())
        for response_id, reply in getattr(soak, "responses", ()):
            output = stored.get(response_id)
            output = json.loads(output) if isinstance(output, str) else output
            if not output or output[-1]["content"][0]["text"] != reply:
                problems.append(f"response {response_id}: {output!r}")
    engine.dispose()
    return problems


def summarize(soak, problems: list[str]) -> dict:
    statuses: dict[str, int] = {}
    operations: dict[str, int] = {}
    for entry in soak.results:
        statuses[str(entry["status"])] = statuses.get(str(entry["status"]), 0) + 1
        operations[entry["op"]] = operations.get(entry["op"], 0) + 1
    faults = [e for e in soak.results if e["fault"]]
    unexpected = [e for e in soak.results if not e["fault"] and e["status"] not in (200, 201)]
    server_errors = [e for e in soak.results if e["status"] >= 500 and e["status"] not in MAPPED]
    first, last = soak.baseline, soak.end
    growth = {pid: round(last["rss_mb"][pid] - first["rss_mb"][pid], 1) for pid in first["rss_mb"]
              if pid in last["rss_mb"]}
    fds = (sum(first["fds"].values()), sum(last["fds"].values()))
    connections = (first["db_connections"], last["db_connections"])
    # Each worker's pool keeps up to POOL_SIZE connections open once a peak has needed them: growing
    # to that is a pool filling up, not a leak (nor are their descriptors).
    pools_full = len(first["rss_mb"]) * POOL_SIZE
    connections_flat = connections[1] <= max(connections[0], pools_full) + FLAT_SLACK
    fds_flat = (fds[1] - fds[0]) - max(0, connections[1] - connections[0]) <= FLAT_SLACK
    provider_pooled = all(count <= PROVIDER_KEEPALIVE for count in last["provider"].values())
    seconds = sorted(e["seconds"] for e in soak.results if e["status"] == 200)
    figures = {
        "requests": len(soak.results), "rate_per_s": round(len(soak.results) / soak.seconds, 1),
        "operations": dict(sorted(operations.items())), "statuses": dict(sorted(statuses.items())),
        "faults_injected": soak.injected, "mapped_fault_answers": len(faults), "unexpected": len(unexpected),
        "server_errors": len(server_errors),
        "p50_ms": round(seconds[len(seconds) // 2] * 1000, 1) if seconds else None,
        "p99_ms": round(seconds[int(len(seconds) * 0.99)] * 1000, 1) if seconds else None,
        "rss_mb_after_warm_up": {str(p): round(v, 1) for p, v in first["rss_mb"].items()},
        "rss_mb_at_end": {str(p): round(v, 1) for p, v in last["rss_mb"].items()},
        "rss_mb_peak": {str(p): round(max(s["rss_mb"].get(p, 0) for s in soak.samples), 1)
                        for p in first["rss_mb"]},
        "rss_growth_mb": {str(p): v for p, v in growth.items()},
        "same_workers": set(first["rss_mb"]) == set(last["rss_mb"]),
        "fds_after_warm_up_and_at_end": fds, "db_connections_after_warm_up_and_at_end": connections,
        "fds_peak": max(sum(s["fds"].values()) for s in soak.samples),
        "provider_connections_after_warm_up_and_at_end": (sum(first["provider"].values()),
                                                          sum(last["provider"].values())),
        "provider_connections_peak": max(sum(s["provider"].values()) for s in soak.samples),
        "db_connections_peak": max(s["db_connections"] for s in soak.samples),
        "acknowledged_writes": len(soak.assistants) + len(soak.deleted) + len(soak.replies),
        "missing_writes": problems[:20],
        "unexpected_examples": unexpected[:10],
    }
    figures["passed"] = bool(
        not unexpected and not server_errors and len(faults) <= soak.injected
        and growth and max(growth.values()) < RSS_GROWTH_LIMIT_MB and figures["same_workers"]
        and fds_flat and connections_flat and provider_pooled and not problems)
    return figures
