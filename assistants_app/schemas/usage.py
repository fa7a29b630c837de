"""GET /usage: token usage of the caller's tenant over a time range, grouped."""
import math
import re
from datetime import datetime, timezone

from marshmallow import ValidationError, fields, validate

from .common import StrictSchema

GROUPS = ("day", "assistant", "model", "api_key")
UNIX_SECONDS = re.compile(r"-?\d+(\.\d+)?")
EARLIEST, LATEST = datetime(1970, 1, 1, tzinfo=timezone.utc), datetime(9999, 1, 1, tzinfo=timezone.utc)


class Moment(fields.Field):
    """A point in time as unix seconds or ISO 8601 (without a zone: UTC), as an aware UTC datetime."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = str(value).strip()
        try:
            if UNIX_SECONDS.fullmatch(text):
                seconds = float(text)
                if not math.isfinite(seconds):
                    raise ValueError
                moment = datetime.fromtimestamp(seconds, timezone.utc)
            else:
                moment = datetime.fromisoformat(text)
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=timezone.utc)
                moment = moment.astimezone(timezone.utc)
        except (ValueError, OverflowError, OSError):
            raise ValidationError("Not a time: give unix seconds or ISO 8601 "
                                  "(2026-11-30T00:00:00Z).") from None
        if not EARLIEST <= moment <= LATEST:
            raise ValidationError("The time must be between 1970 and 9999.")
        return moment


class UsageQuerySchema(StrictSchema):
    start = Moment(metadata={"description": "Unix seconds or ISO 8601, included. Default: 30 days "
                                            "before end.",
                             "example": "2026-11-01T00:00:00Z"})
    end = Moment(metadata={"description": "Unix seconds or ISO 8601, excluded. Default: now.",
                           "example": 1764547200})
    group_by = fields.String(load_default="day", validate=validate.OneOf(GROUPS),
                             metadata={"description": "One of day, assistant, model, api_key."})


class UsageGroupSchema(StrictSchema):
    day = fields.String(metadata={"description": "With group_by=day: the UTC date, YYYY-MM-DD."})
    assistant_id = fields.String(metadata={"description": "With group_by=assistant."})
    model = fields.String(metadata={"description": "With group_by=model."})
    api_key_id = fields.Integer(allow_none=True, metadata={"description": "With group_by=api_key."})
    turns = fields.Integer()
    prompt_tokens = fields.Integer()
    completion_tokens = fields.Integer()
    total_tokens = fields.Integer()


class UsageListSchema(StrictSchema):
    object = fields.Constant("list")
    start = fields.Integer(metadata={"description": "Unix seconds."})
    end = fields.Integer(metadata={"description": "Unix seconds."})
    data = fields.List(fields.Nested(UsageGroupSchema))
