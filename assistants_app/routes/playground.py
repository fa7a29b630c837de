"""The playground at /: one static page (HTML, CSS, JavaScript modules from assistants_app/playground/).

The page is public because it holds nothing: it is a client like any other, and every API call it
makes carries the key its user pastes. Its responses carry a strict Content-Security-Policy (no
inline script or style, same-origin connections only, Trusted Types: model output can reach no
HTML parser) that /docs, whose Swagger UI needs inline code, does not get."""
import os

from flask import Blueprint, send_from_directory

blp = Blueprint("playground", __name__)
FILES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "playground")

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",  # every form is handled by script; none navigates
    "frame-ancestors 'none'",
    # No string ever becomes HTML or script: innerHTML and friends throw.
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
))
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@blp.route("/")
def page():
    return send_from_directory(FILES, "index.html", max_age=0)


@blp.route("/playground/<path:asset>")
def page_asset(asset):
    # max_age=0: revalidated by ETag on every load, so an upgrade is seen at once.
    return send_from_directory(FILES, asset, max_age=0)


@blp.after_request
def security_headers(response):
    response.headers.update(SECURITY_HEADERS)
    return response
