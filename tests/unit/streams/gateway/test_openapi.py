"""The gateway's OpenAPI document against the routes its application registers."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.codec import Codec
from streams.gateway import openapi
from streams.gateway.service import Gateway
from streams.http.auth import ApiKeys
from streams.settings import Settings

STATIC = Path(openapi.__file__).with_name("openapi.json")


async def _never(topic: str, key: str, value: bytes) -> None:
    raise AssertionError("nothing is produced here")


def _registered() -> set[tuple[str, str]]:
    app = Gateway(Settings.from_env({}), ApiKeys({}), _never, Codec()).application()
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if route.method != "HEAD":
            found.add((route.method, str(info.get("formatter") or info.get("path"))))
    return found


def test_openapi_paths_and_methods_equal_the_registered_routes() -> None:
    documented = {(m.upper(), p) for p, ops in openapi.document()["paths"].items() for m in ops}
    assert documented == _registered()
    assert ("POST", "/observations/{id}/confirm") in documented and len(documented) == 6


def test_static_openapi_json_is_the_generated_document() -> None:
    assert json.loads(STATIC.read_text()) == openapi.document(), "run: python -m streams.gateway.openapi"


def test_the_observation_body_lists_every_field_the_gateway_accepts() -> None:
    from streams.gateway.requests import _OBSERVATION_FIELDS

    body = openapi.document()["paths"]["/observations"]["post"]["requestBody"]
    assert set(body["content"]["application/json"]["schema"]["properties"]) == _OBSERVATION_FIELDS
