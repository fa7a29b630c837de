"""PROXY_FIX_HOPS: behind that many reverse proxies the client's address, scheme and host are the
forwarded ones (and the limits count by that address); without it the X-Forwarded-* headers, a
client's to forge, change nothing."""
from flask import jsonify, request

from .helpers import auth_for, headers_for

WRONG = headers_for("sk-asst-not-a-key-of-this-service")


def client_seen_by(make_app, **config):
    """A test client of an app with one more route, answering what the app sees of its client."""
    app = make_app(**config)
    app.add_url_rule("/test-client-seen", "client_seen", lambda: jsonify(
        address=request.remote_addr, scheme=request.scheme, host=request.host, url=request.url))
    return app.test_client(), auth_for(app)


def seen(client, auth, remote_addr: str, forwarded: dict) -> dict:
    return client.get("/test-client-seen", headers={**auth, **forwarded},
                      environ_overrides={"REMOTE_ADDR": remote_addr}).json


ONE_HOP = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https",
           "X-Forwarded-Host": "assistants.example.com", "X-Forwarded-Port": "443"}


def test_without_proxy_fix_forwarded_headers_change_nothing(make_app):
    client, auth = client_seen_by(make_app)
    assert seen(client, auth, "198.51.100.1", ONE_HOP) == {
        "address": "198.51.100.1", "scheme": "http", "host": "localhost",
        "url": "http://localhost/test-client-seen"}


def test_one_hop(make_app):
    client, auth = client_seen_by(make_app, PROXY_FIX_HOPS=1)
    assert seen(client, auth, "10.0.0.2", ONE_HOP) == {
        "address": "203.0.113.7", "scheme": "https", "host": "assistants.example.com",
        "url": "https://assistants.example.com/test-client-seen"}
    # A client's own X-Forwarded-For comes first in the list; the proxy appended the real address.
    forged = {**ONE_HOP, "X-Forwarded-For": "1.1.1.1, 203.0.113.7"}
    assert seen(client, auth, "10.0.0.2", forged)["address"] == "203.0.113.7"


def test_two_hops(make_app):
    client, auth = client_seen_by(make_app, PROXY_FIX_HOPS=2)
    # A CDN then nginx: each appends what it saw; the app trusts the last two entries.
    two = {"X-Forwarded-For": "1.1.1.1, 203.0.113.7, 192.0.2.10", "X-Forwarded-Proto": "https, http",
           "X-Forwarded-Host": "assistants.example.com, internal-lb", "X-Forwarded-Port": "443, 80"}
    assert seen(client, auth, "10.0.0.2", two) == {
        "address": "203.0.113.7", "scheme": "https", "host": "assistants.example.com",
        "url": "https://assistants.example.com/test-client-seen"}


def test_limits_count_the_forwarded_address(make_app):
    client = make_app(PROXY_FIX_HOPS=1, AUTH_FAILURE_LIMIT="3 per minute").test_client()
    proxy = {"environ_overrides": {"REMOTE_ADDR": "10.0.0.2"}}  # every request comes through the proxy

    def wrong_key_from(address):
        return client.get("/assistants", headers={**WRONG, "X-Forwarded-For": address}, **proxy).status_code

    assert [wrong_key_from("203.0.113.7") for _ in range(4)] == [401, 401, 401, 429]
    assert wrong_key_from("203.0.113.8") == 401  # another client behind the same proxy
