"""The configured inbound sources: which backends may push, and how each is checked and read."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from gateway.config import GatewayConfig
from gateway.webhooks import InboundSource
from system_apis.heritage.inbound import parse_x12_214, verify_heritage_push
from system_apis.swiftparcel.webhooks import read_swiftparcel_webhook, verify_swiftparcel_signature
from system_apis.wms.webhooks import read_wms_webhook, verify_wms_signature


def inbound_sources(config: GatewayConfig) -> dict[str, InboundSource]:
    secrets = config.webhooks
    tolerance = timedelta(seconds=secrets.timestamp_tolerance_s)

    def check_wms(body: bytes, headers: Mapping[str, str]) -> None:
        verify_wms_signature(body, headers, secrets.wms_secret, tolerance=tolerance)

    def check_swiftparcel(body: bytes, headers: Mapping[str, str]) -> None:
        verify_swiftparcel_signature(body, headers, secrets.swiftparcel_secret)

    def check_heritage(_body: bytes, headers: Mapping[str, str]) -> None:
        verify_heritage_push(headers, secrets.heritage_password)

    return {
        "wms": InboundSource(
            "wms", check_wms, lambda body, headers: [read_wms_webhook(body, headers)]
        ),
        "swiftparcel": InboundSource(
            "swiftparcel", check_swiftparcel, lambda body, _headers: read_swiftparcel_webhook(body)
        ),
        "heritage": InboundSource(
            "heritage", check_heritage, lambda body, _headers: parse_x12_214(body)
        ),
    }
