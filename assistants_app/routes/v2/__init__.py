"""The Assistants API v2 at /v1, one module per resource on one blueprint."""
from . import assistants, models, runs, threads  # noqa: F401 - they add their routes to blp
from .blueprint import blp

__all__ = ["blp"]
