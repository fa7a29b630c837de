"""The playground page as served (no browser needed; tests/playground/ drives it in Chromium): public,
with its security headers on the page and every asset, no file outside its folder, nothing from another
origin, and no way in its code for a string to become HTML."""
import os
import re

import pytest

from assistants_app.routes.playground import FILES

ASSETS = sorted(os.path.relpath(os.path.join(root, name), FILES).replace(os.sep, "/")
                for root, _, names in os.walk(FILES) for name in names if name != "index.html")
SCRIPTS = [asset for asset in ASSETS if asset.endswith(".js")]


def assert_secured(response):
    policy = dict(part.strip().split(" ", 1)
                  for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval', no other origin
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert policy["require-trusted-types-for"] == "'script'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_page_is_public_and_secured(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert_secured(response)
    page = response.get_data(as_text=True)
    # No inline script, style or handler: the policy would refuse them.
    assert not re.search(r"<script(?![^>]*\ssrc=)|<style|<[^>]+\s(?:style|on[a-z]+)=", page)
    for reference in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not re.match(r"^[a-z]+:|^//", reference), reference  # nothing from another origin


@pytest.mark.parametrize("asset", ASSETS)
def test_every_asset_is_public_secured_and_typed(client, asset):
    response = client.get(f"/playground/{asset}")
    assert response.status_code == 200
    assert_secured(response)
    expected = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}[asset.rsplit(".", 1)[1]]
    assert response.mimetype == expected  # with nosniff, a module served as anything else would not run
    assert response.headers["Cache-Control"].startswith("no-cache")


def test_the_index_loads_only_files_that_exist(client):
    page = client.get("/").get_data(as_text=True)
    for reference in re.findall(r'(?:src|href)="playground/([^"]+)"', page):
        assert reference in ASSETS
    for script in SCRIPTS:  # and so do the modules they import
        source = client.get(f"/playground/{script}").get_data(as_text=True)
        for imported in re.findall(r'from "\./([^"]+)"', source):
            assert f"js/{imported}" in ASSETS, (script, imported)


@pytest.mark.parametrize("path", ["/playground/../routes/playground.py", "/playground/%2e%2e/config.py",
                                  "/playground/missing.js", "/playground/", "/index.html"])
def test_nothing_else_is_served(client, path):
    assert client.get(path).status_code == 404


def test_the_api_still_needs_a_key_and_the_docs_keep_their_own_policy(client):
    assert client.get("/assistants").status_code == 401
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "Content-Security-Policy" not in docs.headers  # Swagger UI runs inline script


@pytest.mark.parametrize("script", SCRIPTS)
def test_no_script_turns_a_string_into_html_or_code(script):
    with open(os.path.join(FILES, script)) as f:
        source = f.read()
    sinks = re.findall(r"\.(?:inner|outer)HTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\b"
                       r"|localStorage|document\.cookie|srcdoc", source)
    assert sinks == [], script
