"""``carpass diff``'s comparison: per vehicle, in totals, receipts, Trusted Provider years."""

from __future__ import annotations

from projections.whatif import WhatIf, compare_receipts, compare_trusted, compare_vehicles, render
from schemas.records import AnomalyKind, Judgment, Receipt, ReceiptStatus
from schemas.views import CertificateAnomaly, CertificateView, OkLabelView


def _certificate(vin: str, judgment: Judgment, *anomalies: tuple[AnomalyKind, str]) -> CertificateView:
    open_anomalies = tuple(CertificateAnomaly(anomaly_id=f"a-{blamed}", kind=kind, blamed_event_id=blamed)
                           for kind, blamed in anomalies)  # fmt: skip
    return CertificateView(vin=vin, as_of=1, judgment=judgment, open_anomalies=open_anomalies)


def _label(vin: str, eligible: bool) -> OkLabelView:
    return OkLabelView(vin=vin, as_of=1, eligible=eligible)


def _receipt(event_id: str, status: ReceiptStatus) -> Receipt:
    return Receipt(event_id=event_id, vin="V", provider_id="p", status=status, issues=(), processed_at=1)


def test_vehicles_that_change_are_listed_with_what_changed_and_counted() -> None:
    base = {
        "A": _certificate("A", Judgment.ILLOGICAL, (AnomalyKind.DIP, "r1")),
        "B": _certificate("B", Judgment.LOGICAL),
        "C": _certificate("C", Judgment.LOGICAL),
        "D": _certificate("D", Judgment.ILLOGICAL, (AnomalyKind.SPIKE, "r7")),
        "only-base": _certificate("only-base", Judgment.LOGICAL),
    }
    what_if = {
        "A": _certificate("A", Judgment.LOGICAL),
        "B": _certificate("B", Judgment.ILLOGICAL, (AnomalyKind.ROLLBACK, "r3")),
        "C": _certificate("C", Judgment.LOGICAL),
        "D": _certificate("D", Judgment.ILLOGICAL, (AnomalyKind.SPIKE, "r8")),  # blamed on another reading
    }
    labels = {vin: _label(vin, eligible) for vin, eligible in (("A", False), ("B", True), ("C", True),
                                                                ("D", False))}  # fmt: skip
    labels_what_if = {**labels, "A": _label("A", True), "B": _label("B", False)}
    result = WhatIf()
    compare_vehicles(base, what_if, labels, labels_what_if, result)
    assert (result.vehicles_base, result.vehicles_what_if, result.vehicles_compared) == (5, 4, 4)
    assert [c.vin for c in result.changes] == ["A", "B", "D"]
    a, b, d = result.changes
    assert a.judgment == ("ILLOGICAL", "LOGICAL") and a.ok_label == (False, True) and a.closed == ("DIP@r1",)
    assert b.opened == ("ROLLBACK@r3",) and b.ok_label == (True, False)
    assert d.judgment is None and d.opened == ("SPIKE@r8",) and d.closed == ("SPIKE@r7",)
    assert result.judgments == {("ILLOGICAL", "LOGICAL"): 1, ("LOGICAL", "ILLOGICAL"): 1}
    assert (result.ok_granted, result.ok_denied) == (1, 1)
    assert result.opened == {"ROLLBACK": 1, "SPIKE": 1} and result.closed == {"DIP": 1, "SPIKE": 1}
    text = render(result, "p-", "w-")
    assert "4 vehicles compared" in text and "OK label: 1 granted, 1 denied (net +0)" in text
    assert "A: ILLOGICAL -> LOGICAL; OK label granted; -DIP@r1" in text


def test_receipts_are_compared_by_event_id_and_trusted_years_both_ways() -> None:
    result = WhatIf()
    base = {"e1": _receipt("e1", ReceiptStatus.ACCEPTED), "e2": _receipt("e2", ReceiptStatus.ACCEPTED),
            "e3": _receipt("e3", ReceiptStatus.ACCEPTED)}  # fmt: skip
    what_if = {"e1": _receipt("e1", ReceiptStatus.ACCEPTED_WITH_WARNINGS), "e2": base["e2"]}
    compare_receipts(base, what_if, result)
    assert result.readings_compared == 2
    assert result.receipts == {("ACCEPTED", "ACCEPTED_WITH_WARNINGS"): 1}
    compare_trusted({("p1", 2025), ("p2", 2025)}, {("p2", 2025), ("p3", 2025)}, result)
    assert result.trusted_gained == [("p3", 2025)] and result.trusted_lost == [("p1", 2025)]
    assert result.to_json_obj()["trusted_provider"] == {"gained": [["p3", 2025]], "lost": [["p1", 2025]]}
