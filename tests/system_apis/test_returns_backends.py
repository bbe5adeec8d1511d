"""Returns against the real reference ERP and WMS: the ERP authorizes within what shipped and
the return window, the WMS receives an RMA once, both replay a write under the same key, and
the WMS pushes `return.received` then `return.inspected` as signed webhooks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import pytest

from domain.returns import (
    Disposition,
    ReceiptLine,
    RequestedReturnLine,
    ReturnReason,
    ReturnRequest,
    ReturnStatus,
)
from domain.units import Quantity, UnitOfMeasure
from system_apis import BackendNotFound, BackendRejected, ErpClient, WmsClient
from system_apis.erp.returns import QuantityExceedsShipped, ReturnWindowClosed
from system_apis.wms.returns import AlreadyReceived
from tests.sandbox_processes import Sandbox
from tests.shipped_orders import shipped_order
from tests.system_apis.conftest import Ingress, fast_settings

pytestmark = pytest.mark.sandbox


@pytest.fixture
async def erp(sandbox: Sandbox) -> AsyncIterator[ErpClient]:
    async with ErpClient.from_settings(fast_settings(sandbox, "erp")) as client:
        yield client


@pytest.fixture
async def wms(sandbox: Sandbox) -> AsyncIterator[WmsClient]:
    async with WmsClient.from_settings(fast_settings(sandbox, "wms")) as client:
        yield client


def request(order_id: str, customer: str, *lines: tuple[int, int]) -> ReturnRequest:
    return ReturnRequest(
        order_id,
        customer,
        tuple(RequestedReturnLine(pos, Decimal(qty), ReturnReason.DAMAGED) for pos, qty in lines),
    )


def key() -> str:
    return f"test-{uuid.uuid4().hex}"


async def test_seeded_returns_of_the_demo_customers_map(erp: ErpClient, wms: WmsClient) -> None:
    page = await erp.return_authorizations_page("C-1001", limit=50)
    assert {r.customer_id for r in page.items} == {"C-1001"} and len(page.items) >= 3
    statuses = {r.status for r in page.items}
    assert {ReturnStatus.AUTHORIZED, ReturnStatus.IN_TRANSIT, ReturnStatus.RECEIVED} <= statuses
    received = next(r for r in page.items if r.status is ReturnStatus.RECEIVED)
    assert await erp.return_authorization(received.rma_id) == received
    (receipt,) = await wms.return_receipts([received.rma_id])
    assert receipt.inspected and receipt.customer_id == "C-1001"
    assert [line.sku for line in receipt.lines] == [line.sku for line in received.lines]
    with pytest.raises(BackendNotFound):
        await erp.return_authorization("RMA-999999999")


async def test_a_return_is_authorized_once_per_key_within_what_shipped(
    sandbox: Sandbox, erp: ErpClient
) -> None:
    order = await shipped_order(sandbox, "C-1001", [("MAT-0001", 3), ("MAT-0002", 2)])
    same_key = key()
    first = await erp.create_return(
        request(order["doc_no"], "C-1001", (10, 2)), idempotency_key=same_key
    )
    again = await erp.create_return(
        request(order["doc_no"], "C-1001", (10, 2)), idempotency_key=same_key
    )
    assert first == again and first.status is ReturnStatus.AUTHORIZED
    assert (first.order_id, first.warehouse_id, first.lines[0].order_line) == (
        order["doc_no"],
        order["items"][0]["plant"],
        10,
    )
    listed = await erp.returns_for_orders([order["doc_no"]])
    assert [r.rma_id for r in listed] == [first.rma_id], "the retry authorized nothing twice"
    with pytest.raises(QuantityExceedsShipped) as raised:
        await erp.create_return(
            request(order["doc_no"], "C-1001", (10, 2), (20, 1)), idempotency_key=key()
        )
    (shortfall,) = raised.value.shortfalls
    assert (shortfall.order_line, shortfall.shipped, shortfall.already_returned) == (10, 3, 2)


async def test_another_customers_order_is_not_found_and_an_old_one_is_closed(
    sandbox: Sandbox, erp: ErpClient
) -> None:
    order = await shipped_order(sandbox, "C-1002", [("MAT-0003", 1)])
    with pytest.raises(BackendNotFound):
        await erp.create_return(request(order["doc_no"], "C-1001", (10, 1)), idempotency_key=key())
    seeded = await erp.return_authorizations_page("C-1001", limit=1)
    old_order = seeded.items[0].order_id
    with pytest.raises(ReturnWindowClosed) as raised:
        await erp.create_return(request(old_order, "C-1001", (10, 1)), idempotency_key=key())
    assert raised.value.closed_on < date.today()


async def test_a_released_order_has_nothing_to_return_and_no_unknown_line(
    sandbox: Sandbox, erp: ErpClient
) -> None:
    order = await shipped_order(sandbox, "C-1001", [("MAT-0004", 1)], shipped=False)
    with pytest.raises(QuantityExceedsShipped) as unshipped:
        await erp.create_return(request(order["doc_no"], "C-1001", (10, 1)), idempotency_key=key())
    assert unshipped.value.shortfalls[0].shipped == 0
    with pytest.raises(BackendRejected) as unknown_line:
        await erp.create_return(request(order["doc_no"], "C-1001", (70, 1)), idempotency_key=key())
    assert unknown_line.value.status_code == 422


@pytest.fixture
async def hooks(ingress: Ingress, clean_faults: Sandbox) -> AsyncIterator[Ingress]:
    ingress.reset()
    await clean_faults.aset_webhook("wms", ingress.url("wms"), ingress.secrets["wms"])
    yield ingress
    await clean_faults.aset_webhook("wms", None)


def graded(sku: str, quantity: int, disposition: Disposition) -> ReceiptLine:
    return ReceiptLine(sku, Quantity(Decimal(quantity), UnitOfMeasure.EACH), disposition)


async def test_the_wms_receives_an_rma_once_and_pushes_received_then_inspected(
    sandbox: Sandbox, erp: ErpClient, wms: WmsClient, hooks: Ingress
) -> None:
    order = await shipped_order(sandbox, "C-1001", [("MAT-0005", 4)])
    rma = await erp.create_return(
        request(order["doc_no"], "C-1001", (10, 3)), idempotency_key=key()
    )
    lines = [
        graded("MAT-0005", 2, Disposition.RESTOCK),
        graded("MAT-0005", 1, Disposition.WRITE_OFF),
    ]
    same_key = key()
    receipt = await wms.receive_return(
        rma.rma_id,
        customer_id="C-1001",
        warehouse_id=str(rma.warehouse_id),
        lines=lines,
        idempotency_key=same_key,
    )
    replayed = await wms.receive_return(
        rma.rma_id,
        customer_id="C-1001",
        warehouse_id=str(rma.warehouse_id),
        lines=lines,
        idempotency_key=same_key,
    )
    assert receipt == replayed and receipt.status() is ReturnStatus.RESTOCKED
    assert [line.bin for line in receipt.lines] == ["RET-01", "QC-01"]
    with pytest.raises(AlreadyReceived) as twice:
        await wms.receive_return(
            rma.rma_id,
            customer_id="C-1001",
            warehouse_id=str(rma.warehouse_id),
            lines=lines,
            idempotency_key=key(),
        )
    assert twice.value.receipt_id == receipt.receipt_id
    events = await hooks.wait_for("wms", 5)
    about_return = [e for e in events if e.aggregate_type == "Return"]
    assert [e.event_type for e in about_return] == ["return.received", "return.inspected"]
    assert {e.aggregate_id for e in about_return} == {rma.rma_id}
    assert {e.tenant_id for e in about_return} == {"C-1001"}
    restocked = [
        e for e in events if e.event_type == "inventory.adjusted" and e.payload["bin"] == "RET-01"
    ]
    assert [e.payload["reason"] for e in restocked] == ["RETURNED"]
    assert restocked[0].payload["delta"] == "2"
