"""What-if policies: thresholds changed by name, anything else refused with what is wrong."""

from __future__ import annotations

import pytest

from schemas.records import Origin, ProviderKind
from streams.domain.policy import DEFAULT_POLICY, PolicyError, policy_with


def test_named_thresholds_change_and_the_rest_stay() -> None:
    policy = policy_with(DEFAULT_POLICY, {"trend": {"tolerance_km": 250}, "weights": {"workshop": 2}})
    assert policy.trend.tolerance_km == 250
    assert policy.trend.max_km_per_day == DEFAULT_POLICY.trend.max_km_per_day
    assert policy.weights.workshop == 2.0 and isinstance(policy.weights.workshop, float)
    # the weights' lookup table is computed again from the new weights
    assert policy.weights.by_source[Origin.WORKSHOP][ProviderKind.GARAGE] == 2.0
    assert policy.receipts == DEFAULT_POLICY.receipts and policy.bounds == DEFAULT_POLICY.bounds
    assert policy_with(DEFAULT_POLICY, {}) == DEFAULT_POLICY


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"rules": {}}, "'rules' is not a section"),
        ({"trend": 5}, "trend: a mapping"),
        ({"trend": {"tolerance": 5}}, "trend.tolerance is not a setting"),
        ({"trend": {"tolerance_km": "250"}}, "trend.tolerance_km: '250' is not of type int"),
        ({"trend": {"tolerance_km": 2.5}}, "is not of type int"),
        ({"trend": {"tolerance_km": True}}, "is not of type int"),
        ({"weights": {"by_source": {}}}, "weights.by_source is not a setting"),
    ],
)
def test_anything_else_is_refused_with_what_is_wrong(overrides: dict[str, object], says: str) -> None:
    with pytest.raises(PolicyError, match=says.replace(".", r"\.").replace("(", r"\(")):
        policy_with(DEFAULT_POLICY, overrides)
