"""The recent receipts a gateway instance knows, by request (event) id and by error number; pure.

::

    odometer.receipts ──(follower thread, streams.gateway.kafka)──► ReceiptIndex.add
    GET /observations/{id} ───────────► get(event_id)        the receipt, or None (pending)
    POST /corrections (error number) ─► by_error_number(n)   the receipt that issued n: its VIN, provider
    POST /observations/{id}/confirm ──► get(event_id)        the reading's VIN and provider

Bounded: at most ``max_entries`` receipts, the oldest added forgotten first (with their error numbers).
A receipt added again (a replayed output) replaces the earlier one.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from schemas.jsonl import to_json_obj
from schemas.records import Receipt


class ReceiptIndex:
    """At most ``max_entries`` receipts, by event id, plus their error numbers."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max(1, max_entries)
        self._by_id: OrderedDict[str, Receipt] = OrderedDict()
        self._by_error: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, receipt: Receipt) -> None:
        previous = self._by_id.pop(receipt.event_id, None)
        if previous is not None:
            self._forget_numbers(previous)
        self._by_id[receipt.event_id] = receipt
        for issue in receipt.issues:
            self._by_error[issue.error_number] = receipt.event_id
        while len(self._by_id) > self.max_entries:
            _, oldest = self._by_id.popitem(last=False)
            self._forget_numbers(oldest)

    def _forget_numbers(self, receipt: Receipt) -> None:
        for issue in receipt.issues:
            if self._by_error.get(issue.error_number) == receipt.event_id:
                del self._by_error[issue.error_number]

    def get(self, event_id: str) -> Receipt | None:
        return self._by_id.get(event_id)

    def by_error_number(self, number: str) -> Receipt | None:
        event_id = self._by_error.get(number)
        return None if event_id is None else self._by_id.get(event_id)


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    """The receipt as the gateway answers it: ``request_id`` (the event id), ``status``, ``vin`` (empty for
    a plate that was never resolved), ``issues`` (error number, code, severity, message, suggested
    value) and ``processed_at`` (ISO-8601)."""
    body = to_json_obj(receipt)
    body.pop("type", None)
    return {"request_id": body.pop("event_id"), **body}
