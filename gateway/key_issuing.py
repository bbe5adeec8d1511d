"""Issuing, listing and revoking API keys and OAuth clients: the rules the `keys` command and
`/admin/keys` share, so a key made either way is the same."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from policies.api_keys import Issued, new_credential
from stores.credentials import Credential, CredentialKind, CredentialStore

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
SCOPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$")
WAREHOUSE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
WAREHOUSE_SCOPE = "warehouse"
MAX_SCOPES = 20
MAX_WAREHOUSES = 100
MAX_DESCRIPTION = 200


@dataclass(frozen=True, slots=True)
class KeyRequest:
    kind: CredentialKind
    client: str
    tenant: str
    scopes: frozenset[str]
    plan: str
    lifetime_days: int
    warehouses: frozenset[str] = frozenset()
    description: str = ""


def key_request_problem(
    request: KeyRequest, *, plans: Iterable[str], max_lifetime_days: int
) -> str | None:
    """What is wrong with `request`, naming the field; None when it may be issued."""
    if not NAME.fullmatch(request.client):
        return "client must be 1 to 100 letters, digits, '.', '_' or '-'"
    if not NAME.fullmatch(request.tenant):
        return "tenant must be 1 to 100 letters, digits, '.', '_' or '-'"
    if not request.scopes or len(request.scopes) > MAX_SCOPES:
        return f"scopes must name 1 to {MAX_SCOPES} scopes"
    if not all(SCOPE.fullmatch(scope) for scope in request.scopes):
        return "each scope must be 1 to 64 letters, digits, ':', '.', '_' or '-'"
    known = sorted(plans)
    if request.plan not in known:
        return f"plan must be one of {', '.join(known)}"
    if not 1 <= request.lifetime_days <= max_lifetime_days:
        return f"expires_in_days must be 1 to {max_lifetime_days}"
    if len(request.warehouses) > MAX_WAREHOUSES or not all(
        WAREHOUSE.fullmatch(warehouse) for warehouse in request.warehouses
    ):
        return f"warehouses must be up to {MAX_WAREHOUSES} warehouse ids"
    if (WAREHOUSE_SCOPE in request.scopes) != bool(request.warehouses):
        return f"the {WAREHOUSE_SCOPE} scope and warehouses go together"
    if len(request.description) > MAX_DESCRIPTION:
        return f"description must be at most {MAX_DESCRIPTION} characters"
    return None


async def issue_key(store: CredentialStore, request: KeyRequest) -> Issued:
    issued = new_credential(
        request.kind,
        client=request.client,
        tenant=request.tenant,
        scopes=request.scopes,
        plan=request.plan,
        lifetime=timedelta(days=request.lifetime_days),
        warehouses=request.warehouses,
        description=request.description,
    )
    await store.add(issued.credential)
    return issued


def issued_view(issued: Issued) -> dict[str, Any]:
    """What the creator is shown, once: the credential and its secret."""
    view = credential_view(issued.credential)
    if issued.credential.kind == "api_key":
        view["api_key"] = issued.api_key
    else:
        view["client_id"] = issued.client_id
        view["client_secret"] = issued.secret
    return view


def credential_view(credential: Credential) -> dict[str, Any]:
    """A credential as lists show it: never its secret nor the secret's digest."""
    return {
        "key_id": credential.key_id,
        "kind": credential.kind,
        "client": credential.client,
        "tenant": credential.tenant,
        "scopes": sorted(credential.scopes),
        "warehouses": sorted(credential.warehouses),
        "plan": credential.plan,
        "created_at": credential.created_at.isoformat(),
        "expires_at": credential.expires_at.isoformat(),
        "revoked_at": credential.revoked_at.isoformat() if credential.revoked_at else None,
        "description": credential.description,
    }
