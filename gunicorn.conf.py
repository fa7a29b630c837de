"""gunicorn settings for `make run` (and the benchmarks, which must measure the same thing).

gevent workers: a chat turn waits on the provider for seconds to minutes, and a streamed
turn holds its connection open the whole time. A sync or gthread worker would be tied up
for each of them; a gevent worker serves a thousand such turns on one process."""
import multiprocessing
import os

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

# The app is imported once, in the master, and the workers share its pages (copy-on-write): a
# worker's own memory (PSS) is then what it adds. gevent patches the standard library first, as
# its worker would after the fork, so nothing imported here keeps an unpatched socket or lock.
from gevent import monkey  # noqa: E402

monkey.patch_all()
preload_app = True


def post_fork(server, worker):
    """Connections opened in the master (none, unless something asked the database at import)
    must never be used by two processes: each worker opens its own."""
    app = server.app.wsgi()
    with app.app_context():
        from assistants_app.extensions import db
        db.engine.dispose(close=False)
