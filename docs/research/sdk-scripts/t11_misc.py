import asyncio, json, logging, os, sys
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
import myapp
from agnt5 import Agent, AgentContext, FunctionContext
from agnt5.lm import GenerateResponse
from capture import CaptureWorker

def scripted(cb_ctx, request):
    # before_model callback: returning a GenerateResponse skips the provider call entirely
    if not any(m.tool_call_id for m in request.messages):
        return GenerateResponse(text="", tool_calls=[{"id": "k1", "name": "lookup", "arguments": '{"city":"Lima"}'}])
    return GenerateResponse(text="done: " + request.messages[-1].content)

a = Agent(name="nollm", model="openai/gpt-4o-mini", instructions="x", tools=[myapp.lookup], before_model_callback=scripted)

async def main():
    w = CaptureWorker()
    meta = {"agnt5_eval_role": "target", "agnt5.eval.tool_faults": json.dumps([{"tool": "lookup", "times": 1, "error_code": "SIM_FAULT", "message": "injected"}]),
            "agnt5.llm": json.dumps({"model": "openai/gpt-4.1", "temperature": 0.1})}
    ctx = AgentContext(run_id="r-x", agent_name="nollm", worker=w, trace_metadata=meta)
    ctx._session_history_managed = True
    r = await a.run("go", context=ctx)
    print("output:", r.output)
    print("runtime:", ctx.runtime)
    for e in w.events:
        if e["event_type"].startswith(("tool_call", "lm.")):
            d = e["data"]; print(e["event_type"], d.get("error_code"), d.get("error_message"), d.get("output_data"))
    sys.stdout.flush(); os._exit(0)
asyncio.run(main())
