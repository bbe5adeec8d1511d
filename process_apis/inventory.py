"""Stock reads: positions per bin from the inventory read model, with the states kept apart.

Reads never call the WMS: the read model (`stores.inventory`) is fed by the WMS's pushes and the
positions poller through the event log, so stock answers while the WMS is down, as of the last
change the gateway heard of.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from domain.inventory import InventoryPosition
from domain.locations import Location
from process_apis.freshness import Freshness, SourceFreshness
from stores.inventory import InventoryStore
from system_apis.paging import Page

MAX_POSITIONS = 500
"""A bound on one unpaged answer; a SKU stocked in more bins than this is read page by page."""


class TooManyPositions(Exception):
    """More positions than one unpaged answer holds; said to the caller, never cut silently."""

    def __init__(self, sku: str) -> None:
        self.public_message = (
            f"SKU {sku} is stocked in more than {MAX_POSITIONS} bins; "
            "page through inventory(sku:) or name a warehouse"
        )
        super().__init__(self.public_message)


class InvalidPageToken(Exception):
    """A page token this reader did not issue (one from an older version, say)."""


WMS = "wms"
"""The source of every stock answer: the WMS owns on-hand by location."""


@dataclass(frozen=True, slots=True)
class InventoryQueries:
    positions_store: InventoryStore
    freshness: SourceFreshness | None = None

    async def stock_freshness(self) -> Freshness:
        """How current stock answers are: as of when the WMS was last heard from (a sweep of
        its listing completed, or one of its pushes was accepted); unknown without a clock."""
        if self.freshness is None:
            return Freshness(as_of=None, stale=True)
        return await self.freshness.of(WMS)

    async def positions_page(
        self, sku: str, warehouse_id: str | None, *, first: int, after: str | None
    ) -> Page[InventoryPosition]:
        """`first` positions in (warehouse, bin) order after the `after` token, and the token
        of the next page (None on the last); raises `InvalidPageToken`."""
        found = await self.positions_store.page(
            sku, warehouse_id, after=_location_of(after), limit=first + 1
        )
        items = tuple(found[:first])
        more = len(found) > first
        return Page(items, _token_of(items[-1].location) if more else None)

    async def positions(
        self, sku: str, warehouse_id: str | None = None
    ) -> tuple[InventoryPosition, ...]:
        """Every position of the SKU; `TooManyPositions` past `MAX_POSITIONS`."""
        found = await self.positions_store.page(
            sku, warehouse_id, after=None, limit=MAX_POSITIONS + 1
        )
        if len(found) > MAX_POSITIONS:
            raise TooManyPositions(sku)
        return tuple(found)


def _token_of(location: Location) -> str:
    return orjson.dumps([location.warehouse_id, location.bin]).decode()


def _location_of(token: str | None) -> Location | None:
    if token is None:
        return None
    try:
        decoded = orjson.loads(token)
    except orjson.JSONDecodeError:
        raise InvalidPageToken("not a page token") from None
    if (
        not isinstance(decoded, list)
        or len(decoded) != 2
        or not all(isinstance(part, str) for part in decoded)
    ):
        raise InvalidPageToken("not a page token")
    return Location(warehouse_id=decoded[0], bin=decoded[1])
