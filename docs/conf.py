"""Sphinx configuration. `make docs` builds with -W: every warning is an error.

The HTTP reference is rendered from the OpenAPI document the app itself produces
(`flask openapi write`), written to _build/openapi.json at the start of every build and
never committed: a route cannot exist undocumented."""
import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(DOCS))  # assistants_app, for autodoc and the spec
sys.path.insert(0, os.path.join(DOCS, "_ext"))

project = "assistants_app"
author = "assistants_app developers"
copyright = "the assistants_app developers"
release = version = "1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinxcontrib.httpdomain",
    "sphinxcontrib.openapi",
    "openapi_reference",
]

# Built offline: no intersphinx, no CDN; alabaster ships with Sphinx.
html_theme = "alabaster"
html_theme_options = {"description": "A self-hosted assistants gateway", "page_width": "1180px",
                      "sidebar_width": "230px"}
html_title = "assistants_app"
html_static_path = []
exclude_patterns = ["_build", "_ext"]
templates_path = []

nitpicky = False
highlight_language = "none"
pygments_style = "sphinx"

# Autodoc imports the route modules; keep their view signatures as the seed shows them.
autodoc_member_order = "bysource"
autodoc_typehints = "none"

# httpdomain: /openai/threads/{thread_id} is indexed under /openai, not under "/".
http_index_shortname = "api"
http_index_localname = "HTTP routes"
http_strict_mode = True
http_index_ignore_prefixes = ["/api/v1/compatibility/openai/v1", "/openai"]


def drop_openapi_delimiter(app, what, name, obj, options, lines):
    """flask-smorest stops a view's OpenAPI description at a "---" line; the page doesn't need it."""
    lines[:] = [line for line in lines if line.strip() != "---"]


def setup(app):
    app.connect("autodoc-process-docstring", drop_openapi_delimiter)
