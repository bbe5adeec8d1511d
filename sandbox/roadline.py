"""RoadLine LTL, a carrier that must be polled: status rows in terminal-local time.

New rows go through the same ordered release as webhooks do elsewhere, so the duplicate and
out-of-order faults show up in the status-updates feed as a poller would meet them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.carrier import CarrierBackend, status_timeline
from sandbox.faults import FaultState
from sandbox.lifecycles import ROADLINE
from sandbox.runner import run
from sandbox.seed import Place, Shipment
from sandbox.service import BackendConfig, guard, not_found, query_limit, validation_error
from sandbox.store import Store
from sandbox.webhooks import OutboundQueue

API_KEY = "roadline-demo-key"
POUNDS_PER_KG = Decimal("2.20462")


class RoadLineBackend(CarrierBackend):
    name = "roadline"
    default_port = 8105
    lifecycle = ROADLINE
    indexed_fields = (*CarrierBackend.indexed_fields, "pro", "seq")

    def __init__(self, config: BackendConfig, store: Store, faults: FaultState) -> None:
        super().__init__(config, store, faults)
        self.queue = OutboundQueue(faults, self._append_row)

    def _row(self, pro: str, status: str, at: datetime, place: Place, reason: str | None):
        remarks = self.lifecycle.descriptions[status] + (f" ({reason})" if reason else "")
        return {
            "pro": pro,
            "status": status,
            "statusDateTime": at.astimezone(ZoneInfo(place.timezone)).strftime("%Y-%m-%d %H:%M:%S"),
            "timeZone": place.timezone,
            "terminal": place.terminal,
            "remarks": remarks,
        }

    def load_history(self, shipments: list[Shipment]) -> None:
        rows = [
            self._row(pro, m.code, m.at, m.place, None) | {"seq": seq}
            for seq, (pro, m) in enumerate(status_timeline(shipments), start=1)
        ]
        self.store.insert_many("status_rows", ((str(row["seq"]), row) for row in rows))
        self.store.set_meta("status_seq", str(len(rows)))

    async def _append_row(self, row: dict[str, Any]) -> None:
        with self.store.transaction():
            seq = self.store.next_number("status_seq", 1)
            self.store.put("status_rows", str(seq), row | {"seq": seq})

    def publish(
        self,
        shipment: dict[str, Any],
        status: str,
        occurred_at: datetime,
        reason: str | None,
        place: Place,
    ) -> dict[str, Any]:
        row = self._row(shipment["tracking_number"], status, occurred_at, place, reason)
        assert self.queue is not None
        self.queue.put(row)
        return row

    def routes(self) -> list[BaseRoute]:
        guarded = guard(lambda request: request.query_params.get("apikey") == API_KEY)
        return [
            Route("/api/shipments/{pro}", guarded(self.shipment), methods=["GET"]),
            Route("/api/status-updates", guarded(self.status_updates), methods=["GET"]),
        ]

    async def shipment(self, request: Request) -> Response:
        pro = request.path_params["pro"]
        shipment = self.store.get("shipments", pro)
        if shipment is None:
            raise not_found("PRO number")
        history = [
            {k: v for k, v in row.items() if k != "pro"}
            for row in self.store.find("status_rows", pro=pro)
        ]
        weight_lb = int((Decimal(shipment["weight_kg"]) * POUNDS_PER_KG).to_integral_value())
        return JSONResponse(
            {
                "pro": pro,
                "shipper_ref": shipment["order_ref"],
                "pieces": shipment["pieces"],
                "weight_lb": weight_lb,
                "history": history,
            }
        )

    async def status_updates(self, request: Request) -> Response:
        after = request.query_params.get("after") or "0"
        if not after.isdigit():
            raise validation_error([{"field": "after", "message": "not a cursor"}])
        rows, _ = self.store.page(
            "status_rows", limit=query_limit(request, 100, 1000), above=("seq", int(after))
        )
        cursor = str(rows[-1]["seq"]) if rows else after
        return JSONResponse({"updates": rows, "cursor": cursor})


def main(argv: list[str] | None = None) -> None:
    """`python -m sandbox.roadline`."""
    run(RoadLineBackend, argv)


if __name__ == "__main__":
    main()
