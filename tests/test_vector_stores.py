"""/v1/vector_stores, their files, batches and search, through the official openai client (in process),
against the loopback fake provider's /v1/embeddings: documents made here (PDF, DOCX, PPTX, HTML, text)
indexed in the background, hybrid search, attribute filters, unreadable files, deletions, tenants."""
import io

import openai
import pytest
from sqlalchemy import text

from assistants_app.extensions import db
from assistants_app.services.retrieval import keyword
from tests.fake_openai import Fault

from .helpers import make_key, sdk, wait_for_runs
from .retrieval_fixtures import docx_of, pdf_of, pptx_of, store_with, upload

REFUNDS = "Refunds are paid back to the original card within 14 days of the return."
SHIPPING = "Parcels ship from the Oslo warehouse every Monday morning."
BILLING = "Invoices are sent by email at the end of each month."
GIFTS = "Gift cards never expire and can be used in every shop."


@pytest.fixture
def client(app):
    yield sdk(app, make_key(app))
    wait_for_runs(app)


def chunk_count(app, store_id: str | None = None) -> int:
    with app.app_context():
        where = "" if store_id is None else f" WHERE vector_store_id = '{store_id}'"
        count = db.session.execute(text(f"SELECT count(*) FROM vector_store_chunks{where}")).scalar()
        db.session.commit()
        return count


def test_each_kind_of_document_is_indexed_and_found(client, fake):
    store = store_with(client, ("refunds.pdf", pdf_of("Returns policy", REFUNDS)),
                       ("shipping.docx", docx_of("Delivery", SHIPPING)),
                       ("billing.pptx", pptx_of(BILLING)),
                       ("faq.html", f"<html><script>var x;</script><p>{GIFTS}</p></html>"),
                       ("notes.md", "# Opening hours\nThe shop opens at nine on weekdays."))
    found = client.vector_stores.retrieve(store.id)
    assert found.status == "completed" and found.file_counts.completed == 5 and found.file_counts.total == 5
    assert found.usage_bytes > 0
    for query, expected in (("how many days until my refund is paid", "refunds.pdf"),
                            ("which day do parcels ship", "shipping.docx"),
                            ("do gift cards expire", "faq.html"), ("when does the shop open", "notes.md")):
        results = client.vector_stores.search(store.id, query=query, max_num_results=1)
        assert [r.filename for r in results.data] == [expected]
        assert 0.5 < results.data[0].score <= 1.0  # 1.0: first in both rankings
    pdf_text = client.vector_stores.search(store.id, query="refund card", max_num_results=5)
    assert REFUNDS in pdf_text.data[0].content[0].text.replace("\n", " ")
    html = client.vector_stores.search(store.id, query="gift cards", max_num_results=1).data[0]
    assert html.content[0].text == GIFTS  # the script is not text
    slides = client.vector_stores.search(store.id, query="invoices email", max_num_results=5)
    assert BILLING in [r.content[0].text for r in slides.data if r.filename == "billing.pptx"][0]
    assert fake.requests_to("/embeddings")[0].json["model"] == "nomic-embed-text"


def test_search_options(client):
    store = client.vector_stores.create(name="attributes")
    for name, body, region in (("a.txt", REFUNDS, "eu"), ("b.txt", SHIPPING, "us"), ("c.txt", BILLING, "eu")):
        made = upload(client, name, body)
        client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=made.id,
                                                   attributes={"region": region, "year": 2026},
                                                   poll_interval_ms=20)
    everything = client.vector_stores.search(store.id, query="refunds parcels invoices")
    assert sorted(r.filename for r in everything.data) == ["a.txt", "b.txt", "c.txt"]
    assert everything.search_query == ["refunds parcels invoices"]
    eu = client.vector_stores.search(store.id, query="refunds parcels invoices",
                                     filters={"type": "eq", "key": "region", "value": "eu"})
    assert sorted(r.filename for r in eu.data) == ["a.txt", "c.txt"]
    assert eu.data[0].attributes == {"region": eu.data[0].attributes["region"], "year": 2026}
    compound = client.vector_stores.search(store.id, query="refunds parcels invoices", filters={
        "type": "and", "filters": [{"type": "eq", "key": "region", "value": "eu"},
                                   {"type": "nin", "key": "region", "value": ["us"]},
                                   {"type": "gte", "key": "year", "value": 2026}]})
    assert sorted(r.filename for r in compound.data) == ["a.txt", "c.txt"]
    assert client.vector_stores.search(store.id, query="refunds", filters={
        "type": "gt", "key": "year", "value": 2026}).data == []
    two = client.vector_stores.search(store.id, query="refunds parcels invoices", max_num_results=2)
    assert len(two.data) == 2
    strict = client.vector_stores.search(store.id, query="refund card",
                                         ranking_options={"score_threshold": 0.99})
    assert [r.filename for r in strict.data] == ["a.txt"]  # only the first of both rankings scores 1.0
    several = client.vector_stores.search(store.id, query=["refund", "Monday"], rewrite_query=True)
    assert several.search_query == ["refund", "Monday"] and len(several.data) >= 2
    with pytest.raises(openai.BadRequestError) as bad:
        client.vector_stores.search(store.id, query="x", filters={"type": "like", "key": "a", "value": 1})
    assert bad.value.body["param"] == "filters"
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.search(store.id, query="")
    updated = client.vector_stores.files.update(file_id=eu.data[0].file_id, vector_store_id=store.id,
                                                attributes={"region": "us"})
    assert updated.attributes == {"region": "us"}
    for bad_attributes, says in (({f"k{i}": i for i in range(17)}, "At most 16 attributes."),
                                 ({"region": "x" * 513}, "strings of at most 512"),
                                 ({"region": ["eu"]}, "strings of at most 512")):
        with pytest.raises(openai.BadRequestError) as refused:
            client.vector_stores.files.update(file_id=updated.id, vector_store_id=store.id,
                                              attributes=bad_attributes)
        assert refused.value.body["param"] == "attributes" and says in refused.value.body["message"]
    kept = client.vector_stores.files.retrieve(file_id=updated.id, vector_store_id=store.id)
    assert kept.attributes == {"region": "us"}  # a refused update changes nothing


