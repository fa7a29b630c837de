"""gunicorn settings for `make run` (and the benchmarks, which must measure the same thing).

gevent workers: a chat turn waits on the provider for seconds to minutes, and a streamed
turn holds its connection open the whole time. A sync or gthread worker would be tied up
for each of them; a gevent worker serves a thousand such turns on one process."""
import multiprocessing
import os
import subprocess
import sys

bind = os.environ.get("ASSISTANTS_BIND", "127.0.0.1:8000")
worker_class = "gevent"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count()))
worker_connections = int(os.environ.get("ASSISTANTS_WORKER_CONNECTIONS", 2000))
# Longer than any chat turn (OPENAI_TIMEOUT, 120 s by default) plus its slack.
timeout = int(float(os.environ.get("OPENAI_TIMEOUT", 120))) + 30
graceful_timeout = 30
keepalive = 5
# gunicorn 27's control socket defaults to one path per user: two services on a host collide.
control_socket_disable = True
accesslog = None  # the app logs one JSON line per request itself


def child_exit(server, worker):
    """A worker exited (kill -9, out of memory, a timeout): free the turns it held now, not when
    their locks go stale. In a process of its own (assistants_app/worker_exit.py says why); the
    master reaps it like any child."""
    subprocess.Popen([sys.executable, "-m", "assistants_app.worker_exit", str(worker.pid)],
                     cwd=os.path.dirname(os.path.abspath(__file__)), stdin=subprocess.DEVNULL)
