"""`[contracts.<name>]`: the API schema one audience sees, filtered by `@tag`.

A client bound to a contract (`[clients.<name>] contract = "partner"`) is validated,
introspected and answered against the contract's schema only: what the contract leaves out
does not exist for it (see `federation.router.contracts` for the filtering rules). The tags
are checked against the supergraph when the gateway starts; a contract that would leave an
unusable schema stops the start, naming the contract.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

TagName = Annotated[str, Field(pattern=r"^[A-Za-z0-9/_-]{1,128}$")]
"""As `@tag` names go: letters, digits, `-`, `_` and `/`, at most 128."""

CONTRACT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

PARTNER_CONTRACT = "partner"


class ContractConfig(BaseModel):
    """`include_tags`: only object and interface fields carrying one (or whose type does)
    are kept; empty keeps everything not excluded. `exclude_tags`: anything carrying one is
    removed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = Field("", max_length=200)
    include_tags: frozenset[TagName] = Field(frozenset(), max_length=100)
    exclude_tags: frozenset[TagName] = Field(frozenset(), max_length=100)

    @model_validator(mode="after")
    def _filters_something(self) -> ContractConfig:
        if not self.include_tags and not self.exclude_tags:
            raise ValueError("a contract needs include_tags or exclude_tags")
        if both := sorted(self.include_tags & self.exclude_tags):
            raise ValueError(f"tags both included and excluded: {', '.join(both)}")
        return self


def default_contracts() -> dict[str, ContractConfig]:
    return {
        PARTNER_CONTRACT: ContractConfig(
            description="partners acting for a customer: its orders, shipments and invoices",
            include_tags=frozenset({"partner"}),
        )
    }
