"""What a vector store makes of the documents given to it, past the common case: text in each encoding a
file may come in, a PDF under a name without an extension, a Word table, slides with shapes that hold no
text, a file of whitespace; a file's content as indexed (400 when it cannot be read); a job whose worker
died; file lists paged; the embedding model a store uses (the service's setting, a credential's) and a
store whose credential was deleted."""
import io
from datetime import timedelta

import docx
import pptx
import pytest
from pptx.util import Inches
from sqlalchemy import update

from assistants_app.extensions import db
from assistants_app.models import utcnow
from assistants_app.retrieval_models import VectorStoreFile

from .helpers import make_credential, sdk, wait_for_runs
from .retrieval_fixtures import pdf_of, upload

V1 = "/v1/vector_stores"


@pytest.fixture
def openai_client(app, api_key):
    yield sdk(app, api_key)
    wait_for_runs(app)


def indexed(openai_client, store_id: str, name: str, content: bytes):
    return openai_client.vector_stores.files.upload_and_poll(vector_store_id=store_id, poll_interval_ms=20,
                                                             file=(name, io.BytesIO(content)))


def content_of(client, auth, store_id: str, file_id: str):
    return client.get(f"{V1}/{store_id}/files/{file_id}/content", headers=auth)


def word_file_with_a_table() -> bytes:
    document = docx.Document()
    document.add_paragraph("Opening hours")
    table = document.add_table(rows=2, cols=2)
    for row, cells in zip(table.rows, (("Monday", "9-17"), ("Sunday", "closed"))):
        for cell, value in zip(row.cells, cells):
            cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def slides_with_a_line() -> bytes:
    presentation = pptx.Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[5])  # title only
    slide.shapes.title.text = "Quarterly numbers"
    slide.shapes.add_connector(1, Inches(1), Inches(1), Inches(4), Inches(4))  # a shape without text
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def test_text_is_read_in_each_encoding_and_a_pdf_by_its_bytes(openai_client, client, auth):
    store = openai_client.vector_stores.create(name="encodings")
    texts = {"utf8-bom.txt": b"\xef\xbb\xbfCaf\xc3\xa9 opens at nine.",
             "utf16.txt": "Café opens at ten.".encode("utf-16"),  # with its byte order mark
             "report": pdf_of("Café revenue grew by a third.")}  # no extension: a PDF by its first bytes
    expected = {"utf8-bom.txt": "Café opens at nine.", "utf16.txt": "Café opens at ten.",
                "report": "Café revenue grew by a third."}
    for name, content in texts.items():
        done = indexed(openai_client, store.id, name, content)
        assert done.status == "completed", done.last_error
        page = content_of(client, auth, store.id, done.id).json
        assert page["object"] == "vector_store.file_content.page" and page["has_more"] is False
        assert page["data"][0]["text"].strip() == expected[name]
    found = openai_client.vector_stores.search(store.id, query="Café revenue")
    assert found.data[0].filename == "report"


def test_word_tables_and_slides_without_text_shapes(openai_client, client, auth):
    store = openai_client.vector_stores.create(name="office")
    word = indexed(openai_client, store.id, "hours.docx", word_file_with_a_table())
    slides = indexed(openai_client, store.id, "numbers.pptx", slides_with_a_line())
    assert (word.status, slides.status) == ("completed", "completed")
    assert content_of(client, auth, store.id, word.id).json["data"][0]["text"] == (
        "Opening hours\nMonday\t9-17\nSunday\tclosed")
    assert content_of(client, auth, store.id, slides.id).json["data"][0]["text"] == "Quarterly numbers"


def test_a_file_of_whitespace_is_indexed_with_nothing_to_find(openai_client, fake):
    store = openai_client.vector_stores.create(name="blank")
    done = indexed(openai_client, store.id, "blank.txt", b" \n\t \n")
    assert done.status == "completed" and done.usage_bytes == 0
    assert fake.requests_to("/embeddings") == []  # nothing was sent to embed
    assert openai_client.vector_stores.search(store.id, query="anything").data == []