def test_static_chunking_cuts_long_files_in_token_windows(app, client, fake):
    words = " ".join(f"word{i}" for i in range(3000))
    store = client.vector_stores.create(name="chunks", chunking_strategy={
        "type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 100}})
    made = upload(client, "long.txt", words)
    static = {"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 100}}
    done = client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=made.id,
                                                      poll_interval_ms=20, chunking_strategy=static)
    assert done.chunking_strategy.static.max_chunk_size_tokens == 200
    count = chunk_count(app, store.id)
    assert count > 50
    # Embedded in batches of 64, not one request per chunk.
    assert len(fake.requests_to("/embeddings")) == -(-count // 64) and fake.embedding_inputs == count
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.files.create(vector_store_id=store.id, file_id=made.id, chunking_strategy={
            "type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 150}})
    page = client.vector_stores.files.content(file_id=made.id, vector_store_id=store.id)
    assert [part.text for part in page] == [words]


def test_unreadable_files_fail_with_last_error(client):
    store = client.vector_stores.create(name="bad")
    broken_pdf = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("broken.pdf", io.BytesIO(b"%PDF-1.7 garbage")), poll_interval_ms=20)
    assert broken_pdf.status == "failed"
    assert broken_pdf.last_error.model_dump() == {
        "code": "invalid_file", "message": "The file 'broken.pdf' could not be read as .pdf: PdfStreamError."}
    binary = client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("image.bin", io.BytesIO(bytes(range(256)))), poll_interval_ms=20)
    assert binary.status == "failed" and binary.last_error.code == "unsupported_file"
    counts = client.vector_stores.retrieve(store.id).file_counts
    assert (counts.failed, counts.completed, counts.total) == (2, 0, 2)
    assert [f.status for f in client.vector_stores.files.list(vector_store_id=store.id, filter="failed")] == [
        "failed", "failed"]


def test_a_provider_failure_fails_the_file(client, fake):
    store = client.vector_stores.create(name="provider down")
    fake.add_fault(Fault("status", status=500, path="/embeddings", times=5))
    failed = client.vector_stores.files.upload_and_poll(vector_store_id=store.id,
                                                        file=("a.txt", io.BytesIO(REFUNDS.encode())),
                                                        poll_interval_ms=20)
    assert failed.status == "failed" and failed.last_error.code == "server_error"
    assert "embedding model 'nomic-embed-text'" in failed.last_error.message


def test_batches_and_cancel(app, client, fake):
    store = client.vector_stores.create(name="batches")
    made = [upload(client, f"f{i}.txt", f"{REFUNDS} {i}") for i in range(3)]
    batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, poll_interval_ms=20,
                                                              file_ids=[f.id for f in made])
    assert batch.status == "completed" and batch.file_counts.completed == 3 and batch.object == (
        "vector_store.files_batch")
    listed = client.vector_stores.file_batches.list_files(batch.id, vector_store_id=store.id)
    assert sorted(f.id for f in listed) == sorted(f.id for f in made)
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.file_batches.cancel(batch.id, vector_store_id=store.id)
    fake.add_fault(Fault("delay", seconds=1.0, path="/embeddings", times=3))
    slow = client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=[f.id for f in made])
    cancelled = client.vector_stores.file_batches.cancel(slow.id, vector_store_id=store.id)
    assert cancelled.status == "cancelled" and cancelled.file_counts.cancelled == 3
    wait_for_runs(app)
    assert client.vector_stores.retrieve(store.id).file_counts.cancelled == 3
    assert chunk_count(app, store.id) == 0  # the jobs that ran wrote nothing


def test_deleting_files_and_stores_removes_their_chunks(app, client):
    made = upload(client, "shared.txt", REFUNDS)
    first, second = client.vector_stores.create(name="one"), client.vector_stores.create(name="two")
    for store in (first, second):
        client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=made.id,
                                                   poll_interval_ms=20)
    other = store_with(client, ("other.txt", SHIPPING))
    assert chunk_count(app, first.id) == chunk_count(app, second.id) == 1
    assert client.vector_stores.search(first.id, query="refunds").data[0].file_id == made.id
    client.files.delete(made.id)  # from every store
    assert chunk_count(app, first.id) == chunk_count(app, second.id) == 0
    assert client.vector_stores.search(first.id, query="refunds").data == []  # the cached vectors went too
    assert client.vector_stores.files.list(vector_store_id=first.id).data == []
    kept = upload(client, "kept.txt", BILLING)
    client.vector_stores.files.create_and_poll(vector_store_id=first.id, file_id=kept.id, poll_interval_ms=20)
    removed = client.vector_stores.files.delete(file_id=kept.id, vector_store_id=first.id)
    assert (removed.id, removed.deleted) == (kept.id, True) and chunk_count(app, first.id) == 0
    assert client.files.retrieve(kept.id).id == kept.id  # the file itself stays
    gone = client.vector_stores.delete(other.id)
    assert (gone.id, gone.object, gone.deleted) == (other.id, "vector_store.deleted", True)
    assert chunk_count(app) == 0
    with app.app_context():  # nothing left in the keyword index either
        table = "vector_store_chunks_fts" if db.engine.dialect.name == "sqlite" else "vector_store_chunks"
        assert db.session.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0
        db.session.commit()


