"""The HTTP API (``koodispatch serve``): JSON under ``/api/v1`` over ``engine.api``, and its OpenAPI."""
