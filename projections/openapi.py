"""The OpenAPI 3.1 document of the query API, generated from :data:`projections.api.ROUTES`.

``projections/openapi.json`` is this document, committed for readers and client generators;
``python -m projections.openapi > projections/openapi.json`` regenerates it, and a test checks that the
file, the generated document and the routes an application registers agree (paths and methods).
"""

from __future__ import annotations

from typing import Any

from projections.api import ROUTES, Route
from streams.http import openapi
from streams.http.auth import Role

_PARAMS: dict[str, dict[str, Any]] = {
    "vin": {
        "description": "Vehicle identification number (17 characters, ISO 3779)",
        "pattern": "^[A-HJ-NPR-Z0-9]{17}$",
    },
    "id": {"description": "Provider's 10-digit enterprise number", "pattern": "^[0-9]{10}$"},
    "number": {"description": "Certificate number (a UUID)", "pattern": "^[0-9a-f-]{36}$"},
}

_OPS: dict[str, dict[str, Any]] = {
    "history": {
        "summary": "A vehicle's registry data: readings with dates and origin, judgment, anomalies (R13)",
        "response": ("application/json", "CertificateView as JSON (schemas/avro/CertificateView.avsc)"),
    },
    "ok_label": {
        "summary": "The OK label for an advert (R12): eligible, and every denial with its reason",
        "query": {
            "name": "advertised_km",
            "in": "query",
            "required": True,
            "description": "The mileage shown in the advert, in km (R12.2)",
            "schema": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
        },
        "response": ("application/json", "eligible, denial_reasons (R12 order), explanations"),
    },
    "quality": {
        "summary": "A provider's quality per year (R10 Trusted Provider, R14 compliance)",
        "response": ("application/json", "ProviderQuality as JSON, late-submission share, R14 finding"),
    },
    "trusted": {
        "summary": "R10 for anyone, no key: the providers trusted in a year (rate-limited per address)",
        "query": {
            "name": "year",
            "in": "query",
            "required": False,
            "description": "The year (default: this year, Brussels)",
            "schema": {"type": "integer", "minimum": 1990, "maximum": 2999},
        },
        "response": ("application/json", "{year, rule, providers: [{provider_id, name, kind}]}"),
    },
    "report": {
        "summary": "R14 for the registry's staff: providers silent, with abnormally few readings, or with a "
                   "trend-break rate above max_rate, in a year; JSON or CSV (format=csv)",
        "query": {
            "name": "year",
            "in": "query",
            "required": False,
            "description": "The complete calendar year (default: last year); also max_rate (default 0.005) "
                           "and format (json or csv)",
            "schema": {"type": "integer", "minimum": 1990, "maximum": 2999},
        },
        "response": ("application/json", "{year, max_rate, columns, providers: [row]}; CSV with format=csv"),
    },
    "issue": {
        "summary": "Issue a signed certificate (R11): number, date, 2 months' validity, fee, signature",
        "header": {
            "name": "Idempotency-Key",
            "in": "header",
            "required": False,
            "description": "Issuance request id: repeated with the same key by the same issuer (or sent "
                           "twice at once), the request gets the first certificate (200); without it, "
                           "each request issues a new one",
            "schema": {"type": "string", "maxLength": 100},
        },
        "query": {
            "name": "language",
            "in": "query",
            "required": False,
            "description": "The certificate's language: nl, fr, de or en (default: Accept-Language, else en)",
            "schema": {"type": "string", "enum": ["nl", "fr", "de", "en"]},
        },
        "response": ("application/json", "The signed certificate document, recorded on certificates.issued "
                     "(200: the first certificate of this Idempotency-Key)"),
        "status": "201",
        "extra_responses": {
            "409": "The registry lacks the vehicle's registration",
            "503": "Issued but not yet recorded (repeat with the same Idempotency-Key), or a rebalance",
        },
    },
    "verify": {
        "summary": "Verify a certificate's authenticity by its number (R16) and return the signed content",
        "response": ("application/json", "authentic, valid_today, key_id, public_key (of the key that signed "
                     "it; null: unknown), certificate"),
    },
    "document": {
        "summary": "The issued certificate as its holder prints it (A4): its certified content in its "
                   "language, number, validity, fee, issuer, and a QR code of /verify/{number}",
        "response": ("text/html", "HTML page (Content-Language: the certificate's language)"),
    },
    "page": {
        "summary": "A preview of the certificate (no number) as a printable page with a mileage chart",
        "query": {
            "name": "lang",
            "in": "query",
            "required": False,
            "description": "nl, fr, de or en (default: the best of Accept-Language, else en)",
            "schema": {"type": "string", "enum": ["nl", "fr", "de", "en"]},
        },
        "response": ("text/html", "HTML page (Content-Language: its language)"),
    },
    "routing": {
        "summary": "Which worker (its advertised URL) owns which partitions of each table (operators only)",
        "response": ("application/json", "{worker URL: {changelog topic: [partitions]}} per table"),
    },
    "verify_page": {
        "summary": "R16 for anyone, no key: a page with the certificate's key facts and whether its "
                   "signature holds (rate-limited per client address)",
        "response": ("text/html", "HTML page: authentic or not, valid today or not, the certified facts"),
    },
    "keys": {
        "summary": "The registry's public keys, by key id, that certificates are verified with (no key)",
        "response": ("application/json", "{keys: [{key_id, algorithm, public_key (PEM), current}]}"),
    },
}


def _operation(route: Route) -> dict[str, Any]:
    spec = _OPS[route.name]
    params: list[dict[str, Any]] = []
    for name, info in _PARAMS.items():
        if "{" + name + "}" in route.path:
            params.append(
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": info["description"],
                    "schema": {"type": "string", "pattern": info["pattern"]},
                }
            )
    params += [spec[k] for k in ("query", "header") if k in spec]
    media, description = spec["response"]
    roles = sorted(r.value for r in route.access.roles)
    own = " (a provider key: its own id only)" if route.access.own_provider else ""
    if route.access.provider_kinds:
        kinds = ", ".join(sorted(k.value for k in route.access.provider_kinds))
        own += f" (a provider key: registered as {kinds} only)"
    if route.access.anonymous:
        return {
            "operationId": route.name,
            "summary": spec["summary"],
            "description": "Anyone: no key needed.",
            "x-roles": ["anyone"],
            "parameters": params,
            "security": [],
            "responses": {
                spec.get("status", "200"): {"description": description, "content": {media: {}}},
                "400": {"description": "Malformed path"},
                "404": {"description": "Not found"},
                "429": {"description": "Too many requests from this address (Retry-After)"},
            },
        }
    return {
        "operationId": route.name,
        "summary": spec["summary"],
        "description": f"Roles: {', '.join(roles)}{own}.",
        "x-roles": roles,
        "parameters": params,
        "security": [{"bearer": []}, {"apiKey": []}],
        "responses": {
            spec.get("status", "200"): {"description": description, "content": {media: {}}},
            "400": {"description": "Malformed path or query"},
            "401": {"description": "No or unknown API key"},
            "403": {"description": "The key's role may not use this route"},
            "404": {"description": "Not found (no vehicle data in the message)"},
            **{code: {"description": text} for code, text in spec.get("extra_responses", {}).items()},
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document of :data:`ROUTES`."""
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return openapi.document(
        "carpass-streams query API",
        "Certificates (R11, R16), OK labels (R12), provider quality (R10, R14). "
        f"Roles (R15): {', '.join(r.value for r in Role)}.",
        paths,
    )


def dumps() -> str:
    return openapi.dumps(document())


if __name__ == "__main__":
    print(dumps(), end="")
