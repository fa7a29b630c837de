"""A dead worker's turns end at once: each turn lock names its worker (assistants_app/workers.py), and
gunicorn's master frees a dead worker's locks (child_exit in gunicorn.conf.py). kill -9 every worker
of the real service (tests/live_server.py) while a turn waits on the provider: the thread takes a
new turn as soon as the service answers again, and the killed turn wrote nothing."""
import os
import signal
import threading
import time

import pytest
from sqlalchemy import select, update

from assistants_app.extensions import db
from assistants_app.models import Assistant, Message, Run, Thread
from assistants_app.workers import HOST_TAG, after_worker_death, new_turn_token, worker_id

from .fake_openai import Fault
from .helpers import app_on, make_assistant, make_thread

# The target: a thread whose worker was killed takes a new turn within this many seconds.
FREED_WITHIN = 10.0
# Until the service answers again once every worker was killed: tests/test_crash_safety.py measures that part.
BACK_WITHIN = 15
# The provider holds the killed turn far longer than the test lasts.
HELD_FOR = 120


def lock_of(server, thread_id: str) -> str | None:
    with app_on(server.env["DATABASE_URL"]) as app, app.app_context():
        return db.session.scalar(select(Thread.turn_token).where(Thread.id == thread_id))


def contents(server, thread_id: str) -> list[str]:
    with app_on(server.env["DATABASE_URL"]) as app, app.app_context():
        query = select(Message.content).where(Message.thread_id == thread_id).order_by(Message.position)
        return list(db.session.scalars(query))


def wait_for(condition, timeout: float, what: str, server) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not {what} after {timeout} s\n{server.log_tail()}")


@pytest.mark.slow  # a real gunicorn; in the default run too
@pytest.mark.parametrize("streamed", [False, True], ids=["blocking", "streamed"])
def test_killing_every_worker_mid_turn_frees_its_thread_at_once(shared_live_server, fake, streamed):
    server = shared_live_server
    agent_id = server.request("POST", "/assistants", {"details": {"model": "gpt-4"}}).body["id"]
    thread_id = server.request("POST", "/openai/initialize", {"agent_id": agent_id}).body["thread_id"]
    # The provider holds the turn: a blocking one gets no answer, a streamed one its first piece only.
    fake.add_fault(Fault("stall", seconds=HELD_FOR, after_chunks=1, path="/chat/completions") if streamed
                   else Fault("delay", seconds=HELD_FOR, path="/chat/completions"))
    turn = {"agent_id": agent_id, "thread_id": thread_id, "user_input": "killed", "stream": streamed}
    killed_turn = threading.Thread(target=server.request, args=("POST", "/openai/chat", turn),
                                   kwargs={"timeout": HELD_FOR}, daemon=True)
    killed_turn.start()
    wait_for(lambda: fake.requests_to("/chat/completions"), 30, "at the provider", server)
    token = lock_of(server, thread_id)
    victims = server.worker_pids()
    assert token and token.split("/")[0] in [worker_id(pid) for pid in victims], (token, victims)

    killed = time.monotonic()
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    freed = wait_for(lambda: lock_of(server, thread_id) is None, FREED_WITHIN, "freed", server)
    server.wait_for_workers(exclude=victims)
    after = {**turn, "user_input": "after the kill", "stream": False}
    reply = server.request("POST", "/openai/chat", after)
    while reply.status == 0 and time.monotonic() - killed < BACK_WITHIN:  # the new workers still booting
        reply = server.request("POST", "/openai/chat", after)
    new_turn = time.monotonic() - killed
    print(f"\n{'streamed' if streamed else 'blocking'} turn, every worker killed: lock freed after "
          f"{freed:.2f} s, a new turn answered after {new_turn:.2f} s")
    assert reply.status == 200 and reply.body["response"] == "Echo: after the kill", reply
    # The killed turn wrote nothing: the thread holds the new turn alone.
    assert contents(server, thread_id) == ["after the kill", "Echo: after the kill"]
    killed_turn.join(HELD_FOR)


def lock(thread_id: str, token: str) -> None:
    db.session.execute(update(Thread).where(Thread.id == thread_id).values(turn_token=token))
    db.session.commit()


