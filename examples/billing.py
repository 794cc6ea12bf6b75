"""Example billing tools: a balance lookup with a rate limit, and payments with a ledger.

``pay`` is not idempotent, so runplane journals each call; its ``reconcile`` hook
settles a call left in doubt by a crash by looking in the ledger for the payment's
reference: found means it happened (skip, with the recorded payment), missing means
it did not (repeat).
"""

import asyncio
import os
from pathlib import Path
from typing import Any

from runplane import ToolContext, tool

LEDGER = "payments"
# Test hooks: a directory to log started payments into, and a delay inside the call.
SIDE_EFFECTS_ENV = "RUNPLANE_EXAMPLES_SIDE_EFFECTS"
PAY_DELAY_ENV = "RUNPLANE_EXAMPLES_PAY_DELAY"


@tool(
    integration="billing",
    idempotent=True,
    rate_limit="2/s",
    description="Look up the balance of an account (at most 2 lookups a second).",
)
async def get_balance(account: str, tool_ctx: ToolContext) -> dict[str, Any]:
    """The account's balance: 1000 minus what the ledger has paid from it."""
    paid = sum(p["amount"] for p in await tool_ctx.records.list(LEDGER) if p["account"] == account)
    return {"account": account, "balance": 1000 - paid}


async def find_payment(
    account: str, to: str, amount: float, reference: str, tool_ctx: ToolContext
) -> dict[str, Any]:
    """Reconcile an in-doubt payment: skip it if the ledger has its reference."""
    for payment in await tool_ctx.records.list(LEDGER):
        if payment.get("reference") == reference:
            return {"action": "skip", "result": payment}
    return {"action": "repeat"}


@tool(
    integration="billing",
    reconcile=find_payment,
    description="Pay an amount from an account to a payee, with a unique reference.",
)
async def pay(
    account: str, to: str, amount: float, reference: str, tool_ctx: ToolContext
) -> dict[str, Any]:
    """Record a payment in the ledger."""
    _log_start(tool_ctx.run_id, "pay")
    await asyncio.sleep(float(os.environ.get(PAY_DELAY_ENV, "0")))
    payment = {"account": account, "to": to, "amount": amount, "reference": reference}
    # What a payment API would be given to drop a repeat of this call (a takeover's).
    payment["idempotency_key"] = tool_ctx.idempotency_key
    return await tool_ctx.records.add(LEDGER, payment)


def _log_start(run_id: str, name: str) -> None:
    directory = os.environ.get(SIDE_EFFECTS_ENV)
    if not directory:
        return
    with open(Path(directory) / "tools.log", "a", encoding="utf-8") as log:
        log.write(f"{run_id} {name}\n")
        log.flush()
        os.fsync(log.fileno())
