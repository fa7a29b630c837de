"""gunicorn settings for `make run` (and the benchmarks, which must measure the same thing).

gevent workers: a chat turn waits on the provider for seconds to minutes, and a streamed
turn holds its connection open the whole time. A sync or gthread worker would be tied up
for each of them; a gevent worker serves a thousand such turns on one process."""
import multiprocessing
import os
import sys

bind = os.environ.get("ASSISTANTS_BIND", "127.0.0.1:8000")
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_connections = int(os.environ.get("ASSISTANTS_WORKER_CONNECTIONS", 2000))
# Longer than any chat turn (OPENAI_TIMEOUT, 120 s by default) plus its slack.
timeout = int(float(os.environ.get("OPENAI_TIMEOUT", 120))) + 30
graceful_timeout = 30
keepalive = 5
# A request's head. The app answers a URL over 4096 bytes with 414 and a header field over 8190 bytes
# with 431, in its APIs' JSON (assistants_app/request_limits.py); gunicorn's limits lie above those so
# that such a request reaches it. Past these, gunicorn answers itself, in HTML. 8190 bytes is the
# longest request line gunicorn takes; 50 fields of 16 KiB cost at most the memory of its default 100
# of 8 KiB while a head is read.
limit_request_line = 8190
limit_request_field_size = 16384
limit_request_fields = 50
# gunicorn 27's control socket defaults to one path per user: two services on a host collide.
control_socket_disable = True
accesslog = None  # the app logs one JSON line per request itself

# Prometheus multiprocess mode (assistants_app/metrics.py): every worker writes its metrics to files
# in one directory, which GET /metrics sums. Set when this file is read, before the app is preloaded
# (prometheus_client reads it at import); emptied then and removed at exit when made here (of an
# operator's own PROMETHEUS_MULTIPROC_DIR, only the *.db files go).
_made_metrics_directory = None


def _prepare_metrics_directory():
    global _made_metrics_directory
    import glob
    import tempfile

    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:  # the operator's: only last run's metric files go
        os.makedirs(directory, mode=0o700, exist_ok=True)
        for path in glob.glob(os.path.join(directory, "*.db")):
            os.remove(path)
    else:
        directory = _made_metrics_directory = tempfile.mkdtemp(prefix="assistants-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory


_prepare_metrics_directory()


def _remove_metrics_directory():
    import shutil

    if _made_metrics_directory:
        shutil.rmtree(_made_metrics_directory, ignore_errors=True)


def _metrics_child_exit(worker):
    """A dead worker's live gauges (open streams) stop counting; its counters stay."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, os.environ["PROMETHEUS_MULTIPROC_DIR"])


def child_exit(server, worker):
    """A worker exited (kill -9, out of memory, a timeout): its metrics' live gauges stop counting,
    and the turns it held are freed now, not when their locks go stale. That runs in a process of its
    own (assistants_app/worker_exit.py says why); the master reaps it like any child."""
    _metrics_child_exit(worker)
    _spawn_worker_exit(worker.pid)


def _spawn_worker_exit(pid):
    # posix_spawn, not subprocess: the master is gevent-patched (preload_app, below), and gevent's
    # Popen would watch its child through SIGCHLD, which is gunicorn's. gunicorn's reaping waits for it.
    here = os.path.dirname(os.path.abspath(__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (here, os.environ.get("PYTHONPATH"))))}
    os.posix_spawn(sys.executable, [sys.executable, "-m", "assistants_app.worker_exit", str(pid)], env,
                   file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)])


def on_exit(server):
    _remove_metrics_directory()


# The app is imported once, in the master, and the workers share its pages (copy-on-write): a
# worker's own memory (PSS) is then what it adds. gevent patches the standard library first, as its
# worker would after the fork, so nothing imported here keeps an unpatched socket or lock. (Patching
# less in the master -- not os, signal, subprocess -- was measured: each worker then held 129 MB of
# its own instead of 55.)
from gevent import monkey  # noqa: E402

monkey.patch_all()
preload_app = True


def pre_fork(server, worker):
    """The Timer threads the preloaded app started end here, cancelled, before the fork: in this
    patched master each is a greenlet, which the fork would copy into the worker, where it would fail
    at its end (KeyError in threading._delete, gevent having reset the worker's threads): a traceback
    per Timer per worker at boot. flask-limiter's in-memory storages start one each as they are made
    (RATELIMIT_DEFAULT set), to expire counts; limits starts another in the worker at its first count.
    (auth_failures.py makes its storages in the worker, when first needed.)

    Then the master's objects (the preloaded app: some 190,000) leave the cyclic collector's care for
    good (gc.freeze, as Python's gc docs advise for pre-forking servers): a worker's full collections no
    longer walk them nor write to their shared pages, and a process that exits no longer spends seconds
    of CPU collecting them (a stop took 8 s, now 2)."""
    import gc
    import threading

    for thread in threading.enumerate():
        if isinstance(thread, threading.Timer):
            thread.cancel()
            thread.join()
    gc.freeze()


def post_fork(server, worker):
    """Connections opened in the master (none, unless something asked the database at import)
    must never be used by two processes: each worker opens its own."""
    app = server.app.wsgi()
    with app.app_context():
        from assistants_app.extensions import db
        db.engine.dispose(close=False)
