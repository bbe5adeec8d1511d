"""`[authorization]`: the policies that decide the supergraph's `@policy` names.

Each `[authorization.policies.<name>]` defines the policy `@policy(policies: [["<name>"]])`
names: a registered rule (`policies.authorization.RULES`: tenant_member, warehouse_staff,
admin, anyone; by default the rule of the policy's own name) and, optionally, conditions that
must hold as well: the caller is one of `clients`, acts for one of `tenants`, is on one of
`plans`, holds all of `scopes`. A name the supergraph uses that no policy defines stops the
start (it would deny everyone), naming the key to add.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from policies.authorization import RULES, Authorizer, Policy

POLICY_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_NAMES = Field(None, min_length=1, max_length=1000)


class PolicyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str | None = None
    """A rule of policies.authorization.RULES; unset: the rule named like the policy."""
    clients: frozenset[str] | None = _NAMES
    tenants: frozenset[str] | None = _NAMES
    plans: frozenset[str] | None = _NAMES
    scopes: frozenset[str] = Field(frozenset(), max_length=100)


def default_policies() -> dict[str, PolicyConfig]:
    return {name: PolicyConfig() for name in ("tenant_member", "warehouse_staff", "admin")}


class AuthorizationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policies: dict[str, PolicyConfig] = Field(default_factory=default_policies)

    @field_validator("policies")
    @classmethod
    def _known_rules(cls, policies: dict[str, PolicyConfig]) -> dict[str, PolicyConfig]:
        for name, policy in policies.items():
            if not POLICY_NAME.match(name):
                raise PydanticCustomError(
                    "policy_name",
                    "authorization.policies.{name}: a policy name is 1 to 64 letters, digits"
                    " or _ . : -",
                    {"name": name[:80]},
                )
            rule = policy.rule or name
            if rule not in RULES:
                key = "rule" if policy.rule else "rule (unset, so the policy's own name)"
                raise PydanticCustomError(
                    "unknown_rule",
                    "authorization.policies.{name}.{key} names '{rule}', which is not a"
                    " registered rule (registered: {known})",
                    {"name": name, "key": key, "rule": rule[:80], "known": ", ".join(RULES)},
                )
        return policies

    @model_validator(mode="after")
    def _bounded(self) -> AuthorizationConfig:
        if len(self.policies) > 1000:
            raise ValueError("authorization.policies: at most 1000 policies")
        return self

    def authorizer(self) -> Authorizer:
        return Authorizer(
            {
                name: Policy(
                    RULES[policy.rule or name],
                    clients=policy.clients,
                    tenants=policy.tenants,
                    plans=policy.plans,
                    scopes=policy.scopes,
                )
                for name, policy in self.policies.items()
            }
        )
