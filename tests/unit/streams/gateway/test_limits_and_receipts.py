"""Token buckets per provider, and the bounded receipt index."""

from __future__ import annotations

import pytest

from schemas.records import Issue, Receipt, ReceiptStatus, Severity
from streams.gateway.receipts import ReceiptIndex, receipt_json
from streams.http.limits import AuthThrottle, RateLimiter


def test_a_bucket_allows_its_burst_then_the_rate() -> None:
    limiter = RateLimiter(rate_per_s=2.0, burst=3)
    assert [limiter.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.take("a", 0.0) == 0.5  # the next token in half a second; nothing taken
    assert limiter.take("b", 0.0) == 0.0  # per provider
    assert limiter.take("a", 0.25) == 0.25
    assert limiter.take("a", 0.5) == 0.0
    assert limiter.take("a", 100.0) == 0.0 and limiter.take("a", 100.0) == 0.0
    assert limiter.take("a", 100.0) == 0.0 and limiter.take("a", 100.0) == 0.5  # refilled to the burst only
    assert RateLimiter(0, 1).take("a", 0.0) == 0.0


def receipt(event_id: str, *numbers: str) -> Receipt:
    issues = tuple(Issue(n, "TREND_BREAK", Severity.WARNING, "m", 96_000) for n in numbers)
    status = ReceiptStatus.ACCEPTED_WITH_WARNINGS if issues else ReceiptStatus.ACCEPTED
    return Receipt(event_id, "WVWZZZ1KZAW200001", "0412345678", status, issues, 1_763_890_000_000)


def test_the_index_finds_receipts_by_id_and_error_number_and_forgets_the_oldest() -> None:
    index = ReceiptIndex(max_entries=2)
    index.add(receipt("a", "E00000000000A"))
    index.add(receipt("b"))
    assert index.by_error_number("E00000000000A") == index.get("a")
    index.add(receipt("a", "E00000000000A"))  # a replayed output replaces, and becomes the newest
    index.add(receipt("c", "E00000000000C"))
    assert index.get("b") is None and len(index) == 2
    index.add(receipt("d"))
    assert index.get("a") is None and index.by_error_number("E00000000000A") is None
    assert index.by_error_number("E00000000000C") == index.get("c")


def test_the_receipt_as_answered() -> None:
    body = receipt_json(receipt("a", "E00000000000A"))
    assert body["request_id"] == "a" and "event_id" not in body and "type" not in body
    assert body["issues"][0] == {
        "error_number": "E00000000000A", "code": "TREND_BREAK", "severity": "WARNING", "message": "m",
        "suggested_value": 96_000,
    }  # fmt: skip
    assert body["processed_at"].endswith("Z")


def test_the_buckets_kept_are_bounded_and_wait_takes_nothing() -> None:
    limiter = RateLimiter(1.0, 2, max_keys=3)
    for address in ("a", "b", "c", "d"):
        assert limiter.take(address, 0.0) == 0.0
    assert len(limiter._buckets) == 3 and "a" not in limiter._buckets  # the least recently used went
    assert limiter.take("b", 0.0) == 0.0 and limiter.wait("b", 0.0) > 0  # b's two tokens are spent
    assert limiter.wait("b", 0.0) == limiter.wait("b", 0.0)  # asking takes nothing
    assert limiter.wait("unknown", 0.0) == 0.0


def test_failed_authentications_are_throttled_per_address() -> None:
    throttle = AuthThrottle(burst=3, per_minute=6.0)  # a failure to spare every 10 s after the burst
    for _ in range(3):
        assert throttle.blocked("10.0.0.9", 0.0) == 0.0
        throttle.failed("10.0.0.9", 0.0)
    assert throttle.blocked("10.0.0.9", 0.0) == pytest.approx(10.0)  # every request now, right key or not
    assert throttle.blocked("10.0.0.8", 0.0) == 0.0  # another address is not affected
    assert throttle.blocked("10.0.0.9", 9.9) > 0.0
    assert throttle.blocked("10.0.0.9", 10.0) == 0.0  # one more try after 10 s
    throttle.failed("10.0.0.9", 10.0)
    assert throttle.blocked("10.0.0.9", 10.0) == pytest.approx(10.0)
    assert AuthThrottle(burst=3, per_minute=0).blocked("10.0.0.9", 0.0) == 0.0  # off
    bounded = AuthThrottle(burst=1, per_minute=1.0, max_addresses=2)
    for address in ("a", "b", "c"):
        bounded.failed(address, 0.0)
    assert bounded.blocked("a", 0.0) == 0.0  # forgotten: at most max_addresses are kept
    assert bounded.blocked("c", 0.0) > 0.0
