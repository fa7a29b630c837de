"""The Responses API's WebSocket mode: a client connects to wss://<host>/v1/responses with its
`Authorization: Bearer <api key>` (refused 401 before the upgrade without a valid one), sends
response.create messages and reads each response's events (services/responses/socket_mode.py). A plain
Flask blueprint, outside the OpenAPI document (which has no words for a WebSocket); flask-sock's route."""
from flask import Blueprint

from ..errors import OPENAI
from ..extensions import sock
from ..services.responses import socket_mode

blp = Blueprint("responses_socket", __name__, url_prefix="/v1")
OPENAI.register(blp)


@sock.route("/responses", bp=blp)
def responses_socket(ws):
    """WebSocket mode: response.create messages in, each response's events out, one response at a time."""
    socket_mode.serve(ws)
