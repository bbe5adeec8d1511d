"""The seed generator: deterministic, large enough, and covering every carrier status."""

from __future__ import annotations

from collections import Counter

from sandbox.lifecycles import BY_CARRIER
from sandbox.seed import generate


def test_same_seed_gives_an_identical_world() -> None:
    assert generate(7) == generate(7)


def test_another_seed_gives_another_world() -> None:
    assert generate(7).orders != generate(8).orders


def test_world_has_hundreds_of_orders_over_several_tenants_and_warehouses() -> None:
    world = generate(7)
    assert len(world.orders) >= 300
    assert len({order.sold_to for order in world.orders}) >= 6
    assert len(world.warehouses) >= 3
    assert len(world.positions) >= 2000
    assert {order.status for order in world.orders} == {
        "OPEN",
        "REL",
        "PART",
        "SHIP",
        "INV",
        "CNCL",
    }


def test_every_carrier_has_shipments_in_every_status() -> None:
    world = generate(7)
    latest = Counter(
        (shipment.carrier, shipment.milestones[-1].code)
        for shipment in world.shipments
        if shipment.milestones
    )
    for carrier, lifecycle in BY_CARRIER.items():
        missing = [code for code in lifecycle.codes if not latest[(carrier, code)]]
        assert not missing, f"{carrier} has no shipment whose latest status is {missing}"


def test_tracking_numbers_are_unique_and_in_each_carriers_format() -> None:
    world = generate(7)
    numbers = [shipment.tracking_number for shipment in world.shipments]
    assert len(numbers) == len(set(numbers))
    formats = {"SWFT": ("SP", 12), "RDLN": ("RL", 11), "HRTG": ("HF", 10)}
    for shipment in world.shipments:
        prefix, length = formats[shipment.carrier]
        number = shipment.tracking_number
        assert number.startswith(prefix) and len(number) == length and number[2:].isdigit()
