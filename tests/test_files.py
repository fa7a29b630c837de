"""/v1/files through the official openai client (in process): uploads kept in the database byte for byte,
paging, purposes, the size cap (413), the tenant's storage quota (429), and tenants."""
import io

import openai
import pytest

from .helpers import auth_for, headers_for, make_key, sdk
from .retrieval_fixtures import upload


@pytest.fixture
def key(app):
    return make_key(app)


@pytest.fixture
def client(app, key):
    return sdk(app, key)


def test_upload_list_retrieve_content_delete(client):
    every_byte = bytes(range(256)) * 5000  # 1.28 MB: past ASSISTANTS_MAX_BODY_BYTES, under FILE_MAX_BYTES
    made = upload(client, "../dir/blob.bin", every_byte)
    assert (made.object, made.filename, made.bytes, made.purpose, made.status) == (
        "file", "blob.bin", len(every_byte), "assistants", "processed")
    assert made.id.startswith("file-")
    assert client.files.content(made.id).read() == every_byte  # exactly the bytes uploaded
    notes = [upload(client, f"n{i}.txt", f"note {i}", purpose="user_data") for i in range(3)]
    assert client.files.retrieve(notes[0].id).model_dump() == notes[0].model_dump()
    assert [f.filename for f in client.files.list(purpose="user_data")] == ["n2.txt", "n1.txt", "n0.txt"]
    page = client.files.list(limit=2, order="asc")
    assert [f.filename for f in page.data] == ["blob.bin", "n0.txt"] and page.has_more
    assert [f.filename for f in client.files.list(limit=2, order="asc", after=page.data[-1].id).data] == [
        "n1.txt", "n2.txt"]
    deleted = client.files.delete(made.id)
    assert (deleted.id, deleted.deleted) == (made.id, True)
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(made.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(made.id)


@pytest.mark.parametrize("purpose", ["batch", "fine-tune", "evals"])
def test_purposes_of_other_apis_are_refused(client, purpose):
    with pytest.raises(openai.BadRequestError) as refused:
        upload(client, "x.jsonl", "{}", purpose=purpose)
    assert refused.value.body == {"message": f"Invalid 'purpose': Files with purpose '{purpose}' are not "
                                             "supported here: this "
                                             "service keeps files for assistants, user_data, vision.",
                                  "type": "invalid_request_error", "param": "purpose", "code": None}
    assert client.files.list().data == []


def test_bad_uploads_get_400_in_openai_shape(app, key):
    http = app.test_client()
    missing = http.post("/v1/files", headers=headers_for(key), data={"purpose": "assistants"})
    assert missing.status_code == 400 and missing.json["error"]["param"] == "file"
    unknown = http.post("/v1/files", headers=headers_for(key),
                        data={"purpose": "nope", "file": (io.BytesIO(b"x"), "x.txt")})
    assert unknown.status_code == 400 and unknown.json["error"]["param"] == "purpose"


def test_a_file_past_file_max_bytes_is_413_and_nothing_is_kept(make_app):
    app = make_app(FILE_MAX_BYTES=1000)
    client = sdk(app, make_key(app))
    with pytest.raises(openai.APIStatusError) as refused:
        upload(client, "big.txt", "x" * 1001)
    assert refused.value.status_code == 413
    assert refused.value.body["message"] == ("The file is larger than 1000 bytes, the most this service "
                                             "keeps of one file (FILE_MAX_BYTES).")
    body = io.BytesIO(b"x" * 200_000)  # a declared body far past the cap: refused before it is read
    too_long = app.test_client().post("/v1/files", headers=auth_for(app, name="k2"),
                                      data={"purpose": "assistants", "file": (body, "big.txt")})
    assert too_long.status_code == 413 and too_long.json["error"]["message"].startswith("The file is larger")
    assert upload(client, "fits.txt", "x" * 1000).bytes == 1000
    assert [f.filename for f in client.files.list()] == ["fits.txt"]


def test_file_bytes_count_into_the_tenant_storage_quota(make_app):
    app = make_app(TENANT_MAX_STORED_BYTES=100)
    app.extensions["tenant_limits"].cache_seconds = 0
    client = sdk(app, make_key(app))
    upload(client, "a.txt", "x" * 100)
    with pytest.raises(openai.RateLimitError) as refused:
        upload(client, "b.txt", "y")
    assert "stores 100 bytes of messages and files, its quota is 100" in refused.value.message
    other = sdk(app, make_key(app, tenant="other", name="other"))
    assert upload(other, "c.txt", "z").bytes == 1  # another tenant's quota is its own
    client.files.delete(client.files.list().data[0].id)
    assert upload(client, "b.txt", "y").bytes == 1


def test_another_tenants_file_is_404_everywhere(app, client):
    mine = upload(client, "mine.txt", "secret")
    other = sdk(app, make_key(app, tenant="other", name="other"))
    for call in (lambda: other.files.retrieve(mine.id), lambda: other.files.content(mine.id),
                 lambda: other.files.delete(mine.id)):
        with pytest.raises(openai.NotFoundError):
            call()
    assert other.files.list().data == []
    assert client.files.content(mine.id).read() == b"secret"
