"""The OpenAPI 3.1 document of the gateway, generated from :data:`streams.gateway.service.ROUTES`.

``streams/gateway/openapi.json`` is this document, committed for DMS vendors and client generators;
``python -m streams.gateway.openapi > streams/gateway/openapi.json`` regenerates it, and a test checks
that the file, the generated document and the routes the application registers agree.
"""

from __future__ import annotations

from typing import Any

from schemas.catalog import schema_for
from schemas.records import OdometerReading
from streams.gateway.requests import MAX_COUNTER_DIGITS, MAX_TEXT
from streams.gateway.service import ROUTES, GatewayRoute
from streams.http import openapi

_READING = {f["name"]: f for f in schema_for(OdometerReading).expanded["fields"]}


def _enum(name: str) -> dict[str, Any]:
    return {"type": "string", "enum": list(_READING[name]["type"]["symbols"])}


_TIME = {"type": "string", "format": "date-time", "description": "ISO-8601 with a time zone"}
_TEXT = {"type": ["string", "null"], "maxLength": MAX_TEXT}
_REQUEST_ID = {
    "type": "string", "pattern": "^[A-Za-z0-9._:-]{1,100}$",
    "description": "Chosen by the client; the same id with the same body is accepted once (idempotency)",
}  # fmt: skip
_ID = {
    "name": "id", "in": "path", "required": True,
    "description": "The request id the gateway answered (a UUID)",
    "schema": {"type": "string", "format": "uuid"},
}  # fmt: skip
_ISSUE = {
    "type": "object",
    "properties": {
        "error_number": {"type": "string", "description": "Quote it to correct the reading (R5)"},
        "code": {"type": "string"},
        "severity": {"type": "string", "enum": ["WARNING", "ERROR"]},
        "message": {"type": "string"},
        "suggested_value": {"type": ["integer", "null"], "description": "The likely right value, if any"},
    },
}
_RECEIPT = {
    "type": "object",
    "description": "The receipt (R4), or {request_id, status: PENDING} while the pipeline works on it",
    "properties": {
        "request_id": {"type": "string"},
        "status": {"type": "string", "enum": ["PENDING", "ACCEPTED", "ACCEPTED_WITH_WARNINGS", "REJECTED"]},
        "vin": {"type": "string"},
        "provider_id": {"type": "string"},
        "issues": {"type": "array", "items": _ISSUE},
        "processed_at": {"type": "string", "format": "date-time"},
    },
}
_ACCEPTED = {
    "type": "object",
    "properties": {
        "request_id": {"type": "string", "format": "uuid"},
        "client_request_id": {"type": "string"},
        "status": {
            "type": "string", "enum": ["PENDING", "ACCEPTED", "ACCEPTED_WITH_WARNINGS", "REJECTED"],
            "description": "PENDING, or the receipt's status when the request is a repeat",
        },
        "receipt_url": {"type": "string"},
    },
}
_OBSERVATION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["request_id", "odometer_value", "observed_at"],
    "description": "Exactly one of vin and plate. provider_id and provider_kind, if given, must be the "
    "key's; origin must be one of the key's (required when the key has several). A claim of another is a "
    "403: they set the reading's weight in the trend.",
    "properties": {
        "request_id": _REQUEST_ID,
        "vin": {"type": "string", "pattern": "^[A-Za-z0-9]{1,32}$"},
        "plate": {"type": "string", "pattern": "^[A-Z0-9-]{1,16}$"},
        "odometer_value": {"type": "integer", "description": "As shown on the dashboard (R1)"},
        "unit": {**_enum("unit"), "default": "KM"},
        "observed_at": _TIME,
        "provider_kind": _enum("provider_kind"),
        "origin": _enum("origin"),
        "odometer_replaced": {"type": "boolean", "default": False},
        "counter_digits": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_COUNTER_DIGITS},
        "work_description": _TEXT,
        "provider_id": {"type": "string", "pattern": "^[0-9]{10}$"},
    },
}
_CORRECTION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["request_id", "error_number"],
    "description": "A corrected value and/or date, or withdraw: true. vin is needed only for an error "
    "number older than the gateway remembers.",
    "properties": {
        "request_id": _REQUEST_ID,
        "error_number": {"type": "string", "pattern": "^E[0-9A-F]{12}$"},
        "vin": {"type": "string"},
        "corrected_value": {"type": ["integer", "null"]},
        "corrected_observed_at": {**_TIME, "type": ["string", "null"]},
        "withdraw": {"type": "boolean", "default": False},
        "justification": _TEXT,
    },
}
_CONFIRMATION = {"type": "object", "additionalProperties": False, "properties": {"note": _TEXT}}

