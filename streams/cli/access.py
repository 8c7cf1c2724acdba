"""``carpass access show|apply``: the Kafka ACLs of a deployment and its integrators' ingest topics, from the
access file (``streams.kafka.acls``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from streams.cli import CliError
from streams.kafka.acls import AccessFileError, AccessPlan, Acl, acl_set, load_access
from streams.kafka.topics import PipelineTopics
from streams.settings import Settings

_DESCRIPTION = """\
Who may do what on the cluster. The access file (--file, or CARPASS_KAFKA_ACCESS_FILE) names the workers'
principal, the gateway's, the feeds the registry trusts with a contract topic (the vehicle register,
recall feeds, the registry's staff for providers.registry), and the integrators that publish on Kafka
directly, each bound to the provider ids it may speak for:

  {"worker": "User:carpass-worker", "gateway": "User:carpass-gateway",
   "feeds": {"User:div-feed": ["vehicle.registrations"]},
   "integrators": {"User:dms-acme": {"name": "acme", "providers": ["0412345678"]}}}

An integrator writes only its own ingest topics (<prefix>ingest.<name>.<topic>); the worker forwards a
record to the contract topic only if the provider it names is bound to that integrator, and dead-letters
it otherwise. 'show' prints the ACLs (ALLOW rules: with an authorizer on, Kafka denies everything else);
'apply' creates the integrators' ingest topics and the ACLs, as an admin principal (a super user). Turn the
authorizer on in the brokers (KRaft: authorizer.class.name=
org.apache.kafka.metadata.authorizer.StandardAuthorizer) and give each principal its own SASL/SCRAM
credentials; see the README's "Security model".
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``access`` and its sub-commands to the ``carpass`` parser."""
    access = subparsers.add_parser(
        "access", help="Kafka ACLs and integrators' ingest topics from the access file (show, apply)",
        description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    commands = access.add_subparsers(dest="access_command", metavar="ACTION", required=True)
    show = commands.add_parser(
        "show", help="print the ACLs the access file asks for",
        description="Print the ALLOW rules, one a line (principal, operation, resource).",
    )  # fmt: skip
    apply = commands.add_parser(
        "apply", help="create the integrators' ingest topics and the ACLs",
        description="Create the ingest topics and ACLs (idempotent), as an admin.",
    )  # fmt: skip
    for each in (show, apply):
        each.add_argument("--file", metavar="PATH",
                          help="the access file (default: CARPASS_KAFKA_ACCESS_FILE)")  # fmt: skip
    apply.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                       help="how long to wait for the broker (default: %(default)s)")  # fmt: skip
    show.set_defaults(handler=cmd_show)
    apply.set_defaults(handler=cmd_apply)


def _plan(args: argparse.Namespace, settings: Settings) -> AccessPlan:
    path = args.file or settings.kafka_access_file
    if not path:
        raise CliError("no access file: pass --file PATH or set CARPASS_KAFKA_ACCESS_FILE")
    try:
        return load_access(path)
    except AccessFileError as exc:
        raise CliError(str(exc)) from exc


def _rules(args: argparse.Namespace, settings: Settings) -> tuple[AccessPlan, list[Acl]]:
    plan = _plan(args, settings)
    return plan, acl_set(plan, PipelineTopics(settings.topic_prefix), settings.group_id())


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    _, rules = _rules(args, settings)
    width = max(len(rule.principal) for rule in rules)
    for rule in rules:
        star = "*" if rule.pattern == "prefixed" else ""
        print(f"{rule.principal:<{width}}  {rule.operation:<16} {rule.resource} {rule.name}{star}")
    print(f"{len(rules)} ALLOW rules (a name ending in * is a prefix)", file=sys.stderr)
    return 0


def to_binding(rule: Acl) -> Any:
    """The confluent-kafka ``AclBinding`` of ``rule``."""
    from confluent_kafka.admin import (  # type: ignore[attr-defined]
        AclBinding,
        AclOperation,
        AclPermissionType,
        ResourcePatternType,
        ResourceType,
    )

    return AclBinding(
        ResourceType[rule.resource.upper()], rule.name, ResourcePatternType[rule.pattern.upper()],
        rule.principal, "*", AclOperation[rule.operation], AclPermissionType.ALLOW,
    )  # fmt: skip


def cmd_apply(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses

    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    from streams.kafka.admin import TopicSetupError, ensure_topics
    from streams.kafka.clients import admin_config, bootstrap_servers

    plan, rules = _rules(args, settings)
    settings = dataclasses.replace(settings, kafka_access_file=args.file or settings.kafka_access_file)
    try:
        ensure_topics(settings, timeout_s=args.timeout)
    except TopicSetupError as exc:
        raise CliError(str(exc)) from exc
    admin = AdminClient(admin_config(settings))
    futures = admin.create_acls([to_binding(rule) for rule in rules], request_timeout=args.timeout)
    for binding, future in futures.items():
        try:
            future.result(timeout=args.timeout + 5)
        except KafkaException as exc:
            who = settings.kafka_sasl_username or "this client"
            raise CliError(f"could not create the ACL {binding}: {exc.args[0]} (is the authorizer on, and "
                           f"is {who} a super user?)") from exc  # fmt: skip
    print(f"{len(rules)} ACLs and the ingest topics of {len(plan.integrators)} integrators in place on "
          f"{bootstrap_servers(settings)}")  # fmt: skip
    return 0
