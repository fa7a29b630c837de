"""/v1/threads/{thread_id}/runs, /v1/threads/runs and run steps. A run answers at once (queued)
and proceeds in the background, or (stream: true) answers the v2 event stream while it runs."""
from flask import jsonify
from flask.views import MethodView

from ... import streaming
from ...extensions import db
from ...schemas.v2.common import ListQuerySchema
from ...schemas.v2.runs import (RunCreateV2Schema, RunIncludeQuerySchema, RunListV2Schema,
                                RunStepListV2Schema, RunStepV2Schema, RunV2Schema, StepListQuerySchema,
                                SubmitToolOutputsV2Schema, ThreadAndRunV2Schema, includes)
from ...schemas.v2.threads import MetadataOnlySchema
from ...services.tenant_limits import Caller
from ...services.v2 import runner, runs, steps, threads
from ...spec import event_stream
from .blueprint import blp, documents

STREAMED = "The run (queued); with stream: true, text/event-stream of the v2 events, ending with event: done."
API = "assistants_v2"
V2_EVENTS = event_stream(
    "the Assistants API v2 events (thread.run.created ... thread.run.completed, thread.run.requires_action, "
    "thread.run.incomplete or thread.run.failed), then event: done, data: [DONE].",
    ("thread.created", "thread.run.created", "thread.run.queued", "thread.run.in_progress",
     "thread.run.step.created", "thread.run.step.in_progress", "thread.run.step.delta",
     "thread.message.created", "thread.message.in_progress", "thread.message.delta",
     "thread.message.completed", "thread.message.incomplete", "thread.run.step.completed",
     "thread.run.completed", "thread.run.requires_action", "thread.run.incomplete",
     "thread.run.failed", "done"))


def _frames(events):
    for name, data in events:
        yield streaming.sse(data, name)
    yield streaming.sse("[DONE]", "done")


def _start(caller, run, token, stream, tool_outputs=None, prelude=()):
    """The run goes on in the background (answered queued), or streamed in this response."""
    answer = runs.present(run)
    db.session.commit()  # nothing is pending: the stream begins with no transaction open
    if stream:
        return streaming.response(_frames(runner.streamed(answer, token, caller, tool_outputs, prelude)))
    runner.in_background(run, token, caller, tool_outputs)
    return jsonify(answer)  # as it was when queued: the run goes on meanwhile


@blp.route("/threads/<thread_id>/runs")
class Runs(MethodView):
    @blp.arguments(RunIncludeQuerySchema(), location="query", error_status_code=400)
    @blp.arguments(RunCreateV2Schema(), error_status_code=400)
    @blp.response(200, RunV2Schema, description=STREAMED)
    @blp.doc(**V2_EVENTS)
    @documents(400, 429, 502, 504)
    def post(self, query, fields, thread_id):
        """Create a run (400 while another run of the thread is active)"""
        caller = Caller.of_request(API)
        run = runs.create(caller, threads.get(thread_id), fields)
        return _start(caller, run, run.turn_token, fields.get("stream"))

    @blp.arguments(ListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, RunListV2Schema)
    def get(self, params, thread_id):
        """List a thread's runs (limit, order, after, before)"""
        return runs.listed(threads.get(thread_id), params)


@blp.route("/threads/runs")
class ThreadAndRun(MethodView):
    @blp.arguments(ThreadAndRunV2Schema(), error_status_code=400)
    @blp.response(200, RunV2Schema, description=STREAMED)
    @blp.doc(**V2_EVENTS)
    @documents(400, 404, 429, 502, 504)
    def post(self, fields):
        """Create a thread and run it"""
        caller = Caller.of_request(API)
        thread, run = runs.create_with_thread(caller, fields)
        return _start(caller, run, run.turn_token, fields.get("stream"),
                      prelude=[("thread.created", threads.present(thread))])


@blp.route("/threads/<thread_id>/runs/<run_id>")
class RunById(MethodView):
    @blp.response(200, RunV2Schema)
    def get(self, thread_id, run_id):
        """Retrieve a run"""
        return runs.get(threads.get(thread_id), run_id)

    @blp.arguments(MetadataOnlySchema(), error_status_code=400)
    @blp.response(200, RunV2Schema)
    def post(self, fields, thread_id, run_id):
        """Modify a run's metadata"""
        run = runs.get(threads.get(thread_id), run_id)
        if "metadata" in fields:
            run.run_metadata = fields["metadata"] or {}
        db.session.commit()
        return run


@blp.route("/threads/<thread_id>/runs/<run_id>/cancel")
class RunCancel(MethodView):
    @blp.response(200, RunV2Schema)
    @documents(400)
    def post(self, thread_id, run_id):
        """Cancel a run (the provider's answer is abandoned; nothing is written but the status)"""
        return runs.cancel(runs.get(threads.get(thread_id), run_id))


@blp.route("/threads/<thread_id>/runs/<run_id>/submit_tool_outputs")
class SubmitToolOutputs(MethodView):
    @blp.arguments(SubmitToolOutputsV2Schema(), error_status_code=400)
    @blp.response(200, RunV2Schema, description=STREAMED)
    @blp.doc(**V2_EVENTS)
    @documents(400, 429, 502, 504)
    def post(self, fields, thread_id, run_id):
        """Submit the outputs of the tool calls a run requires"""
        thread = threads.get(thread_id)
        run = runs.get(thread, run_id)
        caller = Caller.of_request(API)
        token = runs.resume(caller, thread, run, fields["tool_outputs"])
        return _start(caller, run, token, fields.get("stream"), fields["tool_outputs"])


@blp.route("/threads/<thread_id>/runs/<run_id>/steps")
class RunSteps(MethodView):
    @blp.arguments(StepListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, RunStepListV2Schema)
    def get(self, params, thread_id, run_id):
        """List a run's steps (include: file_search results with their text)"""
        run = runs.get(threads.get(thread_id), run_id)
        return steps.listed(run, params, steps.INCLUDE_CONTENT in includes(params))


@blp.route("/threads/<thread_id>/runs/<run_id>/steps/<step_id>")
class RunStepById(MethodView):
    @blp.arguments(RunIncludeQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, RunStepV2Schema)
    def get(self, params, thread_id, run_id, step_id):
        """Retrieve a run step"""
        run = runs.get(threads.get(thread_id), run_id)
        return steps.get(run, step_id, steps.INCLUDE_CONTENT in includes(params))
