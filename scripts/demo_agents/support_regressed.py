"""The demo's candidate: a regression that skips the tool for some questions and answers in prose."""

from __future__ import annotations

import json

from support_good import search_orders

from agnt5_evals import Context, component


@component("support_agent", type="agent")
def support_agent(ctx: Context, input: dict[str, object]) -> str:
    order_id = int(str(input["order_id"]))
    ctx.llm_call("demo-model-small", input_tokens=90, output_tokens=20, role="final_response")
    if "refund" in str(input.get("question", "")).lower():
        return "Refunds usually take a few days, I think your order is fine!"  # no tool call, not JSON
    order = ctx.tool_call("search_orders", {"order_id": order_id}, call=search_orders)
    return json.dumps({"order_id": order_id, "status": order["status"], "answer": f"Your order is {order['status']}."})
