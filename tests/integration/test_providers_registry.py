"""The registry of providers on the real broker: a worker judges readings by ``providers.registry``.

- unknown provider → REJECTED (PROVIDER_NOT_REGISTERED); a garage claiming an inspection body → weighed as a
  garage (PROVIDER_KIND_CORRECTED); a garage declaring an inspection → REJECTED (ORIGIN_NOT_ALLOWED);
- providers registered and sending their first reading right after (live: the registration one topic away,
  read by another consumer): every one ACCEPTED, none judged before its registration was read;
- every input answered by exactly one receipt.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.records import Origin, ProviderKind, ProviderRegistration, Receipt, ReceiptStatus
from tests.integration.worker_harness import Feeder, pipeline, read_topic, records_of
from tests.unit.streams.domain.builders import GARAGE, at, reading, registration

pytestmark = pytest.mark.integration

STATION = "0400000102"


def registered(provider: str, kind: ProviderKind, changed_at: int) -> ProviderRegistration:
    return ProviderRegistration(f"p-{provider}", provider, f"provider {provider}", kind, ("45201",), True,
                                changed_at)  # fmt: skip


def test_readings_are_judged_by_the_registry_of_providers(kafka_bootstrap: str, tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    with pipeline(kafka_bootstrap, tmp_path, partitions=2) as p:
        feed = Feeder(p)
        feed.records([registered(GARAGE, ProviderKind.GARAGE, at("2010-01-01")),
                      registered(STATION, ProviderKind.INSPECTION_BODY, at("2010-01-01"))])  # fmt: skip
        feed.records([registration()])
        checked = [
            reading("honest", 15_000, "2019-03-04"),
            reading("stranger", 30_000, "2020-03-04", provider_id="0999999999"),
            reading("claims-weight", 30_100, "2020-03-05", provider_kind=ProviderKind.INSPECTION_BODY),
            reading("claims-inspection", 30_200, "2020-03-06", origin=Origin.INSPECTION),
            reading("station", 45_000, "2021-03-04", provider_id=STATION,
                    provider_kind=ProviderKind.INSPECTION_BODY, origin=Origin.INSPECTION),
        ]  # fmt: skip
        feed.records(checked)
        p.start()
        # Live: twenty providers register and send their first reading at once, each right after its
        # registration (stamped now, on another topic than the reading).
        newcomers = [f"05000000{i:02d}" for i in range(20)]
        day = datetime.fromtimestamp(now / 1000, UTC).date().isoformat()
        for i, provider in enumerate(newcomers):
            feed.records([registered(provider, ProviderKind.GARAGE, now)])
            first = reading(f"new-{i}", 60_000 + i, day, provider_id=provider, observed_at=now - 60_000,
                            submitted_at=now)  # fmt: skip
            feed.records([first])
        expected = len(checked) + len(newcomers)

        def all_answered(messages: list[object]) -> bool:
            return len(records_of(messages, Receipt)) >= expected

        messages = read_topic(kafka_bootstrap, p.topics.receipts, all_answered, check=p.assert_alive)
        receipts = {r.event_id: r for r in records_of(messages, Receipt)}
        assert len(receipts) == expected

        def codes(event_id: str) -> list[str]:
            return [issue.code for issue in receipts[event_id].issues]

        late = {
            i: codes(f"new-{i}")
            for i in range(len(newcomers))
            if "PROVIDER_NOT_REGISTERED" in codes(f"new-{i}")
        }
        assert late == {}, "judged before their registration was read"
        assert receipts["honest"].status is ReceiptStatus.ACCEPTED
        assert receipts["stranger"].status is ReceiptStatus.REJECTED
        assert codes("stranger") == ["PROVIDER_NOT_REGISTERED"]
        assert "PROVIDER_KIND_CORRECTED" in codes("claims-weight")
        assert receipts["claims-weight"].status is not ReceiptStatus.REJECTED
        assert codes("claims-inspection") == ["ORIGIN_NOT_ALLOWED"]
        assert receipts["station"].status is ReceiptStatus.ACCEPTED
