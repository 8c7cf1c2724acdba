"""The parts the two OpenAPI documents share (the worker's API and the inflow gateway): the document's
frame with its security schemes, and its JSON text."""

from __future__ import annotations

import json
from typing import Any

SECURITY_SCHEMES: dict[str, Any] = {
    "bearer": {"type": "http", "scheme": "bearer"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}
"""How a client presents its key: ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""


def document(title: str, description: str, paths: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An OpenAPI 3.1 document of ``paths`` (path -> method -> operation), version 1."""
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": description},
        "paths": paths,
        "components": {"securitySchemes": SECURITY_SCHEMES},
    }


def dumps(doc: dict[str, Any]) -> str:
    """The document as the committed ``openapi.json`` files are written (sorted keys, two spaces)."""
    return json.dumps(doc, indent=2, sort_keys=True) + "\n"
