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
    tool_choice = fields.Raw(allow_none=True, metadata={"description": '"none", "auto", "required" or a function.'})
    parallel_tool_calls = fields.Boolean(allow_none=True)
    truncation_strategy = fields.Dict(allow_none=True)
    response_format = ResponseFormat()
    reasoning_effort = fields.String(validate=validate.OneOf(("minimal", "low", "medium", "high")), allow_none=True)


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
    tool_outputs = fields.List(fields.Nested(ToolOutputV2Schema), required=True, validate=validate.Length(min=1, max=128))
    stream = fields.Boolean(load_default=False, allow_none=True)


class RunV2Schema(StrictSchema):
    id = fields.String()
    object = fields.String()
    created_at = fields.Integer()
    thread_id = fields.String()
    assistant_id = fields.String()
    status = fields.String()
    required_action = fields.Dict(allow_none=True)
    last_error = fields.Dict(allow_none=True)
    expires_at = fields.Integer(allow_none=True)
    started_at = fields.Integer(allow_none=True)
    cancelled_at = fields.Integer(allow_none=True)
    failed_at = fields.Integer(allow_none=True)
    completed_at = fields.Integer(allow_none=True)
    incomplete_details = fields.Dict(allow_none=True)
    model = fields.String()
    instructions = fields.String(allow_none=True)
    tools = fields.List(fields.Dict())
    metadata = fields.Dict()
    usage = fields.Dict(allow_none=True)
    temperature = fields.Float(allow_none=True)
    top_p = fields.Float(allow_none=True)
    max_prompt_tokens = fields.Integer(allow_none=True)
    max_completion_tokens = fields.Integer(allow_none=True)
    truncation_strategy = fields.Dict()
    response_format = fields.Raw()
    tool_choice = fields.Raw()
    parallel_tool_calls = fields.Boolean()


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
