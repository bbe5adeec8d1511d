"""Whose word is final per field: specific entries win over the type's owner."""

from __future__ import annotations

import pytest

from domain import SourceSystem, system_of_record


@pytest.mark.parametrize(
    ("type_name", "field_name", "owner"),
    [
        ("Order", "status", SourceSystem.ERP),
        ("InventoryPosition", "on_hand", SourceSystem.WMS),
        ("Shipment", "tracking_number", SourceSystem.TMS),
        ("Milestone", "status", SourceSystem.CARRIER),
        ("Invoice", "gross", SourceSystem.ERP),
    ],
)
def test_each_field_has_its_system_of_record(type_name, field_name, owner):
    assert system_of_record(type_name, field_name) is owner


def test_an_undeclared_field_is_an_error_not_a_guess():
    with pytest.raises(KeyError, match=r"Shipment\.status"):
        system_of_record("Shipment", "status")
