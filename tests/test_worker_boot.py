"""gunicorn's gevent workers boot without a traceback. The master is gevent-patched and preloads the
app, so a thread the app starts there is a greenlet that the fork copies into every worker, where it
fails at its end (KeyError in threading._delete). limits' in-memory storages start a Timer thread as
they are made: the app makes its own in the worker (auth_failures.py), and gunicorn.conf.py's pre_fork
ends flask-limiter's in the master."""
import threading
import time


def test_workers_boot_without_a_traceback(live_server):
    server = live_server(RATELIMIT_DEFAULT="1000 per second")  # flask-limiter's storages too
    pids = server.wait_for_workers()
    for connection in server.connections_by_worker().values():  # each worker's loop has run
        assert server.request("GET", "/health", connection=connection).status == 200
        connection.close()
    time.sleep(0.2)  # a copied Timer fails 10 ms after its worker's loop first runs
    log = server.log_path.read_text()
    assert all(f"Booting worker with pid: {pid}" in log for pid in pids)
    assert "Traceback" not in log and "KeyError" not in log, log[-3000:]
    wrong_key = server.request("GET", "/assistants", headers={"Authorization": "Bearer sk-asst-wrong"})
    assert wrong_key.status == 401  # the wrong-key counters, made at the first wrong key, count it


def test_making_the_app_starts_no_thread(make_app):
    """Nor in `flask` commands or tests: the wrong-key counters are made when first needed."""
    before = set(threading.enumerate())
    app = make_app()
    assert set(threading.enumerate()) == before
    response = app.test_client().get("/assistants", headers={"Authorization": "Bearer sk-asst-wrong"})
    assert response.status_code == 401
