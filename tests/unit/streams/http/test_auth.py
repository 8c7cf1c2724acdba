"""The keys file: a provider key's registered kind and origins (what the gateway weighs its readings by)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from schemas.records import Origin, ProviderKind
from streams.domain.policy import ORIGINS_OF_KIND
from streams.gateway.server import gateway_keys
from streams.http.auth import ApiKeys, ApiKeysError, Role
from streams.settings import Settings


def keys(**entry: Any) -> ApiKeys:
    return ApiKeys.from_entries([{"name": "k", "role": "provider", "provider_id": "0412345678", "key": "s",
                                  **entry}])  # fmt: skip


def test_every_kind_has_its_usual_origins() -> None:
    assert set(ORIGINS_OF_KIND) == set(ProviderKind)
    assert all(ORIGINS_OF_KIND.values())
    assert ORIGINS_OF_KIND[ProviderKind.GARAGE] == {Origin.WORKSHOP}
    assert ORIGINS_OF_KIND[ProviderKind.INSPECTION_BODY] == {Origin.INSPECTION}


def test_a_provider_key_has_its_kind_and_origins() -> None:
    garage = keys(provider_kind="GARAGE").authenticate("s")
    assert (garage.role, garage.provider_kind, garage.origins) == (
        Role.PROVIDER, ProviderKind.GARAGE, frozenset({Origin.WORKSHOP})
    )
    oem = keys(provider_kind="MANUFACTURER", origins=["CONNECTED_VEHICLE"]).authenticate("s")
    assert oem.origins == {Origin.CONNECTED_VEHICLE}  # narrower than the kind's usual two
    assert keys().providers_without_kind() == ["k"]
    assert keys(provider_kind="GARAGE").providers_without_kind() == []
    dealer = ApiKeys.from_entries([{"role": "dealer", "key": "d", "provider_kind": "GARAGE"}])
    assert dealer.authenticate("d").provider_kind is None  # only provider keys speak for a provider
    assert dealer.providers_without_kind() == []


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"provider_kind": "garage"}, "provider_kind 'garage' is not one of"),
        ({"provider_kind": "GARAGE", "origins": []}, "non-empty list"),
        ({"provider_kind": "GARAGE", "origins": "WORKSHOP"}, "non-empty list"),
        ({"provider_kind": "GARAGE", "origins": ["WORKSHOP", "SPACE"]}, "each one of"),
        ({"origins": ["WORKSHOP"]}, "origins without a provider_kind"),
    ],
)
def test_a_bad_kind_or_origin_is_refused_with_the_key_named(entry: dict[str, Any], says: str) -> None:
    with pytest.raises(ApiKeysError, match="keys\\[0\\] \\(k\\)") as refused:
        keys(**entry)
    assert says in str(refused.value)


def test_the_gateway_refuses_a_keys_file_with_a_provider_key_without_its_kind(tmp_path: Path) -> None:
    """Before touching Kafka, with the keys named: it would otherwise 403 every reading of those keys."""
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [
        {"name": "garage-7", "role": "provider", "provider_id": "0412345678", "key": "a"},
        {"name": "station-2", "role": "provider", "provider_id": "0400000002", "key": "b",
         "provider_kind": "INSPECTION_BODY"},
        {"name": "ops", "role": "operator", "key": "c"},
    ]}))  # fmt: skip
    settings = dataclasses.replace(Settings.from_env({}), api_keys_file=str(path))
    with pytest.raises(ApiKeysError, match=r"without a provider_kind \(garage-7\)"):
        gateway_keys(settings)
    path.write_text(path.read_text().replace('"key": "a"', '"key": "a", "provider_kind": "GARAGE"'))
    assert gateway_keys(settings).authenticate("b").origins == {Origin.INSPECTION}
