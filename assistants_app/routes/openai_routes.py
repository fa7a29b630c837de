"""The conversations API (routes.openai_routes, seed 004): initialize a thread, chat, delete an
agent, list models.

This API answers an invalid payload with 400 (its seed's status), not 422."""

from flask.views import MethodView
from flask_smorest import Blueprint

from .. import streaming
from ..database import each_statement_commits
from ..errors import BAD_REQUEST, ServiceError
from ..streaming import sse
from ..extensions import db
from ..models import Credential
from ..openai_adapter import ProviderError
from ..schemas.chat import (
    AgentIdSchema,
    ChatRequestSchema,
    ChatResponseSchema,
    DeleteAgentResponseSchema,
    InitializeResponseSchema,
    ModelsQuerySchema,
    ModelsResponseSchema,
    ThreadDeletedSchema,
    ThreadMessagesQuerySchema,
    ThreadMessagesSchema,
)
from ..services import assistants, get_owned, threads, turns
from ..services.models_cache import models_of
from ..spec import error_docs, event_stream

blp = Blueprint("openai", __name__, url_prefix="/openai",
                description="Threads and chat turns with an assistant (routes.openai_routes).")

BAD_REQUEST.register(blp)
API = "conversations"


documents = error_docs(blp)


@blp.route("/initialize", methods=["POST"])
@blp.arguments(AgentIdSchema(), error_status_code=400)
@blp.response(200, InitializeResponseSchema)
@documents(404, 429, 502, 504, described={404: "Agent with the specified ID not found."})
def initialize(body):
    """Initialize a conversation thread with an agent.

    Initializes an OpenAI assistant (agent) using the specified ID: starts a new thread
    that later ``/openai/chat`` turns continue.

    ---

    :URL: ``POST /openai/initialize``
    :param str agent_id: The ID of the agent to be initialized (its id or its details.id).
    :returns: ``{"message", "thread_id", "agent_id"}``: a message indicating successful
        initialization with a new thread ID and agent ID, or an error message if the agent
        is not found.
    :rtype: JSON response (dict)

    Status Codes:

    - 200 OK: Agent initialized successfully.
    - 400 Bad Request: Invalid request payload.
    - 401 Unauthorized: Missing or invalid API key.
    - 404 Not Found: Agent with the specified ID not found.
    - 429, 502, 504: The provider failed to start a conversation (``responses`` and
      ``assistants`` backends only).
    """
    thread = threads.start_thread(assistants.get_assistant(body["agent_id"]))
    db.session.commit()
    return {"message": "Assistant initialized", "thread_id": thread.id, "agent_id": body["agent_id"]}


@blp.route("/chat", methods=["POST"])
@blp.arguments(ChatRequestSchema(), error_status_code=400)
@blp.response(200, ChatResponseSchema,
              description="The reply; with stream=true, text/event-stream of delta events, then done or "
                          "error.")
@blp.doc(**event_stream("event: delta {\"delta\"} per piece of text, then event: done (the ids and usage) "
                        "or event: error (the error body).", ("delta", "done", "error")))
@documents(404, 409, 429, 502, 504, described={
    404: "Unknown agent, or a thread that is unknown, expired or of another agent.",
    409: "A turn is in progress on this thread."})
@each_statement_commits
def openai_chat(body):
    """Send a user message to an agent within a thread.

    Sends a user message to the specified OpenAI chat assistant and manages the
    conversation within a given thread. The user message and the reply are stored
    together once the provider has answered; a failed turn stores nothing.

    ---

    :URL: ``POST /openai/chat``
    :param str user_input: The message to be sent to the assistant (alias: ``message``).
    :param str agent_id: The ID of the agent to use for the conversation.
    :param str thread_id: The ID of the thread to use, maintaining context across messages.
    :param bool stream: Answer ``text/event-stream``: ``event: delta`` per text chunk, then
        ``event: done`` with the ids and usage, or ``event: error`` with the error body.
    :param list tool_outputs: ``[{"tool_call_id", "output"}]`` answering a ``requires_action`` reply.
    :returns: ``{"message": "Retrieved response", "response", "thread_id", "agent_id",
        "message_id", "usage", "status", "tool_calls"}``
    :rtype: JSON response (dict)

    Status Codes:

    - 200 OK: Chat response received successfully (with ``stream``: the event stream began;
      a later failure arrives as an ``error`` event).
    - 400 Bad Request: Invalid request payload.
    - 401 Unauthorized: Missing or invalid API key.
    - 404 Not Found: Unknown agent, or a thread that is unknown, expired or of another agent.
    - 409 Conflict: A turn is in progress on this thread.
    - 429, 502, 504: The provider rate-limited the turn, failed, or did not answer in time.
    """
    thread = threads.find_agent_thread(body["agent_id"], body["thread_id"])
    assistant, caller = thread.assistant, turns.Caller.of_request(API)
    turn = turns.TurnInput(text=body.get("user_input") or body.get("message"),
                           tool_outputs=body.get("tool_outputs") or [])
    if body["stream"]:
        return streaming.response(_frames(turns.stream(caller, assistant, turn, thread), body["agent_id"]))
    return _reply(turns.complete(caller, assistant, turn, thread), body["agent_id"])


