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


class AuthThrottle:
    """Failed authentications per client address (unknown keys, forged forwards): after ``burst`` failures,
    ``per_minute`` more a minute; beyond, every request from that address is answered 429 before its key is
    looked at, until the address has a failure to spare again. Guessing keys from one address is then
    ``per_minute`` tries a minute; a client with a right key that fails a few times is not slowed.

    Per process, by the TCP peer address (``request.remote``): a reverse proxy in front makes every client
    one address, so there the proxy must throttle (``X-Forwarded-For`` is not trusted: any client sets it).
    ``per_minute`` <= 0 disables it."""

    def __init__(self, burst: int, per_minute: float, max_addresses: int = 100_000) -> None:
        self._limiter = RateLimiter(per_minute / 60.0, burst, max_addresses)

    def blocked(self, address: str, now_s: float) -> float:
        """Seconds until ``address`` may try again (0.0: it may now)."""
        return self._limiter.wait(address, now_s)

    def failed(self, address: str, now_s: float) -> None:
        """``address`` presented a key (or a forward) that does not authenticate."""
        self._limiter.take(address, now_s)
