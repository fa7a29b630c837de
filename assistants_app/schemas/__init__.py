"""marshmallow schemas, one module per API; fields shared by several live in common."""
