"""System of record per field: which backend's word is final when two disagree.

Read paths merge backends; this table says whose value wins and which system a write must go to.
"""

from __future__ import annotations

from domain.events import SourceSystem

SYSTEM_OF_RECORD: dict[str, SourceSystem] = {
    "Order.*": SourceSystem.ERP,
    "Customer.*": SourceSystem.ERP,
    "Item.*": SourceSystem.ERP,
    "Invoice.*": SourceSystem.ERP,
    "FreightCharge.amount": SourceSystem.ERP,
    "InventoryPosition.on_hand": SourceSystem.WMS,
    "InventoryPosition.allocated": SourceSystem.WMS,
    "InventoryPosition.in_transit": SourceSystem.WMS,
    "InventoryPosition.quarantined": SourceSystem.WMS,
    "InventoryPosition.returned": SourceSystem.WMS,
    "PickTask.*": SourceSystem.WMS,
    "Shipment.carrier": SourceSystem.TMS,
    "Shipment.service": SourceSystem.TMS,
    "Shipment.tracking_number": SourceSystem.TMS,
    "Shipment.packages": SourceSystem.TMS,
    "Milestone.*": SourceSystem.CARRIER,
    "ReturnAuthorization.*": SourceSystem.ERP,
    "ReturnReceipt.*": SourceSystem.WMS,
}


def system_of_record(type_name: str, field_name: str) -> SourceSystem:
    """The owner of `type_name.field_name`, falling back to the type's owner."""
    specific = SYSTEM_OF_RECORD.get(f"{type_name}.{field_name}")
    if specific is not None:
        return specific
    try:
        return SYSTEM_OF_RECORD[f"{type_name}.*"]
    except KeyError:
        raise KeyError(f"no system of record declared for {type_name}.{field_name}") from None
