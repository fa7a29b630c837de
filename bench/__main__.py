"""python -m bench [--quick] [--publish] [--output PATH]: see bench/README.md."""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import runpy
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone

from . import litellm, report, responses_cost, scenarios, search_cost, turn_cost
from .processes import ROOT, FakeProvider, bench_service, start_service

SECTIONS = ("chat_overhead", "history_cost", "agents_completions", "responses_overhead", "status_cost",
            "throughput", "concurrent_turns", "open_streams", "turn_cost", "search")


def machine() -> dict:
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    gunicorn = runpy.run_path(os.path.join(ROOT, "gunicorn.conf.py"))  # what the service will run with
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "nproc": os.cpu_count(), "cpu": cpu,
            "python": platform.python_version(), "workers": gunicorn["workers"],
            "worker_connections": gunicorn["worker_connections"],
            "commit": commit + ("+changes" if dirty else "")}


def cpu_available(seconds: float = 0.5) -> float:
    """Cores a busy process gets now, summed over one spinner per core: 2.0 on an idle 2-core
    machine, less while other work competes. Published with the figures, which it colours."""
    spin = ("import time\nend = time.monotonic() + %r\nwhile time.monotonic() < end: pass\n"
            "print(time.process_time() / %r)" % (seconds, seconds))
    spinners = [subprocess.Popen([sys.executable, "-c", spin], stdout=subprocess.PIPE, text=True)
                for _ in range(os.cpu_count() or 1)]
    return round(sum(float(p.communicate(timeout=30)[0]) for p in spinners), 2)


def run_database(name: str, database_url: str | None, size: scenarios.Size, workdir: str,
                 sections: tuple[str, ...] = SECTIONS) -> dict:
    """Every measurement (or those named) against one database, in one service started for it."""
    result: dict = {}
    fake = FakeProvider()
    service = None
    try:
        url = database_url or "sqlite:///" + os.path.join(workdir, "bench.sqlite3")
        service = start_service(bench_service(url, fake.base_url, workdir))
        ctx = scenarios.Context(service, fake, size)
        result["memory"] = {"idle_mb": [round(x, 1) for x in service.worker_rss_mb()],
                            "idle_pss_mb": [round(x, 1) for x in service.worker_pss_mb()]}
        has_status_route = _has_status_route(ctx)
        for section in sections:
            started = time.monotonic()
            print(f"[bench] {name}: {section}...", file=sys.stderr, flush=True)
            try:
                if section == "turn_cost":  # in a process of its own, on this database
                    result[section] = turn_cost.measure(url, size is scenarios.QUICK)
                elif section == "search":  # a store filled into this database, searched through the API
                    result[section] = search_cost.measure(ctx, url, size is scenarios.QUICK)
                elif section == "throughput":
                    result[section] = scenarios.throughput(ctx, has_status_route)
                elif section == "litellm":  # LiteLLM's proxy beside this service, on the same fake
                    result[section] = litellm.compare(ctx, workdir)
                elif section == "responses_overhead":
                    result[section] = responses_cost.responses_overhead(ctx)
                elif section == "status_cost" and not has_status_route:
                    result[section] = {"pending": "the seed-003 routes are not in the app yet"}
                else:
                    result[section] = getattr(scenarios, section)(ctx)
            except Exception as exc:  # one broken measurement must not hide the others
                traceback.print_exc()
                result[section] = {"failed": f"{type(exc).__name__}: {exc}"[:300]}
            result[section]["seconds"] = round(time.monotonic() - started, 1)
        time.sleep(1.0)  # let the last connections close before reading the memory
        result["memory"]["after_load_mb"] = [round(x, 1) for x in service.worker_rss_mb()]
        result["memory"]["after_load_pss_mb"] = [round(x, 1) for x in service.worker_pss_mb()]
        ctx.api.close()
    finally:
        if service is not None:
            service.stop()
        fake.stop()
    return result


def _has_status_route(ctx: scenarios.Context) -> bool:
    spec = ctx.api.call("GET", "/openapi.json")
    return any(path.startswith(scenarios.STATUS_PATH) for path in spec.get("paths", {}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run (seconds) that checks the harness works")
    parser.add_argument("--publish", action="store_true",
                        help="write the table into README.md and docs/benchmarks.rst (never with --quick)")
    parser.add_argument("--output", default=os.path.join(ROOT, "bench", "results.json"))
    parser.add_argument("--only", help="comma-separated sections, for an A/B of one figure (not with "
                        "--publish): " + ", ".join(SECTIONS))
    parser.add_argument("--compare", choices=("litellm",),
                        help="also run LiteLLM's proxy beside the service (the SQLite run; bench/litellm.py)")
    parser.add_argument("--time-limit", type=float, default=600.0, help="seconds before the run gives up")
    args = parser.parse_args(argv)
    sections = tuple(args.only.split(",")) if args.only else SECTIONS
    if set(sections) - set(SECTIONS) or (args.only and args.publish):
        parser.error(f"--only takes sections of {', '.join(SECTIONS)}, and no --publish")

    def give_up(signum, frame):
        raise SystemExit(f"[bench] stopped by signal {signum}")  # unwinds through every clean-up

    signal.signal(signal.SIGTERM, give_up)
    signal.signal(signal.SIGALRM, give_up)
    signal.alarm(int(args.time_limit + (900 if args.compare else 0)))  # LiteLLM: an install, a slow start
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))  # 1,000 streams

    size = scenarios.QUICK if args.quick else scenarios.Size()
    databases = [("sqlite", None)]
    if os.environ.get("BENCH_DATABASE_URL"):
        databases.append(("postgresql", os.environ["BENCH_DATABASE_URL"]))
    started = time.monotonic()
    calibration = 0.2 if args.quick else 0.5
    results = {"meta": {**machine(), "cpu_available_before": cpu_available(calibration)}, "quick": args.quick,
               "runs": {}}
    with tempfile.TemporaryDirectory(prefix="assistants-bench-") as workdir:
        for name, url in databases:
            compared = ("litellm",) if args.compare == "litellm" and name == "sqlite" else ()
            results["runs"][name] = run_database(name, url, size, workdir, sections + compared)
    results["meta"]["cpu_available_after"] = cpu_available(calibration)
    results["meta"]["seconds"] = round(time.monotonic() - started, 1)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(results, f, indent=2)
    print(report.markdown(results))
    print(f"[bench] {results['meta']['seconds']} s; results in {args.output}", file=sys.stderr)
    if args.publish and not args.quick:
        print(f"[bench] published to {', '.join(report.publish(results))}", file=sys.stderr)
    failed = [f"{db}.{s}" for db, run in results["runs"].items() for s in (*sections, "litellm")
              if "failed" in run.get(s, {})]
    if failed:
        print(f"[bench] failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
