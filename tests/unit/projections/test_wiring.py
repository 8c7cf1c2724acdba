"""The worker-free parts of the wiring: the views hook and the provider-event decoding."""

from __future__ import annotations

from projections.views import certificate_view, ok_label_view
from projections.wiring import ViewPublisher, decode_provider_event
from schemas.codec import Codec
from schemas.records import Receipt, ReceiptStatus
from schemas.views import CertificateView, OkLabelView
from streams.processor import MemorySink
from tests.unit.projections.builders import PROVIDER, VIN, clean_old_vehicle, ms


def test_the_hook_publishes_both_views_keyed_by_vin_and_a_replay_gives_the_same_bytes() -> None:
    codec, sink = Codec(), MemorySink()
    hook = ViewPublisher(codec, sink, "p.carpass.certificates", "p.carpass.ok-labels")
    state, as_of = clean_old_vehicle(), ms(2024, 3, 2)
    hook(VIN, state, as_of)
    hook(VIN, state, as_of)
    (t1, k1, v1, _), (t2, k2, v2, _), again_cert, again_label = sink.sent
    assert (t1, t2, k1, k2) == ("p.carpass.certificates", "p.carpass.ok-labels", VIN.encode(), VIN.encode())
    assert codec.decode(v1, CertificateView) == certificate_view(state, as_of)
    assert codec.decode(v2, OkLabelView) == ok_label_view(state, as_of)
    assert (again_cert[2], again_label[2]) == (v1, v2)


def test_the_hook_never_raises() -> None:
    class Broken:
        def send(self, topic: str, key: bytes, value: bytes, partition: int | None = None) -> None:
            raise RuntimeError("broker down")

    ViewPublisher(Codec(), Broken(), "a", "b")(VIN, clean_old_vehicle(), 0)


def test_provider_events_are_decoded_and_anything_else_ignored() -> None:
    codec = Codec()
    receipt = Receipt("r-1", VIN, PROVIDER, ReceiptStatus.ACCEPTED, (), ms(2024, 1, 1))
    assert decode_provider_event(codec, codec.encode(receipt)) == receipt
    assert decode_provider_event(codec, codec.encode(ok_label_view(clean_old_vehicle(), 0))) is None
    assert decode_provider_event(codec, b"junk") is None
