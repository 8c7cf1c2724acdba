"""Rate limits: one token bucket per key (a provider, a client address), pure (the clock is an argument).

::

    take(provider, now_s) ──bucket has a token──► 0.0 (go on)
                          └─empty────────────────► seconds until the next token (answer 429, Retry-After)

A bucket holds at most ``burst`` tokens and gains ``rate_per_s`` a second; each request takes one. Limits
are per gateway instance: behind a load balancer spreading requests over N instances, a provider gets up
to N times the rate (documented; a shared limit would need shared state, which the gateway avoids).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at_s: float


class RateLimiter:
    """Token buckets by key. ``rate_per_s`` <= 0 disables the limit. At most ``max_keys`` buckets are kept
    (a client choosing its keys, e.g. addresses, cannot grow them without bound): the least recently used
    go first, and a forgotten key starts again with a full bucket."""

    def __init__(self, rate_per_s: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate_per_s = rate_per_s
        self.burst = max(1, burst)
        self.max_keys = max(1, max_keys)
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _bucket(self, key: str, now_s: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now_s)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        elapsed = max(0.0, now_s - bucket.at_s)
        bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
        bucket.at_s = now_s
        return bucket

    def take(self, key: str, now_s: float) -> float:
        """Take a token for ``key`` at ``now_s`` (monotonic seconds): 0.0 if granted, else the seconds
        until one is available (nothing is taken then)."""
        if self.rate_per_s <= 0:
            return 0.0
        bucket = self._bucket(key, now_s)
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate_per_s

    def wait(self, key: str, now_s: float) -> float:
        """The seconds until ``key`` has a token, taking none (0.0: it has one)."""
        if self.rate_per_s <= 0 or key not in self._buckets:
            return 0.0
        bucket = self._bucket(key, now_s)
        return 0.0 if bucket.tokens >= 1.0 else (1.0 - bucket.tokens) / self.rate_per_s
