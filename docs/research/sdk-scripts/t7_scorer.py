import asyncio, logging, os, sys
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
import myapp
from agnt5 import ScorerRequest, ScorerResult, run_scorer, ScorerContext, scorer
from agnt5.eval.types import TraceEvent
from agnt5.scorer import ScorerRegistry

@scorer
async def tokens_ok(request: ScorerRequest) -> ScorerResult:
    return ScorerResult(score=1.0 if request.get_total_tokens() < 100 else 0.0, metadata={"tools": request.get_tool_call_names()})

@scorer(name="uses_peers", depends_on=["has_hello"])
async def uses_peers(ctx: ScorerContext, request: ScorerRequest):
    return ScorerResult(score=len(ctx.peer_scores("has_hello")), label="peer")

async def main():
    r = await run_scorer("has_hello", ScorerRequest(output="Hello", expected="Hello"))
    print("has_hello:", r)
    print("plain_number (run_scorer returns raw):", await run_scorer("plain_number", ScorerRequest(output=1)))
    dict_trace = [{"event_type": "lm.completed", "event_id": "e1", "correlation_id": "c", "data": {"total_tokens": 5}}]
    try:
        print(await run_scorer("tokens_ok", ScorerRequest(output="x", trace=dict_trace)))
    except Exception as e:
        print("dict trace -> helper fails:", type(e).__name__, e)
    te = [TraceEvent(event_type="lm.completed", event_id="e1", correlation_id="c", data={"total_tokens": 5}),
          TraceEvent(event_type="tool_call.started", event_id="e2", correlation_id="tool-1", name="lookup",
                     data={"tool_name": "lookup", "tool_call_id": "call_1", "input_data": {"arguments": "{\"city\":\"Paris\"}"}})]
    print("TraceEvent trace:", await run_scorer("tokens_ok", ScorerRequest(output="x", trace=te)))
    print("peer:", await run_scorer("uses_peers", ScorerRequest(output="x", peer_scores=[{"scorer": "has_hello", "score": 1.0}])))
    print("binding:", await run_scorer("has_hello", ScorerRequest(output={"answer": {"text": "Hello"}}, config={"output_field": "output.answer.text", "output_type": "string"})))
    print("binding err:", await run_scorer("has_hello", ScorerRequest(output={"a": 1}, config={"output_field": "b"})))
    print("ScorerResult clamp/default:", ScorerResult(score=1.7), ScorerResult(score=0.49), ScorerResult.pass_result("ok"))
    try:
        await run_scorer("nope", ScorerRequest(output=1))
    except ValueError as e:
        print("missing:", e)
    try:
        @scorer(name="exact_match")
        async def bad(request): return 1.0
    except ValueError as e:
        print("reserved:", e)
    sys.stdout.flush(); os._exit(0)
asyncio.run(main())
