"""``logistics-gateway schema``: the public schema as a reviewed, versioned artefact.

``schema check`` composes the subgraphs and compares the API schema clients would get with
the committed one (``schema.graphql``): each change is printed with its coordinate, and a
breaking one fails the command (exit code 1) unless ``schema-changes.toml`` accepts it.
``--accept --reason`` accepts them: it records the breaking ones there and writes the new
schema and supergraph. ``schema print`` prints the API schema a gateway configuration
serves, or one contract's (``--contract partner``), as clients bound to it introspect it.

Exit codes: 0 nothing breaking left unaccepted; 1 breaking changes; 2 the inputs could not
be read (a composition error, SDL that does not parse, a bad record of accepted changes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from graphql import GraphQLError, build_schema, print_schema

from federation.composition import CompositionError, compose_from_config
from federation.composition.changes import SchemaChange, Severity, schema_changes
from gateway.accepted_changes import (
    AcceptedChangesError,
    append_accepted,
    check_reason,
    read_accepted,
)

MAX_SCHEMA_BYTES = 10_000_000
"""The committed schema of a large API is a few hundred kilobytes; this bounds a wrong file."""


def add_schema_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "schema", help="check the public schema for breaking changes, print it or a contract"
    )
    commands = parser.add_subparsers(dest="schema_command", metavar="SCHEMA_COMMAND")
    check = commands.add_parser(
        "check",
        help="compare the composed API schema with the committed one",
        description="Compose the subgraphs and compare the API schema with the committed one; "
        "breaking changes fail (exit 1) unless accepted.",
    )
    check.add_argument("--config", type=Path, default=Path("subgraphs.toml"), help="subgraphs")
    check.add_argument(
        "--against",
        type=Path,
        help="committed schema (default: schema.graphql, or schema.<contract>.graphql)",
    )
    check.add_argument(
        "--contract",
        help="check this contract's schema (its tags from the gateway configuration) instead",
    )
    check.add_argument(
        "--gateway-config", type=Path, help="gateway configuration holding [contracts]"
    )
    check.add_argument(
        "--supergraph",
        type=Path,
        default=Path("supergraph.graphql"),
        help="committed supergraph, rewritten with --accept",
    )
    check.add_argument(
        "--changes",
        type=Path,
        help="record of accepted breaking changes (default: schema-changes.toml beside --against)",
    )
    check.add_argument(
        "--accept",
        action="store_true",
        help="accept the changes: record the breaking ones, write the schema and supergraph",
    )
    check.add_argument("--reason", help="why the breaking changes may go out (with --accept)")
    check.set_defaults(handler=_check)
    printing = commands.add_parser(
        "print",
        help="print the API schema a gateway configuration serves, or one contract's",
        description="Print the API schema of the configured supergraph (or of the configured "
        "subgraphs composed now), or the schema of one contract (--contract).",
    )
    printing.add_argument("--config", type=Path, help="gateway configuration (default as run)")
    printing.add_argument("--contract", help="a contract of [contracts] in the configuration")
    printing.set_defaults(handler=_print)
    parser.set_defaults(handler=lambda _: _usage(parser))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _read_schema_file(path: Path) -> str:
    if path.stat().st_size > MAX_SCHEMA_BYTES:
        raise ValueError(f"{path}: larger than {MAX_SCHEMA_BYTES} bytes")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not UTF-8 text") from None


def _check(
    arguments: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    contract: str | None = arguments.contract
    against: Path = arguments.against or Path(
        "schema.graphql" if contract is None else f"schema.{contract}.graphql"
    )
    changes_path: Path = arguments.changes or against.parent / "schema-changes.toml"
    try:
        composed = compose_from_config(arguments.config)
    except CompositionError as error:
        for message in error.errors:
            print(f"error: {message}", file=err)
        return 2
    except Exception as error:  # a subgraph the composer could not even read
        print(f"error: the subgraphs do not compose: {error}", file=err)
        return 2
    outputs = [(against, composed.api_schema_sdl), (arguments.supergraph, composed.supergraph_sdl)]
    prefix = ""
    if contract is not None:
        contract_sdl = _contract_sdl(composed.supergraph_sdl, contract, arguments.gateway_config)
        if isinstance(contract_sdl, int):
            return contract_sdl
        outputs, prefix = [(against, contract_sdl)], f"{contract}/"
    current_sdl = outputs[0][1]
    try:
        accepted = read_accepted(changes_path)
        new_schema = build_schema(current_sdl)
        committed = _read_schema_file(against) if against.is_file() else None
        old_schema = build_schema(committed) if committed is not None else None
    except (AcceptedChangesError, ValueError, OSError) as error:
        print(f"error: {error}", file=err)
        return 2
    except GraphQLError as error:
        print(f"error: {against} is not a valid schema: {error.message}", file=err)
        return 2
    if old_schema is None:
        if not arguments.accept:
            print(
                f"error: no committed schema at {against}; run with --accept to write it", file=err
            )
            return 2
        changes: list[SchemaChange] = []
    else:
        changes = schema_changes(old_schema, new_schema)
    unaccepted = [
        change
        for change in changes
        if change.severity is Severity.BREAKING and prefix + change.id not in accepted
    ]
    for change in changes:
        breaking = change.severity is Severity.BREAKING
        note = "  (accepted)" if breaking and change not in unaccepted else ""
        print(f"{change.line()}{note}", file=out)
    print(_summary(changes, unaccepted, against), file=out)
    if arguments.accept:
        if unaccepted:
            try:
                reason = check_reason(arguments.reason)
            except ValueError as error:
                print(f"error: {error}", file=err)
                return 2
            append_accepted(changes_path, unaccepted, reason, prefix=prefix)
            print(
                f"recorded {len(unaccepted)} accepted breaking change(s) in {changes_path}",
                file=out,
            )
        for path, content in outputs:
            current = path.read_text(encoding="utf-8") if path.is_file() else ""
            if current.strip() != content.strip():
                path.write_text(content.rstrip("\n") + "\n", encoding="utf-8")
                print(f"wrote {path}", file=out)
        return 0
    if unaccepted:
        flag = f" --contract {contract}" if contract else ""
        print(
            "breaking changes: tell the clients concerned, then accept them with "
            f'`logistics-gateway schema check{flag} --accept --reason "..."`',
            file=err,
        )
        return 1
    if (committed or "").strip() != current_sdl.strip():
        print(f"{against} is not up to date: run with --accept to write it", file=out)
    return 0


def _contract_sdl(supergraph_sdl: str, contract: str, config_path: Path | None) -> str | int:
    """The contract's schema as printed, or the exit code after saying why there is none."""
    from federation.router.supergraph import Supergraph
    from gateway.config import ConfigError, load_config
    from gateway.runtime import contract_schemas

    try:
        config = load_config(config_path)
        if contract not in config.contracts:
            known = ", ".join(sorted(config.contracts)) or "none"
            raise ConfigError(f"no contract {contract[:80]!r} in [contracts] (defined: {known})")
        schema = contract_schemas(config, Supergraph.from_sdl(supergraph_sdl))[contract]
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return print_schema(schema)


