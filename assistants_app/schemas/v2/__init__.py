"""The Assistants API v2 (/v1) in marshmallow: OpenAI's request and response objects."""
