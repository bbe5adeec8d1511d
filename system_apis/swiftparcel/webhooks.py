"""SwiftParcel's JSON webhook to canonical milestones, after checking its signature.

`X-Swift-Signature` is the hex HMAC-SHA256 of the raw body with the shared secret; the body is
`{"trackingNumber": "SP...", "event": {...}}`.
"""

from __future__ import annotations

from collections.abc import Mapping

from domain.shipments import Milestone
from system_apis import fields
from system_apis.errors import InvalidSignature
from system_apis.signatures import header, verify_hmac_sha256
from system_apis.swiftparcel.mapping import milestone_from_swift

SIGNATURE_HEADER = "X-Swift-Signature"


def verify_swiftparcel_signature(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """Raise `InvalidSignature` unless the body carries SwiftParcel's signature."""
    signature = header(headers, SIGNATURE_HEADER)
    if not signature:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER}")
    verify_hmac_sha256(secret, body, signature)


def read_swiftparcel_webhook(body: bytes) -> tuple[Milestone, ...]:
    """The milestone in an already verified body (also how a kept dead letter is replayed)."""
    data = fields.as_object(fields.json_body(body), "body")
    tracking_number = fields.text(data, "trackingNumber", "body")
    return (
        milestone_from_swift(tracking_number, fields.field(data, "event", "body"), "body.event"),
    )


def parse_swiftparcel_webhook(
    body: bytes, headers: Mapping[str, str], secret: str
) -> tuple[Milestone, ...]:
    """Raises `InvalidSignature`, `MalformedPayload` or `UnknownStatusCode`."""
    verify_swiftparcel_signature(body, headers, secret)
    return read_swiftparcel_webhook(body)