def test_the_content_of_an_unreadable_file_is_a_400(openai_client, client, auth):
    store = openai_client.vector_stores.create(name="bad")
    failed = indexed(openai_client, store.id, "image.bin", bytes(range(256)))
    assert failed.status == "failed"
    answer = content_of(client, auth, store.id, failed.id)
    assert answer.status_code == 400
    assert answer.json["error"]["message"].startswith("The file is not text (UTF-8 or UTF-16)")


def test_an_indexing_job_whose_worker_died_is_failed_when_read(app, openai_client):
    store = openai_client.vector_stores.create(name="orphan")
    done = indexed(openai_client, store.id, "a.txt", b"Refunds take 14 days.")
    with app.app_context():  # as a worker that died mid-job leaves it: in progress, its claim lapsed
        db.session.execute(update(VectorStoreFile).where(VectorStoreFile.file_id == done.id).values(
            status="in_progress", expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    read = openai_client.vector_stores.files.retrieve(done.id, vector_store_id=store.id)
    assert read.status == "failed" and read.last_error.code == "server_error"
    assert "stopped before it finished; attach the file again" in read.last_error.message
    listed = openai_client.vector_stores.files.list(vector_store_id=store.id)
    assert [f.status for f in listed.data] == ["failed"]


def test_file_lists_page_with_a_cursor_and_a_batch_needs_files(openai_client, client, auth):
    store = openai_client.vector_stores.create(name="paged")
    made = [indexed(openai_client, store.id, f"{n}.txt", f"Document number {n}.".encode()) for n in range(3)]
    first = client.get(f"{V1}/{store.id}/files", headers=auth, query_string={"limit": 2, "order": "asc"}).json
    assert [f["id"] for f in first["data"]] == [made[0].id, made[1].id] and first["has_more"] is True
    rest = client.get(f"{V1}/{store.id}/files", headers=auth, query_string={
        "limit": 2, "order": "asc", "after": first["last_id"]}).json
    assert [f["id"] for f in rest["data"]] == [made[2].id] and rest["has_more"] is False
    unknown = client.get(f"{V1}/{store.id}/files", headers=auth, query_string={"after": "not an id!"})
    assert unknown.status_code == 400 and "not an id!" in unknown.json["error"]["message"]
    empty = client.post(f"{V1}/{store.id}/file_batches", headers=auth, json={"file_ids": []})
    assert empty.status_code == 400 and "file_ids" in empty.json["error"]["message"]
    neither = client.post(f"{V1}/{store.id}/file_batches", headers=auth, json={})
    assert neither.status_code == 400 and neither.json["error"]["param"] == "file_ids"


def test_the_services_embedding_model_setting_names_a_stores_model(make_app, fake):
    app = make_app(EMBEDDING_MODEL="my-embedder", EMBEDDING_DIMENSIONS=64)
    from .helpers import make_key
    openai_client = sdk(app, make_key(app))
    store = openai_client.vector_stores.create(name="configured")
    assert indexed(openai_client, store.id, "a.txt", b"Refunds take 14 days.").status == "completed"
    wait_for_runs(app)
    sent = fake.requests_to("/embeddings")[-1].json
    assert (sent["model"], sent["dimensions"]) == ("my-embedder", 64)


def test_a_credentials_embedding_model_and_a_store_whose_credential_is_gone(openai_client, client, auth,
                                                                            fake):
    credential = make_credential(client, auth, base_url=fake.base_url, embedding_model="their-embedder",
                                 embedding_dimensions=32)
    made = client.post(V1, headers=auth, json={"name": "theirs", "credential": credential["id"]})
    assert made.status_code == 200, made.json
    store_id = made.json["id"]
    assert indexed(openai_client, store_id, "a.txt", b"Refunds take 14 days.").status == "completed"
    sent = fake.requests_to("/embeddings")[-1].json
    assert (sent["model"], sent["dimensions"]) == ("their-embedder", 32)
    assert client.delete(f"/credentials/{credential['id']}", headers=auth).status_code in (200, 204)
    orphaned = indexed(openai_client, store_id, "b.txt", b"Parcels ship on Mondays.")
    assert orphaned.status == "failed" and orphaned.last_error.code == "server_error"
    assert f"The credential of vector store {store_id} was deleted" in orphaned.last_error.message
    file = upload(openai_client, "c.txt", "more")
    assert file.id.startswith("file-")
