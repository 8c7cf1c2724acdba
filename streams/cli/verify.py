"""``carpass verify FILE --keys KEYS``: check a certificate offline (R16), with the registry's public keys.

FILE is the certificate document as issued (``POST /vehicles/{vin}/certificates`` answers it; ``GET
/certificates/{number}`` returns it under ``certificate``), or ``-`` for stdin. KEYS is the registry's key
set: the JSON of ``GET /keys``, or a PEM file of one or more public keys. The certificate is authentic when
its signature holds under the key its ``key_id`` names, and nothing it certifies has changed since.

Exit status: 0 authentic (and the facts printed), 1 not authentic, 2 a file that cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from streams.cli import CliError
from streams.settings import Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``verify`` to the ``carpass`` parser."""
    parser = subparsers.add_parser(
        "verify", help="check a certificate's signature offline with the registry's public keys",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example:\n  curl -s http://worker:6066/keys > keys.json\n  carpass verify certificate.json "
               "--keys keys.json",
    )  # fmt: skip
    parser.add_argument("file", metavar="FILE", help="the certificate document (JSON), or - for stdin")
    parser.add_argument("--keys", required=True, metavar="KEYS",
                        help="the registry's public keys: GET /keys as JSON, or PEM public keys")  # fmt: skip
    parser.set_defaults(handler=cmd_verify)


def _read(path: str, what: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read the {what} {path}: {exc.strerror or exc}") from None


def load_keys(raw: bytes, where: str) -> Any:
    """The :class:`~projections.certificates.VerificationKeys` of a ``GET /keys`` answer or a PEM file."""
    from projections.certificates import SigningKeyError, VerificationKeys

    pem = raw
    if raw.lstrip().startswith(b"{"):
        try:
            published = json.loads(raw)
            pem = "".join(key["public_key"] for key in published["keys"]).encode("ascii")
        except (ValueError, KeyError, TypeError) as exc:
            raise CliError(f"{where}: not the JSON of GET /keys ({{'keys': [{{'public_key': PEM}}]}}): "
                           f"{exc}") from None  # fmt: skip
    try:
        return VerificationKeys(VerificationKeys.parse_pem(pem))
    except SigningKeyError as exc:
        raise CliError(f"{where}: {exc}") from None


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from projections.certificates import CertificateError, IssuedCertificate, verify
    from streams.domain.calendar import date_of

    keys = load_keys(_read(args.keys, "key set"), args.keys)
    raw = _read(args.file, "certificate")
    try:
        document = json.loads(raw)
        if isinstance(document, dict) and "authentic" in document:  # the answer of GET /certificates/{n}
            document = document["certificate"]
        cert = IssuedCertificate.from_json_obj(document)
    except (ValueError, CertificateError) as exc:
        raise CliError(f"{args.file}: not a certificate document: {exc}") from None
    authentic = verify(cert, keys)
    known = keys.public_key(cert.key_id) is not None
    print(f"certificate {cert.number}: {'AUTHENTIC' if authentic else 'NOT AUTHENTIC'}")
    if not authentic:
        why = ("its signature does not hold: something it certifies was changed" if known else
               f"it names key {cert.key_id}, which is not in {args.keys}")  # fmt: skip
        print(f"  {why}")
        return 1
    print(f"  VIN {cert.vin}, issued {date_of(cert.issue_date)}, valid until {date_of(cert.valid_until)}, "
          f"signed with key {cert.key_id}")  # fmt: skip
    return 0
