"""Who may do what on the cluster: the ACL set of a deployment, and the binding of each integrator that
publishes on Kafka directly to the provider ids it may speak for.

Kafka knows who *connects* (a SASL principal) but a record says whom it *speaks for* (``provider_id``), and
a consumer never learns which principal produced a record. So no integrator writes a contract topic::

    integrator User:dms-acme ──WRITE──► <prefix>ingest.acme.odometer.readings      (its own topics only)
                                                      │ the worker's intake agent (streams.worker.intake):
                                                      │ provider_id one of acme's? ──no──► dead letter
                                                      ▼ yes
    gateway User:carpass-gateway ──WRITE──► <prefix>odometer.readings ──READ──► worker User:carpass-worker

An integrator principal may write its four ingest topics (readings, plate readings, corrections,
confirmations) and nothing else; the worker forwards a record to the contract topic only when the provider
it names (``provider_id``; ``requested_by`` for a correction) is bound to that integrator in the access
file, and dead-letters the others (``not-bound``). The gateway binds a request to its key's provider the
same way (``streams.gateway.requests``). Feeds the registry trusts (the vehicle register, recall feeds,
the registry's own staff for ``providers.registry``) may write the contract topics listed for them. The
worker reads every input and writes every output, view and internal topic, its own changelogs
(``<group id>-…``), and, when there are integrators, the four contract topics they submit to; the
operator's admin principal is a super user and outside this set.

The access file (``CARPASS_KAFKA_ACCESS_FILE``, JSON)::

    {"worker": "User:carpass-worker",
     "gateway": "User:carpass-gateway",
     "feeds": {"User:div-feed": ["vehicle.registrations"], "User:registry-staff": ["providers.registry"]},
     "integrators": {"User:dms-acme": {"name": "acme", "providers": ["0123456789", "0123456790"]}}}

:func:`acl_set` turns it into ALLOW rules (Kafka denies whatever no rule allows once an authorizer is on);
``carpass kafka acls`` prints them and applies them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import topics as names
from streams.kafka.topics import CATALOGUE, PipelineTopics, TopicKind

INGEST_BASES = (names.READINGS, names.PLATE_READINGS, names.CORRECTIONS, names.CONFIRMATIONS)
"""The contract topics an integrator submits to, each through its own ingest topic."""
INTEGRATOR_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
PRINCIPAL_RE = re.compile(r"User:[A-Za-z0-9._@=,-]{1,200}")
PROVIDER_ID_RE = re.compile(r"[0-9A-Za-z]{1,20}")
MAX_PROVIDERS_PER_INTEGRATOR = 10_000
GATEWAY_GROUP_PREFIX = "carpass-gateway-"
"""The gateway's consumers' group ids start so (``streams.gateway.kafka``: never joined nor committed)."""


class AccessFileError(ValueError):
    """The access file cannot be read or does not say a valid plan; the message says where and what to do."""


@dataclass(frozen=True, slots=True)
class Integrator:
    """A principal that publishes on Kafka directly, through its own ingest topics, for ``providers``."""

    principal: str
    name: str
    providers: frozenset[str]


@dataclass(frozen=True, slots=True)
class AccessPlan:
    """The principals of a deployment and what each may write (see the module)."""

    worker: str
    gateway: str | None = None
    feeds: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    integrators: tuple[Integrator, ...] = ()

    def ingest_routes(self, topics: PipelineTopics) -> dict[str, tuple[str, Integrator]]:
        """Each ingest topic -> (the contract topic it feeds, its integrator)."""
        return {
            ingest_topic(topics, each.name, base): (topics.name(base), each)
            for each in self.integrators
            for base in INGEST_BASES
        }


def ingest_topic(topics: PipelineTopics, integrator: str, base: str) -> str:
    """The topic integrator ``integrator`` writes its ``base`` records to."""
    return topics.name(f"ingest.{integrator}.{base}")


@dataclass(frozen=True, slots=True, order=True)
class Acl:
    """One ALLOW rule: ``principal`` may ``operation`` the ``resource`` named ``name`` (``pattern``: literal
    or prefixed), from any host."""

    principal: str
    resource: str
    """``topic``, ``group`` or ``cluster``."""
    pattern: str
    """``literal`` or ``prefixed``."""
    name: str
    operation: str
    """Kafka's operation name: ``READ``, ``WRITE``, ``CREATE``, ``DESCRIBE``, ``DESCRIBE_CONFIGS``."""


def acl_set(plan: AccessPlan, topics: PipelineTopics, group_id: str) -> list[Acl]:
    """Every ALLOW rule the plan needs, sorted, without duplicates. ``group_id``: the workers' consumer
    group (``Settings.group_id()``), which also prefixes Faust's changelog and assignor topics."""
    rules: set[Acl] = set()

    def allow(principal: str, resource: str, name: str, *operations: str, pattern: str = "literal") -> None:
        rules.update(Acl(principal, resource, pattern, name, op) for op in operations)

    worker = plan.worker
    for spec in CATALOGUE:
        name = topics.name(spec.name)
        if spec.kind is TopicKind.INPUT:
            allow(worker, "topic", name, "READ", "DESCRIBE")
        else:  # outputs, views and records: written, and read back by the projections
            allow(worker, "topic", name, "READ", "WRITE", "DESCRIBE", "DESCRIBE_CONFIGS")
    internal = (topics.plate_intervals, topics.resolved_readings, topics.provider_events)
    for name in internal:
        allow(worker, "topic", name, "READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS")
    allow(worker, "topic", f"{group_id}-", "READ", "WRITE", "CREATE", "DESCRIBE", "DESCRIBE_CONFIGS",
          pattern="prefixed")  # fmt: skip
    allow(worker, "group", group_id, "READ", "DESCRIBE")
    allow(worker, "group", f"{group_id}-", "READ", "DESCRIBE", pattern="prefixed")
    for name, (target, _) in plan.ingest_routes(topics).items():
        allow(worker, "topic", name, "READ", "DESCRIBE")
        allow(worker, "topic", target, "WRITE")  # the intake agent forwards what passes its check
    if plan.gateway is not None:
        for base in INGEST_BASES:
            allow(plan.gateway, "topic", topics.name(base), "WRITE", "DESCRIBE")
        allow(plan.gateway, "topic", topics.receipts, "READ", "DESCRIBE")
        allow(plan.gateway, "group", GATEWAY_GROUP_PREFIX, "READ", pattern="prefixed")
    for principal, bases in plan.feeds.items():
        for base in bases:
            allow(principal, "topic", topics.name(base), "WRITE", "DESCRIBE")
    for each in plan.integrators:
        for base in INGEST_BASES:
            allow(each.principal, "topic", ingest_topic(topics, each.name, base), "WRITE", "DESCRIBE")
    return sorted(rules)


