"""v2 runs, their steps, and tool outputs."""
from marshmallow import fields, validate

from ..common import StrictSchema
from .common import ListQuerySchema, Metadata, ResponseFormat, Tools, list_schema
from .threads import MessageCreateV2Schema, ThreadCreateV2Schema


class RunSettings(StrictSchema):
    assistant_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    model = fields.String(validate=validate.Length(min=1, max=256), allow_none=True)
    instructions = fields.String(validate=validate.Length(max=256_000), allow_none=True)
    tools = Tools(allow_none=True)
    tool_resources = fields.Dict(keys=fields.String(), allow_none=True)
    metadata = Metadata()
    temperature = fields.Float(validate=validate.Range(min=0, max=2), allow_none=True)
    top_p = fields.Float(validate=validate.Range(min=0, max=1), allow_none=True)
    max_completion_tokens = fields.Integer(validate=validate.Range(min=1), allow_none=True)
    max_prompt_tokens = fields.Integer(validate=validate.Range(min=1), allow_none=True,
                                       metadata={"description": "Accepted, not enforced."})
    stream = fields.Boolean(load_default=False, allow_none=True)
    tool_choice = fields.Raw(allow_none=True,
                             metadata={"description": '"none", "auto", "required" or a function.'})
    parallel_tool_calls = fields.Boolean(allow_none=True)
    truncation_strategy = fields.Dict(allow_none=True)
    response_format = ResponseFormat()
    reasoning_effort = fields.String(validate=validate.OneOf(("minimal", "low", "medium", "high")),
                                     allow_none=True)


class RunCreateV2Schema(RunSettings):
    additional_instructions = fields.String(validate=validate.Length(max=256_000), allow_none=True)
    additional_messages = fields.List(fields.Nested(MessageCreateV2Schema), validate=validate.Length(max=100),
                                      allow_none=True)


class ThreadAndRunV2Schema(RunSettings):
    thread = fields.Nested(ThreadCreateV2Schema, allow_none=True)


class RunIncludeQuerySchema(StrictSchema):
    """include, as ?include=... or as the openai clients send it, ?include[]=..."""

    include = fields.List(fields.String(validate=validate.Length(max=128)), validate=validate.Length(max=8),
                          metadata={"description": "step_details.tool_calls[*].file_search.results[*]"
                                                   ".content: file_search results with their text."})
    include_brackets = fields.List(fields.String(validate=validate.Length(max=128)), data_key="include[]",
                                   validate=validate.Length(max=8), metadata={"description": "The same."})


def includes(params: dict) -> list[str]:
    return [*params.get("include", ()), *params.get("include_brackets", ())]


class StepListQuerySchema(ListQuerySchema, RunIncludeQuerySchema):
    pass


class ToolOutputV2Schema(StrictSchema):
    tool_call_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    output = fields.String(load_default="", validate=validate.Length(max=256_000))


class SubmitToolOutputsV2Schema(StrictSchema):
    tool_outputs = fields.List(fields.Nested(ToolOutputV2Schema), required=True,
                               validate=validate.Length(min=1, max=128))
    stream = fields.Boolean(load_default=False, allow_none=True)


class UnixTime(fields.Field):
    """A datetime as unix seconds."""

    def _serialize(self, value, attr, obj, **kwargs):
        return int(value.timestamp()) if value is not None else None


def _option(name: str, default=None):
    """A run's setting, kept in Run.options as the run was asked for it (None: the default)."""
    def read(run):
        value = (run.options or {}).get(name)
        return default if value is None else value
    return read


ACTIVE = ("queued", "in_progress", "requires_action", "cancelling")


class RunV2Schema(StrictSchema):
    """OpenAI's run object, dumped from a Run row (services/v2/runs.present)."""

    id = fields.String()
    object = fields.Constant("thread.run")
    created_at = UnixTime()
    thread_id = fields.String()
    assistant_id = fields.String(attribute="assistant_public_id")
    status = fields.String()
    required_action = fields.Dict(allow_none=True)
    last_error = fields.Dict(allow_none=True)
    expires_at = fields.Function(lambda run: int(run.expires_at.timestamp())
                                 if run.status in ACTIVE and run.expires_at else None, allow_none=True)
    started_at = UnixTime(allow_none=True)
    cancelled_at = UnixTime(allow_none=True)
    failed_at = UnixTime(allow_none=True)
    completed_at = UnixTime(allow_none=True)
    incomplete_details = fields.Function(
        lambda run: {"reason": "max_completion_tokens"} if run.status == "incomplete" else None,
        allow_none=True,
        metadata={"description": "Why the run is incomplete: its reply reached max_completion_tokens "
                                 "(the provider's) or MAX_REPLY_CHARS."})
    model = fields.String()
    instructions = fields.String(allow_none=True)
    tools = fields.List(fields.Dict())
    metadata = fields.Function(lambda run: run.run_metadata or {})
    usage = fields.Dict(allow_none=True)
    temperature = fields.Function(_option("temperature"), allow_none=True)
    top_p = fields.Function(_option("top_p"), allow_none=True)
    max_prompt_tokens = fields.Function(_option("max_prompt_tokens"), allow_none=True)
    max_completion_tokens = fields.Function(_option("max_completion_tokens"), allow_none=True)
    truncation_strategy = fields.Function(_option("truncation_strategy",
                                                  {"type": "auto", "last_messages": None}))
    response_format = fields.Function(_option("response_format", "auto"))
    tool_choice = fields.Function(_option("tool_choice", "auto"))
    parallel_tool_calls = fields.Function(
        lambda run: (run.options or {}).get("parallel_tool_calls") is not False)


class RunStepV2Schema(StrictSchema):
    id = fields.String()
    object = fields.String()
    created_at = fields.Integer()
    run_id = fields.String()
    assistant_id = fields.String()
    thread_id = fields.String()
    type = fields.String()
    status = fields.String()
    cancelled_at = fields.Integer(allow_none=True)
    completed_at = fields.Integer(allow_none=True)
    expired_at = fields.Integer(allow_none=True)
    failed_at = fields.Integer(allow_none=True)
    last_error = fields.Dict(allow_none=True)
    step_details = fields.Dict()
    usage = fields.Dict(allow_none=True)
    metadata = fields.Dict()


RunListV2Schema = list_schema(RunV2Schema, "RunListV2Schema")
RunStepListV2Schema = list_schema(RunStepV2Schema, "RunStepListV2Schema")
