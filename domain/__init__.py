"""The canonical logistics model every layer shares; it imports nothing of the product.

System of record (see `domain.system_of_record`): the ERP owns orders, customers, the item
master, valuation and invoices; the WMS owns stock by location and pick/pack tasks; the TMS owns
bookings (carrier, service, tracking number, packages); carriers own milestones.
"""

from domain.billing import FreightCharge, Invoice, InvoiceStatus
from domain.events import (
    EventEnvelope,
    SourceSystem,
    envelope_from_dict,
    envelope_to_dict,
    utc_now,
)
from domain.inventory import InventoryPosition, InventoryState
from domain.items import Item
from domain.locations import Location, Warehouse
from domain.orders import Order, OrderLine, OrderStatus
from domain.parties import Address, Customer
from domain.returns import (
    Disposition,
    ReceiptLine,
    RequestedReturnLine,
    ReturnAuthorization,
    ReturnLine,
    ReturnReason,
    ReturnReceipt,
    ReturnRequest,
    ReturnStatus,
    return_status,
)
from domain.shipments import (
    TERMINAL_STATUSES,
    DecidingMilestones,
    Milestone,
    MilestoneStatus,
    Package,
    Shipment,
    current_milestone,
    merge_history,
    progress_rank,
)
from domain.system_of_record import system_of_record
from domain.units import Money, Quantity, UnitOfMeasure, Weight, WeightUnit

__all__ = [
    "TERMINAL_STATUSES",
    "Address",
    "Customer",
    "DecidingMilestones",
    "Disposition",
    "EventEnvelope",
    "FreightCharge",
    "InventoryPosition",
    "InventoryState",
    "Invoice",
    "InvoiceStatus",
    "Item",
    "Location",
    "Milestone",
    "MilestoneStatus",
    "Money",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Package",
    "Quantity",
    "ReceiptLine",
    "RequestedReturnLine",
    "ReturnAuthorization",
    "ReturnLine",
    "ReturnReason",
    "ReturnReceipt",
    "ReturnRequest",
    "ReturnStatus",
    "Shipment",
    "SourceSystem",
    "UnitOfMeasure",
    "Warehouse",
    "Weight",
    "WeightUnit",
    "current_milestone",
    "envelope_from_dict",
    "envelope_to_dict",
    "merge_history",
    "progress_rank",
    "return_status",
    "system_of_record",
    "utc_now",
]
