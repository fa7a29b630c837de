"""One bound for a tenant's background work (services/active_work.py): v2 runs and vector store indexing
jobs count together against TENANT_MAX_ACTIVE_RUNS, across workers (the database holds the count)."""
import threading
import time

from assistants_app.services import background
from tests.fake_openai import Fault

from .helpers import make_key, sdk, wait_for_runs
from .retrieval_fixtures import upload


def test_a_run_waits_while_an_indexing_job_holds_the_tenants_only_slot(make_app, fake):
    app = make_app(TENANT_MAX_ACTIVE_RUNS=1)
    client = sdk(app, make_key(app))
    other = sdk(app, make_key(app, tenant="other", name="other"))
    store = client.vector_stores.create(name="slow")
    fake.add_fault(Fault("delay", seconds=2.0, path="/embeddings"))
    made = upload(client, "a.txt", "Refunds take 14 days.")
    client.vector_stores.files.create(vector_store_id=store.id, file_id=made.id)
    time.sleep(0.3)  # the job took the slot and waits on the provider
    assistant = client.beta.assistants.create(model="gpt-4")
    run = client.beta.threads.create_and_run(assistant_id=assistant.id, thread={
        "messages": [{"role": "user", "content": "hi"}]})
    theirs = other.beta.threads.create_and_run(assistant_id=other.beta.assistants.create(model="gpt-4").id,
                                               thread={"messages": [{"role": "user", "content": "hi"}]})
    time.sleep(0.5)
    indexing = client.vector_stores.files.retrieve(file_id=made.id, vector_store_id=store.id)
    waiting = client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id)
    assert (indexing.status, waiting.status) == ("in_progress", "queued")
    assert other.beta.threads.runs.retrieve(theirs.id, thread_id=theirs.thread_id).status == "completed"
    wait_for_runs(app)
    indexed = client.vector_stores.files.retrieve(file_id=made.id, vector_store_id=store.id)
    assert indexed.status == "completed"
    assert client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).status == "completed"


def test_a_background_response_and_a_run_share_the_tenants_slots(make_app, fake):
    """A background response holds a slot as a run does: with one slot, the run waits queued behind it and
    starts when it ends; the other tenant is not held up."""
    app = make_app(TENANT_MAX_ACTIVE_RUNS=1)
    client = sdk(app, make_key(app))
    other = sdk(app, make_key(app, tenant="other", name="other"))
    fake.add_fault(Fault("delay", seconds=1.5))  # the first provider call, the response's
    response = client.responses.create(model="gpt-4", input="slow", background=True)
    time.sleep(0.3)
    assistant = client.beta.assistants.create(model="gpt-4")
    run = client.beta.threads.create_and_run(assistant_id=assistant.id, thread={
        "messages": [{"role": "user", "content": "hi"}]})
    theirs = other.responses.create(model="gpt-4", input="mine", background=True)
    time.sleep(0.5)
    assert client.responses.retrieve(response.id).status == "in_progress"
    assert client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).status == "queued"
    assert other.responses.retrieve(theirs.id).status == "completed"
    wait_for_runs(app)
    assert client.responses.retrieve(response.id).status == "completed"
    assert client.beta.threads.runs.retrieve(run.id, thread_id=run.thread_id).status == "completed"


class OneSlot:
    """The slot protocol background.wait_for_slot() asks (services/v2/run_slots.RunSlot's methods), over
    one slot of tenant "t": who took it, in order."""

    tenant = "t"

    def __init__(self, name: str, taken: list, lock: threading.Lock):
        self.name, self.taken, self.lock = name, taken, lock

    def take(self) -> bool:
        with self.lock:
            if self.taken and self.taken[-1][1] is None:  # held
                return False
            self.taken.append((self.name, None))
            return True

    def release(self) -> None:
        with self.lock:
            self.taken[-1] = (self.name, "done")

    def waiting(self) -> bool:
        return True

    def renew(self) -> None:
        pass


def test_pieces_of_a_tenant_take_its_slot_in_the_order_they_were_spawned(app):
    """Two runs created one after the other, one slot: the first created starts first, even when its
    thread is the slower to get going (it was once the other way round now and then: a later run
    overtook, and the first found the day's budget spent by it)."""
    taken, lock = [], threading.Lock()

    def work(name: str, late: float) -> None:
        time.sleep(late)
        slot = OneSlot(name, taken, lock)
        if background.wait_for_slot(slot):
            time.sleep(0.05)
            slot.release()

    with app.test_request_context():
        background.spawn(lambda: work("first", 0.3), "t", "first")
        background.spawn(lambda: work("second", 0.0), "t", "second")
        background.spawn(lambda: work("third", 0.1), "t", "third")
    background.wait_all(app)
    assert [name for name, _ in taken] == ["first", "second", "third"]
