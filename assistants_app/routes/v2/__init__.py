"""The Assistants API v2 at /v1, one module per resource on one blueprint."""
# Each module adds its routes to blp.
from . import assistants, files, models, runs, threads, vector_store_files, vector_stores  # noqa: F401
from .blueprint import blp

__all__ = ["blp"]