def test_a_dead_workers_locks_are_freed_and_no_one_elses(app, client, auth, fake):
    agent_id = make_assistant(client, auth)["id"]
    threads = [make_thread(client, auth, agent_id) for _ in range(5)]
    dead, alive = worker_id(4242), worker_id(42)
    tokens = {threads[0]: f"{dead}/{'a' * 24}", threads[1]: f"{dead}/{'b' * 24}",
              threads[2]: f"{alive}/{'c' * 24}",  # a live worker of this host whose pid begins the same
              threads[3]: f"0123456789.4242/{'d' * 24}",  # the same pid on another host
              threads[4]: "%" * 10 + ".4242/" + "e" * 24}  # LIKE's wildcards match nothing but themselves
    with app.app_context():
        for thread_id, token in tokens.items():
            lock(thread_id, token)
        assert after_worker_death(dead) == {"runs_failed": 0, "responses_failed": 0, "turns_freed": 2}
        left = dict(db.session.execute(select(Thread.id, Thread.turn_token)
                                       .where(Thread.id.in_(threads))).all())
    assert left == {**tokens, threads[0]: None, threads[1]: None}
    # A freed thread takes a turn at once.
    reply = client.post("/openai/chat",
                        json={"agent_id": agent_id, "thread_id": threads[0], "user_input": "hi"},
                        headers=auth)
    assert reply.status_code == 200, reply.json


def test_a_turn_lock_names_this_worker(app):
    token = new_turn_token()
    assert token.startswith(f"{HOST_TAG}.{os.getpid()}/") and len(token) <= 64
    assert new_turn_token() != token


def test_worker_exit_frees_the_locks_of_the_pid_it_is_given(app, client, auth, capfd, monkeypatch):
    from assistants_app import worker_exit

    agent_id = make_assistant(client, auth)["id"]
    thread_id = make_thread(client, auth, agent_id)
    with app.app_context():
        lock(thread_id, f"{worker_id(31337)}/{'f' * 24}")
    for name in ("DATABASE_URL", "ASSISTANTS_SECRET_KEYS"):  # what the master's environment holds
        monkeypatch.setenv(name, app.config[name])
    assert worker_exit.main(["nonsense"]) == 2
    assert worker_exit.main(["31337"]) == 0
    with app.app_context():
        assert db.session.get(Thread, thread_id).turn_token is None
    assert '"turns_freed": 1' in capfd.readouterr().err


def test_a_dead_workers_assistants_v2_run_ends_failed_and_frees_its_thread(app, key_for_v2):
    """The run a worker was carrying out when it died: failed with a last_error saying so, at once."""
    from .helpers import sdk

    beta = sdk(app, key_for_v2).beta
    assistant = beta.assistants.create(model="gpt-4")
    thread = beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    dead = worker_id(31338)
    with app.app_context():  # a run in progress in a worker that then died: its token names that worker
        token = f"{dead}/{'e' * 24}"
        lock(thread.id, token)
        row_id = db.session.scalar(select(Assistant.id).where(Assistant.details_id == assistant.id))
        run = Run(tenant="default", thread_id=thread.id, assistant_id=row_id,
                  assistant_public_id=assistant.id, status="in_progress", turn_token=token, model="gpt-4",
                  tools=[], options={})
        db.session.add(run)
        db.session.commit()
        run_id = run.id
        assert after_worker_death(dead) == {"runs_failed": 1, "responses_failed": 0, "turns_freed": 1}
    failed = beta.threads.runs.retrieve(run_id, thread_id=thread.id)
    assert (failed.status, failed.last_error.code) == ("failed", "server_error")
    assert "worker running this run stopped" in failed.last_error.message and failed.failed_at
    assert beta.threads.runs.create_and_poll(thread_id=thread.id,
                                             assistant_id=assistant.id).status == "completed"


@pytest.fixture
def key_for_v2(app):
    from .helpers import make_key, wait_for_runs

    yield make_key(app)
    wait_for_runs(app)


def test_a_dead_workers_background_response_ends_failed(app, key_for_v2):
    """A background response a worker was carrying out when it died: failed at once, and so read."""
    from assistants_app.responses_models import Response

    from .helpers import sdk

    client = sdk(app, key_for_v2)
    dead = worker_id(31339)
    with app.app_context():
        row = Response(tenant="default", status="in_progress", model="gpt-4", background=True,
                       request={"instructions": None}, input_items=[], output=[],
                       turn_token=f"{dead}/{'f' * 24}")
        db.session.add(row)
        db.session.commit()
        response_id = row.id
        assert after_worker_death(dead) == {"runs_failed": 0, "responses_failed": 1, "turns_freed": 0}
    failed = client.responses.retrieve(response_id)
    assert failed.status == "failed" and "worker running this response stopped" in failed.error.message
