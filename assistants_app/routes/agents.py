"""The agents API (seed 003: VMware Private AI Services' OpenAI compatibility), at
/api/v1/compatibility/openai/v1/agents and, the same routes, .../assistants.

This API answers in FastAPI's shape, as its seed does (errors.DETAIL): {"detail": "<sentence>"}
for an error, {"detail": [{"loc", "msg", "type"}]} (422) for every validation failure."""
from flask.views import MethodView
from flask_smorest import Blueprint

from .. import streaming
from ..database import reads_only
from ..errors import DETAIL
from ..extensions import db
from ..schemas.agent_chat import ChatCompletionRequestSchema, ChatCompletionSchema
from ..schemas.agents import (
    AgentCreateSchema,
    AgentDeletedSchema,
    AgentListQuerySchema,
    AgentListSchema,
    AgentSchema,
    AgentUpdateSchema,
    DetailSchema,
    ValidationErrorSchema,
)
from ..services import agents, completions
from ..spec import AGENTS_PREFIX, error_docs, event_stream

# Registered twice by create_app(): the same routes under /agents and under /assistants.
MOUNTS = (("agents", f"{AGENTS_PREFIX}/agents"), ("agents-as-assistants", f"{AGENTS_PREFIX}/assistants"))

blp = Blueprint("agents", __name__,
                description="The agents API (VMware Private AI Services' OpenAI compatibility): agents with "
                            "live status, and OpenAI-compatible chat completions with sessions.")
DETAIL.register(blp, path_prefix=AGENTS_PREFIX)


# Every operation of this API may answer its 422 {"detail": [...]}; the others in its {"detail": "..."}.
documents = error_docs(blp, {404: agents.NOT_FOUND, 409: "A turn is in progress in this session."},
                       schema=DetailSchema, always={422: ValidationErrorSchema})


@blp.route("")
class Agents(MethodView):
    @blp.arguments(AgentListQuerySchema(), location="query")
    @blp.response(200, AgentListSchema)
    @documents()
    @reads_only
    def get(self, args):
        """List agents, with each one's live status"""
        return agents.list_agents(args)

    @blp.arguments(AgentCreateSchema())
    @blp.response(201, AgentSchema)
    @documents(502, 504)
    def post(self, fields):
        """Create an agent"""
        assistant = agents.create_agent(fields)
        db.session.commit()
        return agents.with_status(assistant)


@blp.route("/<agent_id>")
class AgentById(MethodView):
    @blp.response(200, AgentSchema)
    @documents(404)
    @reads_only
    def get(self, agent_id):
        """Get an agent: its configuration and live status"""
        return agents.with_status(agents.find_agent(agent_id))

    @blp.arguments(AgentUpdateSchema())
    @blp.response(200, AgentSchema)
    @documents(404, 502, 504)
    def post(self, fields, agent_id):
        """Update an agent: fields left out keep their values; a metadata key set to null is removed"""
        assistant = agents.update_agent(agents.find_agent(agent_id), fields)
        db.session.commit()
        return agents.with_status(assistant)

    @blp.response(200, AgentDeletedSchema)
    @documents(404, 502, 504)
    def delete(self, agent_id):
        """Delete an agent and its sessions"""
        deleted = agents.delete_agent(agents.find_agent(agent_id))
        db.session.commit()
        return deleted


@blp.route("/<agent_id>/chat/completions", methods=["POST"])
@blp.arguments(ChatCompletionRequestSchema())
@blp.response(200, ChatCompletionSchema,
              description="chat.completion; with stream=true, chat.completion.chunk events, then [DONE].")
@blp.doc(**event_stream("data: {chat.completion.chunk} per piece of the reply, then data: [DONE]; a failure "
                        "mid-stream is data: {\"error\": {...}}."))
@documents(404, 409, 429, 502, 504)
def chat_completions(body, agent_id):
    """Create a chat completion with an agent (OpenAI-compatible)

    Sessions via create_session / store_in_session."""
    reply = completions.complete(agent_id, body)
    if isinstance(reply, dict):
        return reply
    return streaming.response(reply)