def test_store_crud_and_paging(client):
    week = {"anchor": "last_active_at", "days": 7}
    made = [client.vector_stores.create(name=f"s{i}", metadata={"i": str(i)}, expires_after=week)
            for i in range(3)]
    assert made[0].expires_at - made[0].last_active_at == 7 * 86400 and made[0].status == "completed"
    page = client.vector_stores.list(limit=2)
    assert [s.name for s in page.data] == ["s2", "s1"] and page.has_more
    assert [s.name for s in client.vector_stores.list(after=page.data[-1].id)] == ["s0"]
    renamed = client.vector_stores.update(made[0].id, name="renamed", metadata={"k": "v"}, expires_after=None)
    assert (renamed.name, renamed.metadata, renamed.expires_at) == ("renamed", {"k": "v"}, None)
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.create(expires_after={"anchor": "created_at", "days": 1})


def test_another_tenants_stores_and_files_are_404(app, client):
    store = store_with(client, ("mine.txt", REFUNDS))
    mine = client.vector_stores.files.list(vector_store_id=store.id).data[0]
    other = sdk(app, make_key(app, tenant="other", name="other"))
    calls = (lambda: other.vector_stores.retrieve(store.id),
             lambda: other.vector_stores.search(store.id, query="refunds"),
             lambda: other.vector_stores.files.list(vector_store_id=store.id),
             lambda: other.vector_stores.delete(store.id))
    for call in calls:
        with pytest.raises(openai.NotFoundError):
            call()
    own = other.vector_stores.create(name="theirs")
    with pytest.raises(openai.NotFoundError) as refused:  # my file into their store
        other.vector_stores.files.create(vector_store_id=own.id, file_id=mine.id)
    assert refused.value.body["message"] == f"No file found with id '{mine.id}'."
    with pytest.raises(openai.NotFoundError):
        other.vector_stores.file_batches.create(vector_store_id=own.id, file_ids=[mine.id])
    with pytest.raises(openai.NotFoundError):
        other.beta.assistants.create(model="gpt-4",
                                     tool_resources={"file_search": {"vector_store_ids": [store.id]}})
    with pytest.raises(openai.NotFoundError):
        other.beta.threads.create(tool_resources={"file_search": {"vector_store_ids": [store.id]}})
    assert other.vector_stores.list().data[0].id == own.id and len(other.vector_stores.list().data) == 1
    assert client.vector_stores.search(store.id, query="refunds").data[0].filename == "mine.txt"


def test_a_store_is_searched_whole_however_many_matches_other_stores_hold(app, client):
    """SQLite ranks the best keyword matches of every store first: a store with few of them among those
    still finds its own (keyword.py's exact query then ranks all of its matches)."""
    crowded = client.vector_stores.create(name="crowded", chunking_strategy={
        "type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}})
    busy = upload(client, "busy.txt", " ".join(["zebra stripes zebra herd zebra"] * 25000))
    done = client.vector_stores.files.create_and_poll(vector_store_id=crowded.id, file_id=busy.id,
                                                      poll_interval_ms=20)
    assert done.status == "completed"
    quiet = store_with(client, ("quiet.txt", "A note about many things, once a zebra, " + "then more. " * 50))
    assert chunk_count(app, crowded.id) > 8 * 50  # more matches than the first query reads
    with app.app_context():
        own = db.session.execute(text("SELECT id FROM vector_store_chunks WHERE vector_store_id = :id"),
                                 {"id": quiet.id})
        assert keyword.ranked(quiet.id, "zebra", 50) == [row.id for row in own]
        db.session.commit()
