"""SwiftParcel, a parcel carrier: its own status codes, JSON webhooks, and pull tracking."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from sandbox.carrier import CarrierBackend
from sandbox.lifecycles import SWIFTPARCEL
from sandbox.runner import run
from sandbox.seed import Place, Shipment
from sandbox.service import guard, iso_utc, not_found
from sandbox.webhooks import Outbound

API_KEY = "swift-demo-key"


class SwiftParcelBackend(CarrierBackend):
    name = "swiftparcel"
    default_port = 8104
    credential_headers = ("x-swift-key",)
    lifecycle = SWIFTPARCEL

    def sign(self, message: Outbound, secret: str, timestamp: int) -> dict[str, str]:
        digest = hmac.new(secret.encode(), message.body, hashlib.sha256).hexdigest()
        return {"X-Swift-Signature": digest}

    def _event(
        self, event_id: str, status: str, at: datetime, place: Place, reason: str | None
    ) -> dict[str, Any]:
        return {
            "id": event_id,
            "code": status,
            "description": self.lifecycle.descriptions[status],
            "timestamp": iso_utc(at),
            "location": {"city": place.city, "country": place.country},
            "reason": reason,
        }

    def load_history(self, shipments: list[Shipment]) -> None:
        self.store.insert_many(
            "events",
            (
                (
                    f"ev_{s.tracking_number}_{index}",
                    self._event(f"ev_{s.tracking_number}_{index}", m.code, m.at, m.place, m.reason)
                    | {"tracking_number": s.tracking_number},
                )
                for s in shipments
                for index, m in enumerate(s.milestones)
            ),
        )

    def publish(
        self,
        shipment: dict[str, Any],
        status: str,
        occurred_at: datetime,
        reason: str | None,
        place: Place,
    ) -> dict[str, Any]:
        event = self._event(f"ev_{uuid.uuid4().hex[:20]}", status, occurred_at, place, reason)
        tracking = shipment["tracking_number"]
        self.store.put("events", event["id"], event | {"tracking_number": tracking})
        body = {"trackingNumber": tracking, "event": event}
        assert self.webhooks is not None
        self.webhooks.send(Outbound(event["id"], status, json.dumps(body).encode()))
        return body

    def routes(self) -> list[BaseRoute]:
        guarded = guard(lambda request: request.headers.get("x-swift-key") == API_KEY)
        return [Route("/v1/track/{tracking_number}", guarded(self.track), methods=["GET"])]

    async def track(self, request: Request) -> Response:
        tracking = request.path_params["tracking_number"]
        shipment = self.store.get("shipments", tracking)
        if shipment is None:
            raise not_found("tracking number")
        events = sorted(
            (
                {k: v for k, v in e.items() if k != "tracking_number"}
                for e in self.store.find("events", tracking_number=tracking)
            ),
            key=lambda e: e["timestamp"],
        )
        return JSONResponse(
            {"trackingNumber": tracking, "service": shipment["service"], "events": events}
        )


def main(argv: list[str] | None = None) -> None:
    """`python -m sandbox.swiftparcel`."""
    run(SwiftParcelBackend, argv)


if __name__ == "__main__":
    main()
