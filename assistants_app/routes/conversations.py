"""The Conversations API at /v1/conversations: conversations and their items (services/conversations.py)."""
from flask.views import MethodView

from ..extensions import db
from ..schemas.conversations import (ConversationCreateSchema, ConversationModifySchema, ConversationSchema,
                                     ItemsCreateSchema, ItemsIncludeQuerySchema)
from ..schemas.responses import ItemListQuerySchema, ItemListSchema
from ..schemas.v2.common import DeletedSchema
from ..services import conversations as service
from .responses import blp, documents


@blp.route("/conversations")
class Conversations(MethodView):
    @blp.arguments(ConversationCreateSchema(), error_status_code=400)
    @blp.response(200, ConversationSchema)
    def post(self, fields):
        """Create a conversation (with up to 20 items)"""
        conversation = service.create(fields)
        db.session.commit()
        return service.present(conversation)


@blp.route("/conversations/<conversation_id>")
class ConversationById(MethodView):
    @blp.response(200, ConversationSchema)
    def get(self, conversation_id):
        """Retrieve a conversation"""
        return service.present(service.get(conversation_id))

    @blp.arguments(ConversationModifySchema(), error_status_code=400)
    @blp.response(200, ConversationSchema)
    def post(self, fields, conversation_id):
        """Update a conversation's metadata"""
        conversation = service.modify(service.get(conversation_id), fields)
        db.session.commit()
        return service.present(conversation)

    @blp.response(200, DeletedSchema)
    def delete(self, conversation_id):
        """Delete a conversation and its items"""
        deleted = service.delete(service.get(conversation_id))
        db.session.commit()
        return deleted


@blp.route("/conversations/<conversation_id>/items")
class ConversationItems(MethodView):
    @blp.arguments(ItemsIncludeQuerySchema(), location="query", error_status_code=400)
    @blp.arguments(ItemsCreateSchema(), error_status_code=400)
    @blp.response(200, ItemListSchema)
    @documents(409)
    def post(self, query, fields, conversation_id):
        """Add items to a conversation"""
        added = service.add_items(service.get(conversation_id), fields["items"])
        db.session.commit()
        return {"object": "list", "data": added, "first_id": added[0]["id"], "last_id": added[-1]["id"],
                "has_more": False}

    @blp.arguments(ItemListQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, ItemListSchema)
    def get(self, params, conversation_id):
        """List a conversation's items (after, limit, order)"""
        return service.list_items(service.get(conversation_id), params)


@blp.route("/conversations/<conversation_id>/items/<item_id>")
class ConversationItemById(MethodView):
    @blp.arguments(ItemsIncludeQuerySchema(), location="query", error_status_code=400)
    @blp.response(200, description="The item (a message, function_call or function_call_output item).")
    def get(self, query, conversation_id, item_id):
        """Retrieve an item"""
        return service.get_item(service.get(conversation_id), item_id)

    @blp.response(200, ConversationSchema)
    def delete(self, conversation_id, item_id):
        """Delete an item; answers the conversation"""
        conversation = service.delete_item(service.get(conversation_id), item_id)
        db.session.commit()
        return service.present(conversation)
