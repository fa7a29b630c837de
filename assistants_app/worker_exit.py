"""``python -m assistants_app.worker_exit <pid>``: gunicorn's master runs this (child_exit in
gunicorn.conf.py) when one of its workers has exited, to undo what that worker still held
(workers.py). A process of its own: a slow database cannot hold up the master while it
replaces the worker, and the master's database pool (preload_app) stays unused, so no forked
worker inherits a connection."""
import logging
import sys

from . import configured_app
from .database import db, init_engine
from .logs import RequestLog
from .workers import after_worker_death, worker_id

log = logging.getLogger("assistants_app.workers")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit():
        print("usage: python -m assistants_app.worker_exit <pid of the worker that exited>", file=sys.stderr)
        return 2
    worker = worker_id(int(argv[0]))
    app = configured_app()  # the database alone: importing the whole app would take seconds more
    db.init_app(app)
    init_engine(app)  # SQLite's pragmas: the failed runs' writes wait for the other workers' like theirs
    RequestLog().init_app(app)  # the service's JSON lines on stderr: into gunicorn's log
    with app.app_context():
        counts = after_worker_death(worker)
    log.info("worker exit", extra={"fields": {"event": "worker_exit", "worker": worker, **counts}})
    return 0


if __name__ == "__main__":  # pragma: no cover - the module is run as a program
    sys.exit(main(sys.argv[1:]))
