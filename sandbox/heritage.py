"""Heritage Freight, a legacy carrier: X12 214 interchanges, pushed and kept in an outbox."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.carrier import CarrierBackend, status_timeline
from sandbox.lifecycles import HERITAGE
from sandbox.runner import run
from sandbox.seed import Place, Shipment
from sandbox.service import query_limit, utc_now, validation_error
from sandbox.webhooks import Outbound
from sandbox.x12 import StatusReport, interchange

BASIC_AUTH_USER = "heritage"
CONTENT_TYPE = "application/edi-x12"


class HeritageBackend(CarrierBackend):
    name = "heritage"
    default_port = 8106
    lifecycle = HERITAGE
    indexed_fields = (*CarrierBackend.indexed_fields, "control_number")

    def sign(self, message: Outbound, secret: str, timestamp: int) -> dict[str, str]:
        token = base64.b64encode(f"{BASIC_AUTH_USER}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    @staticmethod
    def _report(
        shipment: dict[str, Any], status: str, at: datetime, reason: str | None, place: Place
    ) -> StatusReport:
        return StatusReport(
            order_ref=shipment["order_ref"],
            tracking_number=shipment["tracking_number"],
            booking_id=shipment["booking_id"],
            shipper=shipment["shipper"],
            consignee=shipment["consignee"],
            status=status,
            reason=reason or "NS",
            occurred_at=at,
            timezone=place.timezone,
            city=place.city,
            state=place.state,
            country=place.country,
            equipment=f"TRL{shipment['tracking_number'][-4:]}",
        )

    def _outbox_entry(self, control: int, report: StatusReport, sent_at: datetime) -> dict:
        return {
            "control_number": control,
            "tracking_number": report.tracking_number,
            "status": report.status,
            "interchange": interchange(report, control, sent_at),
        }

    def load_history(self, shipments: list[Shipment]) -> None:
        documents = {
            s.tracking_number: self.store.get("shipments", s.tracking_number) for s in shipments
        }
        entries = [
            self._outbox_entry(
                control,
                self._report(documents[tracking], m.code, m.at, m.reason, m.place),
                m.at + timedelta(minutes=4),
            )
            for control, (tracking, m) in enumerate(status_timeline(shipments), start=1)
        ]
        self.store.insert_many("outbox", ((str(e["control_number"]), e) for e in entries))
        self.store.set_meta("control", str(len(entries)))

    def publish(
        self,
        shipment: dict[str, Any],
        status: str,
        occurred_at: datetime,
        reason: str | None,
        place: Place,
    ) -> dict[str, Any]:
        control = self.store.next_number("control", 1)
        report = self._report(shipment, status, occurred_at, reason, place)
        entry = self._outbox_entry(control, report, utc_now())
        self.store.put("outbox", str(control), entry)
        assert self.webhooks is not None
        self.webhooks.send(
            Outbound(f"{control:09d}", "214", entry["interchange"].encode(), CONTENT_TYPE)
        )
        return entry

    def routes(self) -> list[BaseRoute]:
        return [Route("/edi/outbox", self.outbox, methods=["GET"])]

    async def outbox(self, request: Request) -> Response:
        after = request.query_params.get("after") or "0"
        if not after.isdigit():
            raise validation_error([{"field": "after", "message": "not a control number"}])
        entries, _ = self.store.page(
            "outbox", limit=query_limit(request, 500, 5000), above=("control_number", int(after))
        )
        last = entries[-1]["control_number"] if entries else int(after)
        return PlainTextResponse(
            "".join(entry["interchange"] + "\n" for entry in entries),
            headers={"X-Last-Control-Number": str(last)},
        )


def main(argv: list[str] | None = None) -> None:
    """`python -m sandbox.heritage`."""
    run(HeritageBackend, argv)


if __name__ == "__main__":
    main()
