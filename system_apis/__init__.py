"""System APIs: one client per backend and the parsers of everything backends push to us.

Above this line the product speaks only the canonical model (`domain`); below it each backend
keeps its own field names, codes, paging, auth and failure modes. Clients return canonical
types or raise `BackendError`; inbound parsers return canonical milestones or events or raise
`InboundError` (see `system_apis.errors`). Build clients from `BackendSettings`
(`ErpClient.from_settings(...)`, or all at once with `SystemClients.from_settings(...)`) and
close them explicitly. The correlation id of outbound calls comes from `correlation_scope`.
"""

from system_apis.bundle import SystemClients
from system_apis.context import correlation_scope, current_correlation_id
from system_apis.erp.client import ErpClient
from system_apis.errors import (
    BackendError,
    BackendNotFound,
    BackendRedirected,
    BackendRejected,
    BackendResponseTooLarge,
    BackendThrottled,
    BackendTimeout,
    BackendUnavailable,
    CircuitOpen,
    InboundError,
    InvalidSignature,
    MalformedPayload,
    UnknownStatusCode,
)
from system_apis.heritage.client import HeritageClient
from system_apis.heritage.inbound import (
    parse_heritage_outbox,
    parse_heritage_push,
    parse_x12_214,
    verify_heritage_push,
)
from system_apis.milestones import (
    MilestoneBatch,
    RejectedRecord,
    milestone_envelope,
    milestone_from_payload,
    milestone_payload,
)
from system_apis.paging import Page
from system_apis.resilience.breaker import BreakerSnapshot, BreakerState, CircuitBreaker
from system_apis.resilience.client import BackendClient
from system_apis.roadline.client import RoadLineClient
from system_apis.roadline.mapping import milestones_from_status_updates
from system_apis.settings import BackendSettings
from system_apis.swiftparcel.client import SwiftParcelClient
from system_apis.swiftparcel.webhooks import (
    parse_swiftparcel_webhook,
    read_swiftparcel_webhook,
    verify_swiftparcel_signature,
)
from system_apis.tms.client import TmsClient
from system_apis.tms.models import Booking, BookingStatus, RateQuote, ShippingLabel
from system_apis.wms.client import WmsClient
from system_apis.wms.models import (
    AdjustmentReason,
    PickTask,
    StockAdjustment,
    TaskState,
    TaskType,
)
from system_apis.wms.webhooks import parse_wms_webhook, read_wms_webhook, verify_wms_signature

__all__ = [
    "AdjustmentReason",
    "BackendClient",
    "BackendError",
    "BackendNotFound",
    "BackendRedirected",
    "BackendRejected",
    "BackendResponseTooLarge",
    "BackendSettings",
    "BackendThrottled",
    "BackendTimeout",
    "BackendUnavailable",
    "Booking",
    "BookingStatus",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "CircuitOpen",
    "ErpClient",
    "HeritageClient",
    "InboundError",
    "InvalidSignature",
    "MalformedPayload",
    "MilestoneBatch",
    "Page",
    "PickTask",
    "RateQuote",
    "RejectedRecord",
    "RoadLineClient",
    "ShippingLabel",
    "StockAdjustment",
    "SwiftParcelClient",
    "SystemClients",
    "TaskState",
    "TaskType",
    "TmsClient",
    "UnknownStatusCode",
    "WmsClient",
    "correlation_scope",
    "current_correlation_id",
    "milestone_envelope",
    "milestone_from_payload",
    "milestone_payload",
    "milestones_from_status_updates",
    "parse_heritage_outbox",
    "parse_heritage_push",
    "parse_swiftparcel_webhook",
    "parse_wms_webhook",
    "parse_x12_214",
    "read_swiftparcel_webhook",
    "read_wms_webhook",
    "verify_heritage_push",
    "verify_swiftparcel_signature",
    "verify_wms_signature",
]
