"""The Flask extension that feeds metrics.py from each request and serves GET /metrics.

/metrics is the operator's: it takes METRICS_TOKEN as its Bearer token, never a tenant's API key
(auth.require_metrics_token; Prometheus' `authorization` scrape setting); METRICS_PUBLIC=true opens
it for a scraper on a private network."""
import time

from flask import Blueprint, Response, g, request

from . import metrics

blp = Blueprint("metrics", __name__)


@blp.route("/metrics")
def scrape():
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.get("metrics_started")
    if started is not None:  # a request refused before this app's first hook has no start
        rule = request.url_rule
        metrics.observe_request(request.method, rule.rule if rule is not None else "unmatched",
                                response.status_code, time.perf_counter() - started)
    return response


class RequestMetrics:
    """init_app before the other extensions' hooks: requests they refuse (429, 401) count too."""

    def init_app(self, app) -> None:
        app.before_request(_start)
        app.after_request(_observe)
        app.register_blueprint(blp)