def _print(
    arguments: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    import asyncio

    from federation.router.supergraph import Supergraph, SupergraphError
    from gateway.config import ConfigError, load_config
    from gateway.runtime import contract_schemas, supergraph_sdl

    try:
        config = load_config(arguments.config)
    except ConfigError as error:
        print(error, file=err)
        return 2
    if arguments.contract is not None and arguments.contract not in config.contracts:
        known = ", ".join(sorted(config.contracts)) or "none"
        print(
            f"error: no contract {arguments.contract[:80]!r} in [contracts] (defined: {known})",
            file=err,
        )
        return 2
    try:
        supergraph = Supergraph.from_sdl(asyncio.run(supergraph_sdl(config)))
        schema = (
            contract_schemas(config, supergraph)[arguments.contract]
            if arguments.contract is not None
            else supergraph.api_schema
        )
    except (ConfigError, SupergraphError, CompositionError, OSError) as error:
        print(f"error: {error}", file=err)
        return 2
    print(print_schema(schema), file=out)
    return 0


def _summary(changes: list[SchemaChange], unaccepted: list[SchemaChange], against: Path) -> str:
    if not changes:
        return f"no changes against {against}"
    counts = {severity: 0 for severity in Severity}
    for change in changes:
        counts[change.severity] += 1
    breaking = counts[Severity.BREAKING]
    accepted = breaking - len(unaccepted)
    return (
        f"{breaking} breaking ({accepted} accepted), {counts[Severity.DANGEROUS]} dangerous, "
        f"{counts[Severity.SAFE]} safe change(s) against {against}"
    )
