"""The results table (Markdown for the terminal and README.md, a list-table for the docs) and
publishing it: README.md's "## Benchmarks" section, and only the table of docs/benchmarks.rst."""
from __future__ import annotations

import os
import re

from .processes import ROOT
from .targets import rows

DATABASE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


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
        for figure, target, measured in rows(runs[name], name):
            table.setdefault(figure, {})[name] = measured
            targets[figure] = target
    lines = [header(results["meta"]), "",
             "| figure | target | " + " | ".join(DATABASE_NAMES.get(n, n) for n in names) + " |",
             "|---|---|" + "---|" * len(names)]
    for figure, measured in table.items():
        lines.append(f"| {figure} | {targets[figure]} | "
                     + " | ".join(measured.get(n, "-").replace("|", "/") for n in names) + " |")
    return "\n".join(lines) + "\n"


def ratio_table(results: dict) -> str:
    """README's short table: the headline figures as ratios against a baseline of the same run (the
    provider straight, LiteLLM's proxy, the target); docs/benchmarks.rst has every figure."""
    runs = results["runs"]
    names = [name for name in runs if isinstance(runs[name], dict)]
    cells: dict[str, dict[str, str]] = {}

    def put(figure: str, name: str, text: str) -> None:
        cells.setdefault(figure, {})[name] = text

    for name in names:
        run = runs[name]
        overhead, turns, get = run.get("chat_overhead"), run.get("concurrent_turns"), run.get("throughput")
        if overhead and not _failed_section(overhead):
            o = overhead["blocking"]
            put("chat turn: gateway ÷ provider straight, median", name,
                f"{o['gateway']['median_ms'] / o['direct']['median_ms']:.1f}x "
                f"(+{o['added']['median_ms']:.2f} ms)")
        if turns and not _failed_section(turns):
            put(f"{turns['conversations']} concurrent chats: throughput ÷ provider straight", name,
                f"{turns['fraction_of_direct']:.2f}")
        sequential = (get or {}).get("GET /assistants/{id}, sequential")
        if isinstance(sequential, dict) and sequential.get("requests_per_s"):
            put("GET /assistants/{id}, 1 client: req/s ÷ target 1,500", name,
                f"{sequential['requests_per_s'] / 1500:.2f} ({sequential['requests_per_s']:,.0f} req/s)")
        compared = run.get("litellm")
        if compared and not _failed_section(compared):
            for mode, label in (("blocking", "added latency"), ("streamed", "streamed first delta, added")):
                c = compared[mode]
                ours, theirs = c["ours_added"]["median_ms"], c["litellm_added"]["median_ms"]
                put(f"chat/completions {label}: ours ÷ LiteLLM's", name,
                    f"{ours / theirs:.2f} ({ours:.2f} vs {theirs:.2f} ms)")
            c = compared["concurrent"]
            ours, theirs = c["ours"], c["litellm"]
            if ours.get("cpu_s_per_1000_turns") and theirs.get("cpu_s_per_1000_turns"):
                put(f"{c['clients']} concurrent chats: CPU per turn, ours ÷ LiteLLM's", name,
                    f"{ours['cpu_s_per_1000_turns'] / theirs['cpu_s_per_1000_turns']:.2f}")
                put(f"{c['clients']} concurrent chats: throughput, ours ÷ LiteLLM's", name,
                    f"{ours['turns_per_s'] / theirs['turns_per_s']:.2f}")
    lines = ["| figure (ratio in the same run) | "
             + " | ".join(DATABASE_NAMES.get(n, n) for n in names) + " |",
             "|---|" + "---|" * len(names)]
    lines += [f"| {figure} | " + " | ".join(row.get(n, "-") for n in names) + " |"
              for figure, row in cells.items()]
    return "\n".join(lines) + "\n"


def _failed_section(section) -> bool:
    return not isinstance(section, dict) or "failed" in section or "pending" in section


def rst_table(results: dict) -> str:
    """docs/benchmarks.rst's list-table: the same rows as markdown(), each figure beside its target."""
    runs = results["runs"]
    table, targets = {}, {}
    for name, run in runs.items():
        for figure, target, measured in rows(run, name):
            table.setdefault(figure, {})[name] = measured
            targets[figure] = target
    lines = [f".. list-table:: {header(results['meta']).replace('`', '')}", "   :header-rows: 1",
             "   :widths: 30 15 " + " ".join(["55"] * len(runs)), ""]
    cells = [["figure", "target", *(DATABASE_NAMES.get(name, name) for name in runs)]]
    cells += [[figure, targets[figure], *(measured.get(name, "-") for name in runs)]
              for figure, measured in table.items()]
    for row in cells:
        lines.append(f"   * - {_rst(row[0])}")
        lines.extend(f"     - {_rst(cell)}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def _rst(text: str) -> str:
    """A cell in reStructuredText: Markdown's **bold** is the same there; backquotes go."""
    return re.sub(r"\*\*(.+?)\*\*", r"**\1**", text.replace("`", ""))


def publish(results: dict) -> list[str]:
    """Writes the table into README.md and docs/benchmarks.rst; returns the files changed."""
    changed = []
    readme = os.path.join(ROOT, "README.md")
    with open(readme) as f:
        text = f.read()
    section = ("## Benchmarks\n\n`make bench` measures what the gateway costs its users (bench/README.md "
               "explains each figure); `BENCH_DATABASE_URL=postgresql://...` adds PostgreSQL, "
               "`BENCH_ARGS=\"--compare litellm\"` LiteLLM's proxy beside it. " + header(results["meta"])
               + " Every figure beside its target: [docs/benchmarks.rst](docs/benchmarks.rst).\n\n"
               + ratio_table(results))
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
