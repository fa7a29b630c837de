"""Fixtures of the fake's own tests: the official openai client on it, and plain HTTP requests."""
import http.client
import json

import openai
import pytest


@pytest.fixture
def client(fake):
    return openai.OpenAI(base_url=fake.base_url, api_key="sk-test", max_retries=0, timeout=5)


@pytest.fixture
def raw(fake):
    """raw(method, path, body=None, headers=None) -> (status, parsed JSON body or None), with http.client."""
    def request(method, path, body=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", int(fake.url.rsplit(":", 1)[1]), timeout=5)
        try:
            data = json.dumps(body) if body is not None else None
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        return resp.status, json.loads(data) if data else None

    return request
