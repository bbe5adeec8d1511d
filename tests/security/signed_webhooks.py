"""The product app with signed webhook deliveries, on the embedded and the scale-out engines.

`webhook_app` is the real app (`gateway.app.create_app`) behind Starlette's TestClient, over
SQLite with its SQL event log, and over PostgreSQL with the JetStream event log when those
answer on loopback: a value one engine stores and another refuses shows up here. Deliveries are
signed the way each sender signs them, with fresh timestamps; `in_event_log` asks the log itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from domain.shipments import Milestone
from gateway.app import create_app
from gateway.config import GatewayConfig
from gateway.inbound import inbound_sources
from system_apis.milestones import milestone_envelope

SECRETS = {"wms": "fuzz-wms-secret", "swiftparcel": "fuzz-swift-secret", "heritage": "fuzz-pw"}
ADMIN_KEY = "fuzz-admin-key"
READER_KEY = "fuzz-reader-key"


def gateway_config(
    database_url: str, event_log: str, backends: Mapping[str, str] | None = None
) -> GatewayConfig:
    """The app's configuration; `backends` maps backend names to the sandbox's URLs."""

    def client(tenant: str, key: str, scopes: list[str]) -> dict[str, object]:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return {"tenant": tenant, "api_key_sha256": digest, "scopes": scopes}

    return GatewayConfig.model_validate(
        {
            "stores": {"database_url": database_url, "event_log": event_log},
            "polling": {"enabled": False},
            "backends": {
                name: {"url": url, "timeout_s": 1.0, "max_retries": 1}
                for name, url in (backends or {}).items()
            },
            "webhooks": {
                "wms_secret": SECRETS["wms"],
                "swiftparcel_secret": SECRETS["swiftparcel"],
                "heritage_password": SECRETS["heritage"],
            },
            "clients": {
                "operations": client("C-1001", ADMIN_KEY, ["read", "admin"]),
                "portal": client("C-1001", READER_KEY, ["read"]),
            },
        }
    )


def signed(source: str, body: bytes) -> dict[str, str]:
    """The headers the sender would put on `body`: a valid signature, a fresh timestamp."""
    if source == "wms":
        stamp = str(int(time.time()))
        digest = hmac.new(
            SECRETS["wms"].encode(), stamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        return {
            "content-type": "application/json",
            "X-WMS-Timestamp": stamp,
            "X-WMS-Signature": f"sha256={digest}",
            "X-WMS-Delivery": uuid.uuid4().hex,
        }
    if source == "swiftparcel":
        digest = hmac.new(SECRETS["swiftparcel"].encode(), body, hashlib.sha256).hexdigest()
        return {"content-type": "application/json", "X-Swift-Signature": digest}
    credentials = base64.b64encode(f"heritage:{SECRETS['heritage']}".encode()).decode()
    return {"content-type": "application/edi-x12", "Authorization": f"Basic {credentials}"}


@dataclass
class WebhookApp:
    client: TestClient
    config: GatewayConfig
    engine: str
    database: Path | None

    def deliver(self, source: str, body: bytes):  # type: ignore[no-untyped-def]
        return self.client.post(f"/webhooks/{source}", content=body, headers=signed(source, body))

    def has_dead_letter(self, source: str, dead_letter_id: str) -> bool:
        """Whether the dead letter store keeps the letter an answer named, for this source."""
        runtime = self.client.app_state["runtime"]
        letter = self.client.portal.call(runtime.stores.dead_letters.get, dead_letter_id)
        return letter is not None and letter.source == source

    def read(self, source: str, body: bytes) -> list[object]:
        """What the source reads from `body`: its milestones or events."""
        return list(inbound_sources(self.config)[source].read(body, signed(source, body)))

    def wait_for_history(self, milestone: Milestone, timeout_s: float = 10.0) -> bool:
        """Whether the milestone history shows `milestone` within `timeout_s` (the projection
        follows the log on its own)."""
        runtime = self.client.app_state["runtime"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            history = self.client.portal.call(
                runtime.stores.milestones.history, milestone.tracking_number
            )
            if milestone.event_id in {m.event_id for m in history}:
                return True
            time.sleep(0.05)
        return False

    def in_event_log(self, source: str, body: bytes) -> bool:
        """Whether every event of an accepted body is in the log: appending it again must be
        a duplicate (the log's own dedup by event id, the same on every engine)."""
        items = inbound_sources(self.config)[source].read(body, signed(source, body))
        runtime = self.client.app_state["runtime"]
        for item in items:
            envelope = (
                milestone_envelope(item, received_at=item.occurred_at, correlation_id="check")
                if isinstance(item, Milestone)
                else item
            )
            appended = self.client.portal.call(runtime.stores.event_log.append, envelope)
            if not appended.duplicate:
                return False
        return True


ENGINES = ("sqlite", "postgresql+jetstream")


@pytest.fixture(scope="module", params=ENGINES)
def webhook_app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebhookApp]:
    database: Path | None = None
    if request.param == "sqlite":
        database = tmp_path_factory.mktemp("webhooks") / "gateway.sqlite3"
        config = gateway_config(f"sqlite+aiosqlite:///{database}", "sql")
    else:
        postgres_url = request.getfixturevalue("postgres_url")
        nats_url = request.getfixturevalue("nats_url")
        config = gateway_config(postgres_url, nats_url)
    with TestClient(create_app(config), raise_server_exceptions=False) as client:
        yield WebhookApp(client=client, config=config, engine=request.param, database=database)
