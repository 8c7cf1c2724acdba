"""The one settings object of a carpass process.

Read once from the environment (prefix ``CARPASS_``) at the entry point and passed down; nothing below the
entry point reads ``os.environ``. Every field is documented in the README's configuration table (a test
checks the table against this class).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from streams.domain.policy import VehicleBounds

_BOUNDS = VehicleBounds()
DEFAULT_APP_ID = "carpass-streams"

log = logging.getLogger(__name__)

ENV_PREFIX = "CARPASS_"


class SettingsError(ValueError):
    """A ``CARPASS_*`` variable has a value that cannot be used."""


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "carpass"


@dataclass(frozen=True, slots=True)
class Settings:
    """Process configuration. Field ``x`` is read from ``CARPASS_X``.

    ``kafka_bootstrap_servers`` empty means "use the local embedded broker" (``carpass kafka up``).
    """

    kafka_bootstrap_servers: str = ""
    """Kafka bootstrap servers (host:port,...); empty: the local broker started by ``carpass kafka up``."""
    cache_dir: Path = dataclasses.field(default_factory=_default_cache_dir)
    """Where downloaded Kafka jars and local broker data live (outside the repository)."""
    local_kafka_port: int = 19092
    """Loopback port of the local broker's PLAINTEXT listener."""
    local_kafka_controller_port: int = 19093
    """Loopback port of the local broker's KRaft controller listener."""
    kafka_version: str = "4.3.1"
    """Apache Kafka version fetched from Maven Central for the local broker."""
    kafka_heap_mb: int = 512
    """Heap of the local broker's JVM, in MiB."""
    partitions: int = 4
    """Partition count used by ``carpass topics create``."""
    schema_registry_url: str = ""
    """Confluent-compatible Schema Registry; empty: Avro single-object encoding (no registry)."""
    data_dir: Path = Path("var")
    """Worker state (RocksDB tables) directory."""
    # --- the streaming worker (``carpass worker``) ---
    topic_prefix: str = ""
    """Prepended to every topic the worker and the topic tools read or write (environments sharing a
    cluster; tests)."""
    app_id: str = DEFAULT_APP_ID
    """Faust application id: the worker's consumer group and the prefix of its changelog and internal
    topics. With a topic prefix it must start with the prefix (left at its default, the prefix is put in
    front of it), so that two environments sharing a cluster never share a group or a state."""
    topic_replication_factor: int = 0
    """Replicas of the topics the worker creates (its internal and changelog topics); 0: min(3, brokers)."""
    web_bind: str = "127.0.0.1"
    """Address of the worker's web server (``/metrics``); 0.0.0.0 to be scraped from another host."""
    web_port: int = 6066
    """Port of the worker's web server."""
    web_advertised_url: str = ""
    """The URL the other workers of the group reach this worker's web server at, for the table routing of
    API requests (e.g. ``http://worker-1:6066``); empty: ``http://<web bind>:<web port>``, which a worker
    bound to 0.0.0.0 or :: refuses (it would advertise an address that names no host)."""
    providers_from_registry: bool = True
    """Judge readings by the registry of providers (``providers.registry``, read whole by every worker): a
    reading from a provider not registered (or inactive) when it was sent is REJECTED, one from an origin its
    registered kind does not send from too, and a reading is weighed by its provider's registered kind, not
    by the kind it claims (``streams.domain.providers``). Off: by the reading's own fields (a deployment
    whose registry is not on Kafka yet)."""
    batch_max_events: int = 1000
    """The worker hands each fetch of its consumer to the batch steps as it arrives, cut into batches of at
    most this many events; each VIN's state is written once per batch."""
    batch_attempts: int = 8
    """How many times a batch step is tried (outputs, state) before the worker stops with an error; between
    attempts it waits 0.5 s, 1 s, 2 s … up to ``batch_retry_max_s``. A failed batch is never committed:
    a restarted worker takes it again."""
    batch_retry_max_s: float = 30.0
    """The longest wait between two attempts of a failed batch step."""
    align_wait_s: float = 2.0
    """How long a VIN's events may wait for one of its topics the worker has not read far enough: the
    vehicle agent takes a partition's events in timestamp order across its topics (a registration before
    the readings sent after it, whatever the fetches bring first), and holds them while a topic of that
    partition has records on the broker not read yet, for this long at most (Kafka Streams'
    ``max.task.idle.ms``); 0: events are judged in the order fetched."""
    max_input_bytes: int = 65_536
    """The largest input record (key and value bytes) the worker decodes; a larger one is a dead letter
    (``oversized``) whose value is cut to 64 KiB, with its size and SHA-256."""
    state_cache_vehicles: int = 20_000
    """Decoded vehicle states kept in memory per worker (least recently used go first; 0: none). A hit
    skips decoding the stored state; the stored bytes are always read and compared, so the cache never
    changes a judgment. About 6 KB each (a 15-reading history)."""
    views_defer_after_s: float = 5.0
    """A vehicle change whose input is older than this (its Kafka timestamp, against the clock) is *behind*:
    its certificate and OK-label views wait, marked in the ``views-pending`` table with the state, and are
    published once the worker is no longer behind (within a second of it, a few dozen at a time): a backlog
    or a replay of old events computes each vehicle's views once instead of after every batch. A change of
    a vehicle whose views wait, waits too. 0: never wait (views after every batch that changes a vehicle)."""
    vin_readings_max: int = _BOUNDS.readings
    """Accepted readings one VIN's history may hold; a further reading is REJECTED with HISTORY_FULL (kept
    aside, nothing dropped): bounds one VIN's stored state (about 42 bytes a reading) and the work of
    judging it (``streams.domain.policy.VehicleBounds`` says why each default)."""
    vin_rejected_max: int = _BOUNDS.rejected
    """Rejected readings one VIN keeps aside for a correction (R5); beyond it the oldest received goes."""
    vin_done_ids_max: int = _BOUNDS.done_ids
    """Ids of one VIN's duplicates, corrections and withdrawn readings remembered so that a redelivery
    changes nothing; beyond it the oldest received is forgotten."""
    vin_error_numbers_max: int = _BOUNDS.error_numbers
    """Error numbers one reading keeps (each correction by form may add its own); the newest are kept."""
    vin_recalls_max: int = _BOUNDS.recalls
    """Recall campaigns one VIN keeps; beyond it the one changed longest ago goes, closed ones first."""
    trend_window: int = _BOUNDS.trend_window
    """Readings of one counter the trend engine judges at once around a change (its work is quadratic in
    them); longer histories are read in overlapping windows, and a break costs a few ms at most."""
    plate_wait_s: float = 3600.0
    """How long a plate reading waits for a registration of its plate (and for every registration sent
    before it to be handled) before it is resolved with what is known or gets PLATE_NOT_RESOLVED."""
    plate_pending_max: int = 100
    """Plate readings one plate may have waiting for its registration; beyond it the oldest is answered at
    once (resolved with what is known, else PLATE_NOT_RESOLVED), so that one plate sent to by many cannot
    stall its partition. Also at most 512 KiB of them."""
    plate_pending_plates_max: int = 10_000
    """Plates of one partition that may have readings waiting at once (the partition's index of them is one
    stored value); beyond it, the plates waiting longest have their readings answered at once."""
    plate_answered_ids_max: int = 1_000
    """Ids of answered plate readings one plate remembers (a redelivery of one of them is not answered
    again); the newest are kept."""
    session_timeout_s: float = 30.0
    """How long a worker that stopped answering keeps its partitions before the group hands them over."""
    certificate_signing_key_file: str = ""
    """PEM (PKCS#8, unencrypted) Ed25519 private key that signs certificates (R16). Required by a worker that
    serves the API, unless ``CARPASS_DEVELOPMENT`` (then a development key is generated once into
    ``cache_dir``, with a warning: each machine would sign with its own key)."""
    certificate_retired_keys_file: str = ""
    """PEM file of the public keys of earlier signing keys (one or more ``PUBLIC KEY`` blocks, e.g. ``openssl
    pkey -in old-key.pem -pubout``): after a rotation, certificates they signed still verify, by key id."""
    cluster_secret_file: str = ""
    """File holding the secret the workers of one group share (32 bytes or more, e.g. ``openssl rand -hex
    32``): an API request one worker forwards to another carries an HMAC made with it, and the client's key
    stays behind. Required by a worker that serves the API, unless ``CARPASS_DEVELOPMENT``."""
    development: bool = False
    """A developer's machine or a test: a worker may sign certificates with a generated development key and
    authenticate its forwards with a well-known secret. Never in production (``make demo`` sets it)."""
    api_keys_file: str = ""
    """JSON file of the API keys and their roles (R15, ``streams.http.auth``); empty: no key is accepted."""
    public_url: str = ""
    """The registry's public address (``https://www.car-pass.be``): the QR code on an issued certificate
    points to ``<it>/verify/<number>``, where anyone checks it. Empty: the address the request for the
    document came to (right for one site; behind a proxy or a load balancer, set it)."""
    # --- operations: standby replicas; TLS and SASL of every Kafka client (streams/kafka/clients.py) ---
    standby_replicas: int = 1
    """Standby copies of each state-table partition kept up to date on other workers, so that a failover
    does not rebuild the state from the changelog; 0: none."""
    kafka_security_protocol: str = "PLAINTEXT"
    """How every Kafka client (workers, CLI, simulator, demo) connects: PLAINTEXT, SSL, SASL_PLAINTEXT or
    SASL_SSL."""
    kafka_sasl_mechanism: str = "PLAIN"
    """SASL mechanism with SASL_PLAINTEXT / SASL_SSL: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."""
    kafka_sasl_username: str = ""
    """SASL user name (required with SASL_PLAINTEXT / SASL_SSL)."""
    kafka_sasl_password: str = dataclasses.field(default="", repr=False)
    """SASL password (required with SASL_*): a secret, never printed, logged or put in an error message."""
    kafka_ssl_ca_file: str = ""
    """PEM file of the CA certificates that signed the brokers' certificates (SSL / SASL_SSL); empty: the
    system's CAs."""
    kafka_ssl_cert_file: str = ""
    """PEM client certificate for mutual TLS (with ``kafka_ssl_key_file``); empty: none."""
    kafka_ssl_key_file: str = ""
    """PEM private key of the client certificate."""
    kafka_ssl_key_password: str = dataclasses.field(default="", repr=False)
    """Password of an encrypted client key: a secret, like the SASL password."""
    kafka_access_file: str = ""
    """JSON file of the deployment's Kafka principals and of the integrators that publish on Kafka directly,
    each bound to the provider ids it may speak for (``streams.kafka.acls``): ``carpass access apply`` makes
    the ACLs and the integrators' ingest topics from it, and the worker checks and forwards what they
    write. Empty: no integrator publishes on Kafka directly."""
    # --- both HTTP services: the worker's API and the gateway (streams/http) ---
    http_auth_failures_burst: int = 20
    """Failed authentications (unknown API keys, forged forwards) one client address may make at once; then
    ``http_auth_failures_per_minute``, and beyond that every request from it is answered 429 (``Retry-After``)
    before its key is looked at."""
    http_auth_failures_per_minute: float = 6.0
    """Failed authentications a minute one client address may make after its burst; 0: no throttle."""
    http_max_connections: int = 1000
    """Open connections one process serves at once (the worker's port also answers health checks and
    ``/metrics``); a connection beyond is closed at once. 0: no cap."""
    http_idle_timeout_s: float = 10.0
    """Seconds a connection may take to send a complete request head (or a request's body), and may stay
    idle between requests, before it is closed. 0: no deadline."""
    # --- the inflow gateway (``carpass gateway``, streams/gateway) ---
    gateway_bind: str = "127.0.0.1"
    """Address the HTTP gateway listens on; 0.0.0.0 to serve other hosts."""
    gateway_port: int = 8088
    """Port of the HTTP gateway."""
    gateway_rate_per_s: float = 20.0
    """Requests a second each provider may make to one gateway instance (token bucket); 0: no limit."""
    gateway_burst: int = 40
    """Requests a provider may make at once before the rate applies (the bucket's size)."""
    gateway_receipts_window_s: float = 86400.0
    """How far back (seconds) a gateway instance reads odometer.receipts when it starts."""
    gateway_receipts_max: int = 500000
    """Receipts one gateway instance keeps in memory (the oldest are forgotten first)."""
    gateway_max_wait_s: float = 30.0
    """The longest ``wait_s`` a client may ask for on ``GET /observations/{id}``."""
    gateway_secret_file: str = ""
    """File holding the secret the gateway instances share (32 bytes or more, ``openssl rand -hex 32``): a
    request's event id is an HMAC of the provider, the kind and the client's request id keyed with it, so a
    retry to any instance is the same event and nobody else can compute a provider's event ids. Required
    unless ``CARPASS_DEVELOPMENT``."""

    def __post_init__(self) -> None:
        _check_kafka_security(self)

    def group_id(self) -> str:
        """The worker's Faust app id (consumer group, changelog and internal topics): ``app_id``, isolated
        by ``topic_prefix``. :class:`SettingsError` for an app id that would be shared across prefixes."""
        prefix = self.topic_prefix
        if not prefix or self.app_id.startswith(prefix):
            return self.app_id
        if self.app_id == DEFAULT_APP_ID:
            return prefix + self.app_id
        raise SettingsError(
            f"CARPASS_APP_ID={self.app_id!r} does not start with CARPASS_TOPIC_PREFIX={prefix!r}: the "
            "worker's consumer group and state (its changelog topics) would be shared with every environment "
            f"of the cluster using that app id. Use CARPASS_APP_ID={prefix}{self.app_id}, or leave it unset"
        )

    def advertised_url(self) -> str:
        """The worker's web URL for the rest of the group (``web_advertised_url``); :class:`SettingsError`
        when it would name no host."""
        if self.web_advertised_url:
            url = self.web_advertised_url.rstrip("/")
            parts = urlsplit(url)
            nowhere = parts.hostname in (None, "", "0.0.0.0", "::")
            if parts.scheme not in ("http", "https") or nowhere or parts.path:
                raise SettingsError(
                    f"CARPASS_WEB_ADVERTISED_URL={self.web_advertised_url!r} must be http(s)://host:port, "
                    "with a host name or address the other workers reach"
                )
            return url
        if self.web_bind in ("", "0.0.0.0", "::"):
            raise SettingsError(
                f"CARPASS_WEB_BIND={self.web_bind!r} listens on every address but names none: set "
                "CARPASS_WEB_ADVERTISED_URL to the URL the other workers reach this one at (e.g. "
                f"http://worker-1:{self.web_port}), or bind to that address"
            )
        host = f"[{self.web_bind}]" if ":" in self.web_bind else self.web_bind
        return f"http://{host}:{self.web_port}"

    def public_base_url(self) -> str:
        """``public_url`` without a trailing slash (empty when not set); :class:`SettingsError` when it is not
        an http(s) URL with a host."""
        if not self.public_url:
            return ""
        url = self.public_url.rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise SettingsError(f"CARPASS_PUBLIC_URL={self.public_url!r} must be http(s)://host[:port][/path]")
        return url

    def vehicle_bounds(self) -> VehicleBounds:
        """The judgment core's bounds of one VIN (``CARPASS_VIN_*``, ``CARPASS_TREND_WINDOW``)."""
        return VehicleBounds(
            readings=self.vin_readings_max, rejected=self.vin_rejected_max, done_ids=self.vin_done_ids_max,
            error_numbers=self.vin_error_numbers_max, recalls=self.vin_recalls_max,
            trend_window=self.trend_window,
        )  # fmt: skip

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); unknown ``CARPASS_*`` names are an error."""
        source = os.environ if env is None else env
        known = {f.name: f for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in source.items():
            if not key.startswith(ENV_PREFIX):
                continue
            name = key[len(ENV_PREFIX):].lower()
            if name in _IGNORED:
                continue
            if name in RETIRED:
                log.warning("setting %s is no longer used and is ignored: %s", key, RETIRED[name])
                continue
            if name not in known:
                raise SettingsError(f"unknown setting {key}; known: {', '.join(sorted(known))}")
            values[name] = _convert(key, raw, known[name].type)
        if "kafka_bootstrap_servers" not in values and source.get("KAFKA_BOOTSTRAP_SERVERS"):
            values["kafka_bootstrap_servers"] = source["KAFKA_BOOTSTRAP_SERVERS"]
        return cls(**values)


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _check_kafka_security(s: Settings) -> None:
    """The Kafka security settings are consistent (values named, never the secrets)."""
    protocol = s.kafka_security_protocol.upper()
    if protocol not in SECURITY_PROTOCOLS:
        raise SettingsError(
            f"CARPASS_KAFKA_SECURITY_PROTOCOL={s.kafka_security_protocol!r} is not one of "
            + ", ".join(SECURITY_PROTOCOLS)
        )
    if protocol.startswith("SASL_"):
        if s.kafka_sasl_mechanism.upper() not in SASL_MECHANISMS:
            raise SettingsError(
                f"CARPASS_KAFKA_SASL_MECHANISM={s.kafka_sasl_mechanism!r} is not one of "
                + ", ".join(SASL_MECHANISMS)
            )
        required = {"CARPASS_KAFKA_SASL_USERNAME": s.kafka_sasl_username,
                    "CARPASS_KAFKA_SASL_PASSWORD": s.kafka_sasl_password}  # fmt: skip
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise SettingsError(f"CARPASS_KAFKA_SECURITY_PROTOCOL={protocol} needs {' and '.join(missing)}")
    if bool(s.kafka_ssl_cert_file) != bool(s.kafka_ssl_key_file):
        raise SettingsError("CARPASS_KAFKA_SSL_CERT_FILE and CARPASS_KAFKA_SSL_KEY_FILE go together")
    if s.batch_attempts < 1:
        raise SettingsError(f"CARPASS_BATCH_ATTEMPTS={s.batch_attempts} must be 1 or more")
    if s.max_input_bytes < 1024:
        raise SettingsError(f"CARPASS_MAX_INPUT_BYTES={s.max_input_bytes} must be 1024 or more")
    if s.standby_replicas < 0:
        raise SettingsError(f"CARPASS_STANDBY_REPLICAS={s.standby_replicas} must be 0 or more")
    for name in ("vin_readings_max", "vin_rejected_max", "vin_done_ids_max", "vin_error_numbers_max",
                 "vin_recalls_max"):  # fmt: skip
        if getattr(s, name) < 1:
            raise SettingsError(f"CARPASS_{name.upper()}={getattr(s, name)} must be 1 or more")
    if s.trend_window < 8:
        raise SettingsError(f"CARPASS_TREND_WINDOW={s.trend_window} must be 8 or more")
    if s.views_defer_after_s < 0:
        raise SettingsError(f"CARPASS_VIEWS_DEFER_AFTER_S={s.views_defer_after_s} must be 0 (never) or more")


# Variables with the prefix that are not settings (read by the test harness, not by the product).
_IGNORED = frozenset({"quick", "artifacts_dir"})

RETIRED = {
    "batch_within_s": "the worker hands each fetch to its batch steps as it arrives "
                      "(CARPASS_BATCH_MAX_EVENTS still bounds a batch)",
}  # fmt: skip
"""Settings that existed once: named in the environment, they are ignored with a warning (not refused as
unknown), so that a deployment's configuration keeps working across the upgrade."""


def _convert(key: str, raw: str, annotation: object) -> Any:
    kind = str(annotation)
    try:
        if kind in ("int", "<class 'int'>"):
            return int(raw)
        if kind in ("float", "<class 'float'>"):
            return float(raw)
        if kind in ("bool", "<class 'bool'>"):
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind in ("Path", "<class 'pathlib.Path'>"):
            return Path(raw).expanduser()
    except ValueError as exc:
        raise SettingsError(f"{key}={raw!r} is not a valid {kind}") from exc
    return raw
