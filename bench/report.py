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
               + " Every figure beside its target: [docs/benchmarks.rst](docs/benchmarks.rst).\n")
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
