"""/v1/threads and their messages."""
from flask.views import MethodView

from ...extensions import db
from ...schemas.v2.common import DeletedSchema
from ...schemas.v2.threads import (MessageCreateV2Schema, MessageListQuerySchema, MessageListV2Schema,
                                   MessageV2Schema, MetadataOnlySchema, ThreadCreateV2Schema,
                                   ThreadModifyV2Schema, ThreadV2Schema)
from ...services.v2 import threads as service
from .blueprint import blp, documents


@blp.route("/threads")
class Threads(MethodView):
    @blp.arguments(ThreadCreateV2Schema(), error_status_code=400)
    @blp.response(200, ThreadV2Schema)
    def post(self, fields):
        """Create a thread (with messages, optionally)"""
        thread = service.create(fields)
        db.session.commit()
        return service.present(thread)


@blp.route("/threads/<thread_id>")
class ThreadById(MethodView):
    @blp.response(200, ThreadV2Schema)
    def get(self, thread_id):
        """Retrieve a thread"""
        return service.present(service.get(thread_id))

    @blp.arguments(ThreadModifyV2Schema(), error_status_code=400)
    @blp.response(200, ThreadV2Schema)
    def post(self, fields, thread_id):
        """Modify a thread's metadata"""
        thread = service.modify(service.get(thread_id), fields)
        db.session.commit()
        return service.present(thread)

    @blp.response(200, DeletedSchema)
    @documents(502, 504)
    def delete(self, thread_id):
        """Delete a thread, its messages and runs"""
        deleted = service.delete(service.get(thread_id))
        db.session.commit()
        return deleted


@blp.route("/threads/<thread_id>/messages")
class Messages(MethodView):
    @blp.arguments(MessageListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, MessageListV2Schema)
    def get(self, params, thread_id):
        """List a thread's messages (limit, order, after, before, run_id)"""
        return service.list_messages(service.get(thread_id), params)

    @blp.arguments(MessageCreateV2Schema(), error_status_code=400)
    @blp.response(200, MessageV2Schema)
    def post(self, fields, thread_id):
        """Add a message (400 while a run is active)"""
        thread = service.get(thread_id)
        message, = service.add_messages(thread, [fields])
        db.session.commit()
        return service.present_one(message, thread)


@blp.route("/threads/<thread_id>/messages/<message_id>")
class MessageById(MethodView):
    @blp.response(200, MessageV2Schema)
    def get(self, thread_id, message_id):
        """Retrieve a message"""
        thread = service.get(thread_id)
        return service.present_one(service.get_message(thread, message_id), thread)

    @blp.arguments(MetadataOnlySchema(), error_status_code=400)
    @blp.response(200, MessageV2Schema)
    def post(self, fields, thread_id, message_id):
        """Modify a message's metadata"""
        thread = service.get(thread_id)
        message = service.get_message(thread, message_id)
        if "metadata" in fields:
            message.message_metadata = fields["metadata"] or {}
        db.session.commit()
        return service.present_one(message, thread)

    @blp.response(200, DeletedSchema)
    def delete(self, thread_id, message_id):
        """Delete a message"""
        thread = service.get(thread_id)
        db.session.delete(service.get_message(thread, message_id))
        db.session.commit()
        return {"id": message_id, "object": "thread.message.deleted", "deleted": True}