def load_access(path: str | Path) -> AccessPlan:
    """The access file at ``path`` (see the module); :class:`AccessFileError` says what is wrong."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise AccessFileError(f"cannot read the access file {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AccessFileError(f"the access file {path} is not JSON: {exc}") from None
    return parse_access(raw, str(path))


def parse_access(raw: Any, where: str = "the access file") -> AccessPlan:
    """:func:`load_access` of a decoded document."""
    if not isinstance(raw, dict):
        raise AccessFileError(f"{where}: expected an object with 'worker', 'gateway', 'feeds', 'integrators'")
    unknown = set(raw) - {"worker", "gateway", "feeds", "integrators"}
    if unknown:
        raise AccessFileError(f"{where}: unknown entries {sorted(unknown)}")
    worker = _principal(raw.get("worker"), f"{where}: 'worker'")
    gateway = None if raw.get("gateway") is None else _principal(raw["gateway"], f"{where}: 'gateway'")
    inputs = {spec.name for spec in CATALOGUE if spec.kind is TopicKind.INPUT}
    feeds: dict[str, tuple[str, ...]] = {}
    for principal, bases in _object(raw.get("feeds", {}), f"{where}: 'feeds'").items():
        _principal(principal, f"{where}: a feed")
        if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
            raise AccessFileError(f"{where}: feed {principal}: expected a list of topic names")
        wrong = sorted(set(bases) - inputs)
        if wrong:
            raise AccessFileError(f"{where}: feed {principal}: {wrong} are not input topics of the contract "
                                  f"(one of {sorted(inputs)})")  # fmt: skip
        feeds[principal] = tuple(dict.fromkeys(bases))
    integrators = []
    for principal, entry in _object(raw.get("integrators", {}), f"{where}: 'integrators'").items():
        integrators.append(_integrator(principal, entry, f"{where}: integrator {principal}"))
    _distinct(worker, gateway, feeds, integrators, where)
    return AccessPlan(worker, gateway, feeds, tuple(integrators))


def _integrator(principal: str, entry: Any, where: str) -> Integrator:
    _principal(principal, where)
    entry = _object(entry, where)
    unknown = set(entry) - {"name", "providers"}
    if unknown:
        raise AccessFileError(f"{where}: unknown entries {sorted(unknown)}")
    name = entry.get("name")
    if not isinstance(name, str) or not INTEGRATOR_NAME_RE.fullmatch(name):
        raise AccessFileError(f"{where}: 'name' must be 1-40 lower-case letters, digits or '-' (it names "
                              f"its ingest topics), not {name!r}")  # fmt: skip
    providers = entry.get("providers")
    if not isinstance(providers, list) or not providers or len(providers) > MAX_PROVIDERS_PER_INTEGRATOR:
        raise AccessFileError(f"{where}: 'providers' must list 1 to {MAX_PROVIDERS_PER_INTEGRATOR:,} "
                              "provider ids it may speak for")  # fmt: skip
    bad = [p for p in providers if not isinstance(p, str) or not PROVIDER_ID_RE.fullmatch(p)]
    if bad:
        raise AccessFileError(f"{where}: not provider ids: {bad[:5]}")
    return Integrator(principal, name, frozenset(providers))


def _distinct(
    worker: str, gateway: str | None, feeds: Mapping[str, Any], integrators: Iterable[Integrator], where: str
) -> None:
    """One role per principal, one principal per integrator name: a principal in two roles would hold the
    union of their rights (an integrator that is also a feed could write the contract topics)."""
    seen: dict[str, str] = {worker: "the worker"}
    roles = [(gateway, "the gateway")] if gateway is not None else []
    roles += [(p, "a feed") for p in feeds] + [(i.principal, f"integrator {i.name}") for i in integrators]
    for principal, role in roles:
        if principal in seen:
            raise AccessFileError(f"{where}: {principal} is both {seen[principal]} and {role}; give each "
                                  "role its own principal")  # fmt: skip
        seen[principal] = role
    taken: set[str] = set()
    for each in integrators:
        if each.name in taken:
            raise AccessFileError(f"{where}: two integrators are named {each.name!r}")
        taken.add(each.name)


def _principal(value: Any, where: str) -> str:
    if not isinstance(value, str) or not PRINCIPAL_RE.fullmatch(value):
        raise AccessFileError(f"{where}: expected a Kafka principal such as 'User:carpass-worker', "
                              f"not {value!r}")  # fmt: skip
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AccessFileError(f"{where}: expected an object")
    return value