def _reply(outcome: turns.TurnOutcome, agent_id: str) -> dict:
    result = outcome.done
    return {
        "message": "Retrieved response",
        "response": result.text,
        "thread_id": outcome.thread.id,
        "agent_id": agent_id,
        "message_id": outcome.reply.id,
        "usage": vars(result.usage) if result.usage else None,
        "status": "requires_action" if result.tool_calls else "completed",
        "tool_calls": [vars(call) for call in result.tool_calls],
    }


def _frames(stream: turns.TurnStream, agent_id: str):
    try:
        for text in stream.texts():
            yield sse({"delta": text}, "delta")
        done = _reply(stream.outcome, agent_id)
        del done["message"], done["response"]
        yield sse(done, "done")
    except (ProviderError, ServiceError) as err:
        yield BAD_REQUEST.sse_error(err)
    finally:
        stream.close()


@blp.route("/delete_agent", methods=["POST"])
@blp.arguments(AgentIdSchema(), error_status_code=400)
@blp.response(200, DeleteAgentResponseSchema)
@documents(404, 429, 502, 504, described={404: "Agent with the specified ID not found."})
def delete_agent_route(body):
    """Delete an agent, its threads and messages, and its remote twin.

    Deletes an agent based on the provided agent ID: the assistant, all its threads and
    their messages, and the remote assistant where the backend keeps one. Assistants API (v2)
    runs it carried out stay, with their messages (a run still going ends failed).

    ---

    :URL: ``POST /openai/delete_agent``
    :param str agent_id: The ID of the agent to be deleted.
    :returns: ``{"message", "agent_id"}``: a message indicating the agent was deleted.
    :rtype: JSON response (dict)

    Status Codes:

    - 200 OK: Agent deleted successfully.
    - 400 Bad Request: Invalid request payload.
    - 401 Unauthorized: Missing or invalid API key.
    - 404 Not Found: Agent with the specified ID not found.
    - 429, 502, 504: The provider failed to delete the remote assistant (nothing was deleted).
    """
    assistants.delete_assistant(assistants.get_assistant(body["agent_id"]), delete_remote=True)
    db.session.commit()
    return {"message": "Agent deleted successfully", "agent_id": body["agent_id"]}


@blp.route("/get_models", methods=["GET"])
@blp.arguments(ModelsQuerySchema(), location="query", error_status_code=400)
@blp.response(200, ModelsResponseSchema)
@documents(404, 429, 502, 504, described={404: "Unknown credential."})
def get_models(query):
    """List the models the provider offers.

    Retrieves a list of currently available models from the provider, cached for
    MODELS_CACHE_TTL seconds per credential.

    ---

    :URL: ``GET /openai/get_models``
    :param str credential: Optional: ask this stored credential's provider instead of the
        service's default one.
    :returns: ``{"models": ["id", ...]}``
    :rtype: JSON response (dict)

    Status Codes:

    - 200 OK: List of models retrieved successfully.
    - 400 Bad Request: Invalid query string.
    - 401 Unauthorized: Missing or invalid API key.
    - 404 Not Found: Unknown credential.
    - 429, 502, 504: The provider rate-limited the request, failed, or did not answer in time.
    """
    credential = get_owned(Credential, query["credential"]) if "credential" in query else None
    return {"models": models_of(credential)}


@blp.route("/threads/<thread_id>")
class ThreadById(MethodView):
    @blp.response(200, ThreadDeletedSchema)
    @documents(404, 429, 502, 504, described={404: "Unknown or expired thread."})
    def delete(self, thread_id):
        """Delete a thread and its messages"""
        threads.delete_thread(threads.find_thread(thread_id))
        db.session.commit()
        return {"id": thread_id}


@blp.route("/threads/<thread_id>/messages")
class ThreadMessages(MethodView):
    @blp.arguments(ThreadMessagesQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, ThreadMessagesSchema)
    @documents(404, described={404: "Unknown or expired thread."})
    def get(self, query, thread_id):
        """A thread's messages, oldest first, a page at a time (after, limit)"""
        return threads.list_messages(threads.find_thread(thread_id), query)
