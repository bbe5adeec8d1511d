"""Each carrier's own status codes and how a shipment moves through them.

The seed generator and the carrier services share these tables so that seeded histories and
run-time advances follow the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Lifecycle:
    """A carrier's status vocabulary: descriptions, the happy path and where each code leads.

    Its tracking numbers are `tracking_prefix` followed by `tracking_digits` digits.
    """

    carrier: str
    tracking_prefix: str
    tracking_digits: int
    descriptions: dict[str, str]
    next_status: dict[str, str]
    histories: dict[str, tuple[str, ...]]
    final_cycle: tuple[str, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.descriptions)

    @property
    def tracking_pattern(self) -> str:
        return rf"{self.tracking_prefix}\d{{{self.tracking_digits}}}"

    @property
    def first(self) -> str:
        return next(iter(self.descriptions))

    def is_terminal(self, status: str) -> bool:
        return status not in self.next_status

    def follow(self, status: str, steps: int) -> list[str]:
        """The statuses a shipment passes through when moved on by `steps` from `status`."""
        made: list[str] = []
        for _ in range(steps):
            if status not in self.next_status:
                break
            status = self.next_status[status]
            made.append(status)
        return made


SWIFTPARCEL = Lifecycle(
    carrier="SWFT",
    tracking_prefix="SP",
    tracking_digits=10,
    descriptions={
        "MR": "Manifest received",
        "PU": "Picked up",
        "IT": "In transit",
        "AR": "Arrived at hub",
        "OD": "Out for delivery",
        "DL": "Delivered, front door",
        "NA": "Delivery attempted, recipient not home",
        "HP": "Held at pickup point",
        "EX": "Exception",
        "RS": "Returned to sender",
    },
    next_status={
        "MR": "PU",
        "PU": "IT",
        "IT": "AR",
        "AR": "OD",
        "OD": "DL",
        "NA": "OD",
        "HP": "DL",
        "EX": "IT",
    },
    histories={
        "MR": ("MR",),
        "PU": ("MR", "PU"),
        "IT": ("MR", "PU", "IT"),
        "AR": ("MR", "PU", "IT", "AR"),
        "OD": ("MR", "PU", "IT", "AR", "OD"),
        "DL": ("MR", "PU", "IT", "AR", "OD", "DL"),
        "NA": ("MR", "PU", "IT", "AR", "OD", "NA"),
        "HP": ("MR", "PU", "IT", "AR", "OD", "NA", "HP"),
        "EX": ("MR", "PU", "IT", "EX"),
        "RS": ("MR", "PU", "IT", "AR", "OD", "NA", "HP", "RS"),
    },
    final_cycle=(
        "DL",
        "MR",
        "DL",
        "PU",
        "DL",
        "IT",
        "AR",
        "DL",
        "OD",
        "NA",
        "DL",
        "HP",
        "EX",
        "RS",
    ),
)

ROADLINE = Lifecycle(
    carrier="RDLN",
    tracking_prefix="RL",
    tracking_digits=9,
    descriptions={
        "DISPATCHED": "Driver dispatched for pickup",
        "PICKED_UP": "Freight picked up",
        "AT_TERMINAL": "Arrived at terminal",
        "IN_LINEHAUL": "In linehaul to destination terminal",
        "OUT_FOR_DELIVERY": "Out for delivery",
        "DELIVERED": "Delivered, signed by consignee",
        "APPOINTMENT_MISSED": "Delivery appointment missed",
        "DAMAGED": "Freight damaged, inspection pending",
        "REFUSED": "Delivery refused by consignee",
        "RETURNED": "Returned to shipper",
    },
    next_status={
        "DISPATCHED": "PICKED_UP",
        "PICKED_UP": "AT_TERMINAL",
        "AT_TERMINAL": "IN_LINEHAUL",
        "IN_LINEHAUL": "OUT_FOR_DELIVERY",
        "OUT_FOR_DELIVERY": "DELIVERED",
        "APPOINTMENT_MISSED": "OUT_FOR_DELIVERY",
        "DAMAGED": "IN_LINEHAUL",
        "REFUSED": "RETURNED",
    },
    histories={
        "DISPATCHED": ("DISPATCHED",),
        "PICKED_UP": ("DISPATCHED", "PICKED_UP"),
        "AT_TERMINAL": ("DISPATCHED", "PICKED_UP", "AT_TERMINAL"),
        "IN_LINEHAUL": ("DISPATCHED", "PICKED_UP", "AT_TERMINAL", "IN_LINEHAUL"),
        "OUT_FOR_DELIVERY": (
            "DISPATCHED",
            "PICKED_UP",
            "AT_TERMINAL",
            "IN_LINEHAUL",
            "OUT_FOR_DELIVERY",
        ),
        "DELIVERED": (
            "DISPATCHED",
            "PICKED_UP",
            "AT_TERMINAL",
            "IN_LINEHAUL",
            "OUT_FOR_DELIVERY",
            "DELIVERED",
        ),
        "APPOINTMENT_MISSED": (
            "DISPATCHED",
            "PICKED_UP",
            "AT_TERMINAL",
            "IN_LINEHAUL",
            "OUT_FOR_DELIVERY",
            "APPOINTMENT_MISSED",
        ),
        "DAMAGED": ("DISPATCHED", "PICKED_UP", "AT_TERMINAL", "DAMAGED"),
        "REFUSED": (
            "DISPATCHED",
            "PICKED_UP",
            "AT_TERMINAL",
            "IN_LINEHAUL",
            "OUT_FOR_DELIVERY",
            "REFUSED",
        ),
        "RETURNED": (
            "DISPATCHED",
            "PICKED_UP",
            "AT_TERMINAL",
            "IN_LINEHAUL",
            "OUT_FOR_DELIVERY",
            "REFUSED",
            "RETURNED",
        ),
    },
    final_cycle=(
        "DELIVERED",
        "DISPATCHED",
        "PICKED_UP",
        "DELIVERED",
        "AT_TERMINAL",
        "IN_LINEHAUL",
        "DELIVERED",
        "OUT_FOR_DELIVERY",
        "APPOINTMENT_MISSED",
        "DELIVERED",
        "DAMAGED",
        "REFUSED",
        "RETURNED",
    ),
)

HERITAGE = Lifecycle(
    carrier="HRTG",
    tracking_prefix="HF",
    tracking_digits=8,
    descriptions={
        "X3": "Arrived at pick-up location",
        "AF": "Departed pick-up location",
        "X6": "En route to delivery location",
        "AG": "Estimated delivery",
        "X1": "Arrived at delivery location",
        "D1": "Completed unloading at delivery location",
        "A7": "Refused by consignee",
        "A9": "Shipment damaged",
        "SD": "Shipment delayed",
        "AP": "Delivery not completed",
    },
    next_status={
        "X3": "AF",
        "AF": "X6",
        "X6": "AG",
        "AG": "X1",
        "X1": "D1",
        "SD": "X6",
        "AP": "X1",
        "A9": "X6",
    },
    histories={
        "X3": ("X3",),
        "AF": ("X3", "AF"),
        "X6": ("X3", "AF", "X6"),
        "AG": ("X3", "AF", "X6", "AG"),
        "X1": ("X3", "AF", "X6", "AG", "X1"),
        "D1": ("X3", "AF", "X6", "AG", "X1", "D1"),
        "A7": ("X3", "AF", "X6", "AG", "X1", "A7"),
        "A9": ("X3", "AF", "X6", "A9"),
        "SD": ("X3", "AF", "X6", "SD"),
        "AP": ("X3", "AF", "X6", "AG", "X1", "AP"),
    },
    final_cycle=("D1", "X3", "AF", "D1", "X6", "AG", "D1", "X1", "A7", "D1", "A9", "SD", "AP"),
)

BY_CARRIER = MappingProxyType(
    {lifecycle.carrier: lifecycle for lifecycle in (SWIFTPARCEL, ROADLINE, HERITAGE)}
)
