"""`logistics-gateway keys`: API keys and OAuth clients issued at run time, on the configured
database, for any tenant (the operator's tool; `/admin/keys` is a tenant admin's).

    keys create --client acme --tenant C-1002 [--scope read] [--plan basic] [--oauth]
    keys list [--tenant C-1002] [--json]
    keys revoke KEY_ID
    keys hash-secret            (reads a secret on stdin; prints [oauth_clients] secret_hash)

A key or client secret is printed once, when it is created; only its digest is stored.
Revoking takes effect on every gateway process sharing the database within
`[api_keys] cache_s` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

import orjson

from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.key_issuing import (
    KeyRequest,
    credential_view,
    issue_key,
    issued_view,
    key_request_problem,
)
from policies.api_keys import KEY_ID
from policies.oauth_clients import MAX_SECRET_LENGTH, hash_secret
from stores.credentials import SqlCredentialStore
from stores.sql import create_tables, open_engine


def add_keys_command(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "keys", help="create, list and revoke API keys and OAuth clients"
    )
    configured = argparse.ArgumentParser(add_help=False)
    configured.add_argument("--config", type=Path, help="configuration file (default gateway.toml)")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    create = actions.add_parser(
        "create", parents=[configured], help="issue an API key (or an OAuth client)"
    )
    create.add_argument("--client", required=True, help="the name its caller acts under")
    create.add_argument("--tenant", required=True, help="the tenant it acts for")
    create.add_argument("--scope", action="append", dest="scopes", help="repeat; default read")
    create.add_argument("--plan", default="basic", help="an entry of [plans]; default basic")
    create.add_argument("--warehouse", action="append", dest="warehouses", default=[])
    create.add_argument("--expires-in-days", type=int, help="default [api_keys]")
    create.add_argument("--description", default="")
    create.add_argument(
        "--oauth", action="store_true", help="an OAuth client (id and secret) instead of a key"
    )
    create.add_argument("--json", action="store_true", help="print JSON")
    create.set_defaults(handler=_create)

    listing = actions.add_parser(
        "list", parents=[configured], help="list keys and clients, newest first"
    )
    listing.add_argument("--tenant")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    revoke = actions.add_parser(
        "revoke", parents=[configured], help="revoke a key or client by its key id"
    )
    revoke.add_argument("key_id")
    revoke.set_defaults(handler=_revoke)

    hashing = actions.add_parser(
        "hash-secret", help="the secret_hash of an [oauth_clients] secret read on stdin"
    )
    hashing.set_defaults(handler=_hash_secret)


def _config(arguments: argparse.Namespace) -> GatewayConfig | None:
    try:
        return load_config(arguments.config)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return None


async def _store(config: GatewayConfig):  # type: ignore[no-untyped-def]
    engine = open_engine(config.stores.database_url)
    await create_tables(engine)
    return engine, SqlCredentialStore(engine)


def _create(arguments: argparse.Namespace) -> int:
    config = _config(arguments)
    if config is None:
        return 2
    request = KeyRequest(
        kind="oauth_client" if arguments.oauth else "api_key",
        client=arguments.client,
        tenant=arguments.tenant,
        scopes=frozenset(arguments.scopes or ["read"]),
        plan=arguments.plan,
        lifetime_days=arguments.expires_in_days or config.api_keys.default_lifetime_days,
        warehouses=frozenset(arguments.warehouses),
        description=arguments.description,
    )
    problem = key_request_problem(
        request, plans=config.plans, max_lifetime_days=config.api_keys.max_lifetime_days
    )
    if problem is not None:
        print(f"keys create: {problem}", file=sys.stderr)
        return 2

    async def create() -> dict[str, object]:
        engine, store = await _store(config)
        try:
            return issued_view(await issue_key(store, request))
        finally:
            await engine.dispose()

    view = asyncio.run(create())
    if arguments.json:
        print(orjson.dumps(view).decode())
        return 0
    if request.kind == "api_key":
        print(f"API key (shown once, keep it now): {view['api_key']}")
    else:
        print(f"OAuth client id: {view['client_id']}")
        print(f"client secret (shown once, keep it now): {view['client_secret']}")
    print(_line(view))
    return 0


def _list(arguments: argparse.Namespace) -> int:
    config = _config(arguments)
    if config is None:
        return 2

    async def listing() -> list[dict[str, object]]:
        engine, store = await _store(config)
        try:
            return [credential_view(c) for c in await store.list(tenant=arguments.tenant)]
        finally:
            await engine.dispose()

    views = asyncio.run(listing())
    if arguments.json:
        print(orjson.dumps(views).decode())
    elif not views:
        print("no keys")
    else:
        print("\n".join(_line(view) for view in views))
    return 0


def _revoke(arguments: argparse.Namespace) -> int:
    config = _config(arguments)
    if config is None:
        return 2
    if not KEY_ID.fullmatch(arguments.key_id):
        print("keys revoke: a key id is 12 hexadecimal digits (see keys list)", file=sys.stderr)
        return 2

    async def revoke() -> dict[str, object] | None:
        engine, store = await _store(config)
        try:
            revoked = await store.revoke(arguments.key_id)
            return None if revoked is None else credential_view(revoked)
        finally:
            await engine.dispose()

    view = asyncio.run(revoke())
    if view is None:
        print(f"keys revoke: no key {arguments.key_id}", file=sys.stderr)
        return 1
    print(f"revoked {_line(view)}")
    return 0


def _hash_secret(_: argparse.Namespace) -> int:
    secret = getpass.getpass("secret: ") if sys.stdin.isatty() else sys.stdin.readline()
    secret = secret.rstrip("\r\n")
    if not 16 <= len(secret) <= MAX_SECRET_LENGTH:
        print(
            f"keys hash-secret: a secret has 16 to {MAX_SECRET_LENGTH} characters", file=sys.stderr
        )
        return 2
    print(hash_secret(secret))
    return 0


def _line(view: dict[str, object]) -> str:
    state = "revoked" if view["revoked_at"] else f"expires {view['expires_at']}"
    scopes = ",".join(view["scopes"])  # type: ignore[arg-type]
    return (
        f"{view['key_id']}  {view['kind']:<12} {view['client']} (tenant {view['tenant']}, "
        f"plan {view['plan']}, scopes {scopes}) {state}"
    )
