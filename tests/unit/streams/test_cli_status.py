"""``carpass status``'s screen from a report (pure; the gathering is tested on a broker)."""

from __future__ import annotations

from typing import Any

from streams.cli.status import render


def report(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "bootstrap": "kafka:9092", "brokers": ["1 kafka:9092"], "controller": 1, "topic_prefix": "",
        "topics": [
            {"name": "odometer.readings", "kind": "input", "key": "vin", "partitions": 8},
            {"name": "carpass.plate-intervals", "kind": "internal", "key": "plate", "partitions": None},
        ],
        "group": {"id": "carpass-streams", "state": "STABLE", "members": [
            {"client_id": "w-1", "host": "/10.0.0.5", "partitions": ["odometer.readings[0]"]}]},
        "lag": [{"topic": "odometer.readings", "partition": 0, "committed": 90, "high": 100, "lag": 10},
                {"topic": "odometer.readings", "partition": 1, "committed": None, "high": 7, "lag": 7},
                {"topic": "odometer.readings", "partition": 2, "committed": 5, "high": 5, "lag": 0}],
        "dead_letters_last_hour": {"wrong-magic": 2},
        "workers": [{"url": "http://w-1:6066", "up": True, "batch_failures": 0, "input_lag": 17},
                    {"url": "http://w-2:6066", "up": False}],
        "problems": ["topic carpass.plate-intervals is missing", "2 dead letters in the last hour"],
    }  # fmt: skip
    base.update(changes)
    return base


def test_the_screen_says_what_is_wrong_and_where_the_lag_is() -> None:
    text = render(report())
    assert "topics (prefix ''): 1 of 2 present" in text and "MISSING" in text
    assert "group carpass-streams: STABLE, 1 member(s)" in text and "w-1 on /10.0.0.5: 1 partitions" in text
    assert "lag: 17 messages over 3 partitions" in text
    assert "odometer.readings[0]: 10 (committed 90, end 100)" in text
    assert "odometer.readings[1]: 7 (nothing committed, end 7)" in text
    assert "odometer.readings[2]" not in text  # no lag, no line
    assert "wrong-magic: 2" in text and "http://w-2:6066: DOWN" in text
    assert "input lag 17" in text
    problems = "2 problem(s):\n  - topic carpass.plate-intervals is missing\n  - 2 dead letters in the last hour"  # noqa: E501
    assert text.endswith(problems)


def test_a_healthy_pipeline_says_so() -> None:
    text = render(report(problems=[], dead_letters_last_hour={}, workers=[]))
    assert text.endswith("healthy") and "dead letters in the last hour: 0" in text
