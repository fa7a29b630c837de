"""The Assistants API v2 at /v1, one module per resource on one blueprint."""
from . import assistants, files, runs, threads, vector_store_files, vector_stores  # noqa: F401 - they add routes
from .blueprint import blp

__all__ = ["blp"]
