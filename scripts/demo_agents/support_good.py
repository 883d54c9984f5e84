"""The demo's baseline support agent: looks the order up with a tool and answers in JSON."""

from __future__ import annotations

import json

from agnt5_evals import Context, component

ORDERS = {1001: "shipped", 1002: "processing", 1003: "delivered", 1004: "cancelled", 1005: "shipped",
          1006: "delivered", 1007: "processing", 1008: "shipped"}  # fmt: skip


def search_orders(order_id: int) -> dict[str, object]:
    return {"order_id": order_id, "status": ORDERS.get(order_id, "unknown")}


@component("support_agent", type="agent")
def support_agent(ctx: Context, input: dict[str, object]) -> str:
    order_id = int(str(input["order_id"]))
    ctx.llm_call("demo-model", input_tokens=120, output_tokens=15, role="planning")
    order = ctx.tool_call("search_orders", {"order_id": order_id}, call=search_orders)
    ctx.llm_call("demo-model", input_tokens=160, output_tokens=30, role="final_response")
    return json.dumps({"order_id": order_id, "status": order["status"], "answer": f"Your order is {order['status']}."})
