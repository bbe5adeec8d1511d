"""TMS booking flow, RoadLine's polled feed and Heritage's X12 outbox over real HTTP."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from zoneinfo import ZoneInfo

import httpx
import pytest

from sandbox.lifecycles import HERITAGE, ROADLINE
from tests.sandbox.helpers import parse_interchanges
from tests.sandbox_processes import Sandbox

pytestmark = pytest.mark.sandbox


async def test_rate_tender_book_and_label(clean_faults: Sandbox) -> None:
    sandbox = clean_faults
    request = {
        "origin": {"country": "US", "postal_code": "60607"},
        "destination": {"country": "US", "postal_code": "30303"},
        "parcels": [{"weight_kg": 2.5, "length_cm": 30, "width_cm": 20, "height_cm": 10}],
    }
    async with httpx.AsyncClient(headers=sandbox.headers("tms")) as client:
        unauthorised = await client.post(
            f"{sandbox.tms}/rates", json=request, headers={"X-Api-Key": "wrong"}
        )
        quotes = (await client.post(f"{sandbox.tms}/rates", json=request)).json()["quotes"]
        quote = next(q for q in quotes if q["carrier"] == "SWFT")
        key = {"Idempotency-Key": uuid.uuid4().hex}
        tender = {"quote_id": quote["quote_id"], "order_ref": "SO-100301"}
        first = await client.post(f"{sandbox.tms}/tenders", json=tender, headers=key)
        again = await client.post(f"{sandbox.tms}/tenders", json=tender, headers=key)
        unknown = await client.post(
            f"{sandbox.tms}/tenders", json={"quote_id": "Q-nope", "order_ref": "SO-100301"}
        )
        booking = first.json()
        label = await client.get(f"{sandbox.tms}/bookings/{booking['booking_id']}/label")
        by_tracking = await client.get(
            f"{sandbox.tms}/bookings", params={"tracking_number": booking["tracking_number"]}
        )
    assert unauthorised.status_code == 401
    assert {q["carrier"] for q in quotes} == {"SWFT", "RDLN", "HRTG"}
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == booking
    assert re.fullmatch(r"SP\d{10}", booking["tracking_number"])
    assert unknown.status_code == 422
    assert label.json()["format"] == "ZPL" and label.json()["label"].startswith("^XA")
    assert booking["tracking_number"] in label.json()["label"]
    assert by_tracking.json()["bookings"] == [booking]


async def test_roadline_feed_gives_new_rows_after_the_cursor(clean_faults: Sandbox) -> None:
    sandbox = clean_faults
    params = sandbox.params("roadline")
    async with httpx.AsyncClient() as client:
        refused = await client.get(f"{sandbox.roadline}/api/status-updates")
        everything = (
            await client.get(
                f"{sandbox.roadline}/api/status-updates", params={**params, "limit": 1000}
            )
        ).json()
        latest = {row["pro"]: row["status"] for row in everything["updates"]}
        moving = next(pro for pro, status in latest.items() if status == "AT_TERMINAL")
        await sandbox.aadvance("roadline", moving, steps=2)
        new = (
            await client.get(
                f"{sandbox.roadline}/api/status-updates",
                params={**params, "after": everything["cursor"]},
            )
        ).json()
        shipment = await client.get(f"{sandbox.roadline}/api/shipments/{moving}", params=params)
    assert refused.status_code == 401
    assert set(Counter(row["status"] for row in everything["updates"])) == set(ROADLINE.codes)
    assert [(row["pro"], row["status"]) for row in new["updates"]] == [
        (moving, "IN_LINEHAUL"),
        (moving, "OUT_FOR_DELIVERY"),
    ]
    assert int(new["cursor"]) > int(everything["cursor"])
    for row in new["updates"]:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row["statusDateTime"])
        ZoneInfo(row["timeZone"])
    assert shipment.json()["history"][-1]["status"] == "OUT_FOR_DELIVERY"


async def test_roadline_duplicate_fault_repeats_status_rows(clean_faults: Sandbox) -> None:
    sandbox = clean_faults
    params = sandbox.params("roadline")
    await sandbox.aemit("roadline", "RL900000001", "DISPATCHED")
    async with httpx.AsyncClient() as client:
        cursor = (
            await client.get(f"{sandbox.roadline}/api/shipments/RL900000001", params=params)
        ).json()["history"][-1]["seq"]
        await sandbox.aset_faults("roadline", duplicate_rate=1.0)
        await sandbox.aadvance("roadline", "RL900000001")
        new = (
            await client.get(
                f"{sandbox.roadline}/api/status-updates", params={**params, "after": cursor}
            )
        ).json()["updates"]
    assert [row["status"] for row in new] == ["PICKED_UP", "PICKED_UP"]
    assert new[0]["seq"] != new[1]["seq"]


async def test_heritage_outbox_is_well_formed_x12(clean_faults: Sandbox) -> None:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{clean_faults.heritage}/edi/outbox", params={"limit": 5000})
        later = await client.get(f"{clean_faults.heritage}/edi/outbox", params={"after": 10})
    assert response.headers["content-type"].startswith("text/plain")
    interchanges = parse_interchanges(response.text)
    assert len(interchanges) > 100
    controls = []
    releases = set()
    for interchange in interchanges:
        header, segments = interchange["header"], interchange["segments"]
        assert len(header) == 106 and header[105] == interchange["terminator"]
        isa = segments[0]
        assert [len(e) for e in isa[1:]] == [2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1]
        names = [segment[0] for segment in segments]
        assert names == [
            "ISA", "GS", "ST", "B10", "L11", "L11", "N1", "N1", "LX", "AT7", "MS1", "MS2",
            "SE", "GE", "IEA",
        ]  # fmt: skip
        gs, st, se, ge, iea = (segments[names.index(n)] for n in ("GS", "ST", "SE", "GE", "IEA"))
        assert gs[1] == "QM" and st[1] == "214"
        assert int(se[1]) == names.index("SE") - names.index("ST") + 1
        assert se[2] == st[2]
        assert ge[2] == gs[6] and int(iea[2]) == int(isa[13]) == int(gs[6])
        b10 = segments[names.index("B10")]
        # A shipment made ad hoc through /_admin/emit (other tests do) has no booking.
        assert re.fullmatch(r"HF\d{8}", b10[1]) and b10[3] == "HRTG"
        assert b10[2].startswith("BK") or b10[2] == "", b10
        release = gs[8]
        assert isa[12] == release[:5]
        releases.add(release)
        at7 = segments[names.index("AT7")]
        if release < "004010":
            date, century, clock, time_code = at7[5:9]
            assert re.fullmatch(r"\d{6}", date) and century == "20", at7
        else:
            date, clock, time_code = at7[5:8]
            assert re.fullmatch(r"\d{8}", date), at7
        assert re.fullmatch(r"\d{4}", clock)
        assert time_code in ("LT", "ET", "CT", "MT", "PT", "UT")
        controls.append(int(isa[13]))
    assert controls == sorted(controls) and len(set(controls)) == len(controls)
    assert releases == {"003070", "004010", "005010"}
    delimiters = {(i["element"], i["terminator"]) for i in interchanges}
    assert delimiters == {("*", "~"), ("|", "\n")}
    statuses = {s[1] for i in interchanges for s in i["segments"] if s[0] == "AT7"}
    assert statuses == set(HERITAGE.codes)
    assert int(parse_interchanges(later.text)[0]["segments"][0][13]) == 11