_OPS: dict[str, dict[str, Any]] = {
    "observe": {
        "summary": "Submit an odometer reading by VIN or by plate; answered once it is on the event log",
        "body": _OBSERVATION, "status": "202", "response": _ACCEPTED,
    },
    "observation": {
        "summary": "The receipt of a submission: status, issues with error numbers and suggested values",
        "wait": True, "status": "200", "response": _RECEIPT,
    },
    "confirm": {
        "summary": "State that your flagged reading is right (shown in the history; staff decide)",
        "body": _CONFIRMATION, "status": "202", "response": {"type": "object"},
    },
    "correct": {
        "summary": "Correct an error number once electronically (R5), or withdraw the reading",
        "body": _CORRECTION, "status": "202", "response": _ACCEPTED,
    },
    "correction": {
        "summary": "The receipt of a correction (a second electronic correction is REJECTED there)",
        "wait": True, "status": "200", "response": _RECEIPT,
    },
    "health": {
        "summary": "200 once this instance has read the recent receipts, 503 while it catches up",
        "status": "200", "response": {"type": "object"},
    },
}  # fmt: skip

_WAIT = {
    "name": "wait_s", "in": "query", "required": False,
    "description": "Wait up to this many seconds for the receipt (long-poll)",
    "schema": {"type": "number", "minimum": 0},
}  # fmt: skip


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _operation(route: GatewayRoute) -> dict[str, Any]:
    spec = _OPS[route.name]
    operation: dict[str, Any] = {
        "operationId": route.name,
        "summary": spec["summary"],
        "parameters": ([_ID] if "{id}" in route.path else []) + ([_WAIT] if spec.get("wait") else []),
        "responses": {spec["status"]: {"description": "OK", "content": _json(spec["response"])}},
    }
    if "body" in spec:
        operation["requestBody"] = {"required": True, "content": _json(spec["body"])}
    if route.access is not None:
        roles = sorted(r.value for r in route.access.roles)
        operation["x-roles"] = roles
        operation["security"] = [{"bearer": []}, {"apiKey": []}]
        operation["responses"].update({
            "400": {"description": "A field breaks a rule: {error, errors: [{field, rule}]}"},
            "401": {"description": "No or unknown API key"},
            "403": {"description": "The key's role may not (or the error number corrected is another's); "
                    "another provider's request reads as one not known yet"},
            "429": {"description": "Over this provider's rate: retry after Retry-After seconds"},
        })  # fmt: skip
        if route.method == "POST":
            operation["responses"]["409"] = {"description": "request_id reused with another body"}
            operation["responses"]["503"] = {"description": "Not recorded (Kafka): retry, same request_id"}
    else:
        operation["responses"]["503"] = {"description": "Still reading the recent receipts"}
    return operation


def document() -> dict[str, Any]:
    """The OpenAPI document of :data:`ROUTES`."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return openapi.document(
        "carpass-streams inflow gateway",
        "Odometer readings in, receipts out, for dealer-management software: the Car-Pass inflow "
        "interface over the event log. Provider keys are bound to the 10-digit enterprise number.",
        paths,
    )


def dumps() -> str:
    return openapi.dumps(document())


if __name__ == "__main__":
    print(dumps(), end="")
