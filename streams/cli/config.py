"""``carpass config``: the settings this process would run with, where each comes from, what it means.

Secrets are never printed: values of settings whose name says key, secret or password are masked.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import itertools
import os
from pathlib import Path

from streams import settings as settings_module
from streams.settings import ENV_PREFIX, Settings

_SECRET_WORDS = ("password", "secret", "token")


def field_docs() -> dict[str, str]:
    """Field name → its attribute docstring in ``streams/settings.py``, on one line."""
    tree = ast.parse(inspect.getsource(settings_module))
    docs: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            body = node.body
            for current, following in itertools.pairwise(body):
                if (
                    isinstance(current, ast.AnnAssign)
                    and isinstance(current.target, ast.Name)
                    and isinstance(following, ast.Expr)
                    and isinstance(following.value, ast.Constant)
                    and isinstance(following.value.value, str)
                ):
                    docs[current.target.id] = " ".join(following.value.value.split())
    return docs


def _shown(name: str, value: object) -> str:
    if value == "":
        return "(empty)"
    if any(word in name for word in _SECRET_WORDS):
        return "****"
    if isinstance(value, Path) and name == "cache_dir" and value == Path.home() / ".cache" / "carpass":
        return "~/.cache/carpass"
    return str(value)


def markdown_table() -> str:
    """The README's configuration table (``tests/unit/test_readme.py`` checks the README against it)."""
    defaults = Settings.from_env({})
    docs = field_docs()
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for f in dataclasses.fields(Settings):
        default = _shown(f.name, getattr(defaults, f.name))
        text = docs.get(f.name, "").replace("|", "\\|")
        rows.append(f"| `{ENV_PREFIX}{f.name.upper()}` | `{default}` | {text} |")
    return "\n".join(rows)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    config = subparsers.add_parser(
        "config", help="show the effective settings (CARPASS_* variables) and what each means",
        description=__doc__,
    )  # fmt: skip
    config.add_argument("--markdown", action="store_true", help="print the README's table of all settings")
    config.set_defaults(handler=cmd_config)


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    if args.markdown:
        print(markdown_table())
        return 0
    docs = field_docs()
    for f in dataclasses.fields(Settings):
        env = ENV_PREFIX + f.name.upper()
        source = "env" if env in os.environ else "default"
        print(f"{env}={_shown(f.name, getattr(settings, f.name))}  [{source}]  {docs.get(f.name, '')}")
    return 0
