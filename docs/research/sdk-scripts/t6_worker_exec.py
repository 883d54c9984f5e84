"""Drive the SDK's own worker executors (ExecutorMixin) in-process with a capture 'rust worker'."""
import asyncio, json, logging, os, sys
from types import SimpleNamespace
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
import myapp
from agnt5.worker._executors import ExecutorMixin
from agnt5.scorer import ScorerRegistry
from capture import CaptureWorker

class FakeExec(ExecutorMixin):
    def __init__(self, w):
        self._rust_worker = w; self._entity_state_adapter = None; self._checkpoint_client = None; self.service_name = "t"

def req(name, ctype, payload, **meta):
    return SimpleNamespace(invocation_id="inv-0123456789", component_name=name, component_type=ctype,
        input_data=json.dumps(payload).encode(), runtime_context=None, metadata=dict(meta), attempt=0,
        session_id=None, user_id=None, is_streaming=False)

async def run(kind, coro_fn, w):
    resp = await coro_fn
    print(f"== {kind}: response={resp}")
    for e in w.events:
        if e["event_type"].startswith("log"): continue
        d = e["data"]
        keep = {k: d[k] for k in ("name","correlation_id","parent_correlation_id","input_data","output_data","error_code","error_message","duration_ms","tool_name","tool_call_id") if k in d}
        print("  ", e["via"], e["event_type"], json.dumps(keep, default=str)[:300])
    w.events.clear()

async def main():
    w = CaptureWorker(); ex = FakeExec(w)
    await run("function greet", ex._execute_function(myapp.greet._agnt5_config, b"", req("greet", "function", {"name": "Ada"})), w)
    await run("function add (no ctx)", ex._execute_function(myapp.add._agnt5_config, b"", req("add_nums", "function", {"a": 1, "b": 2})), w)
    await run("tool lookup", ex._execute_tool(myapp.lookup, b"", req("lookup", "tool", {"city": "Rome"})), w)
    await run("scorer has_hello", ex._execute_scorer(ScorerRegistry.get("has_hello"), b"", req("has_hello", "scorer", {"output": "Hello X", "expected": "Hello X", "trace": [{"event_type": "lm.completed", "event_id": "e1", "correlation_id": "c", "data": {"total_tokens": 5}}]})), w)
    await run("scorer plain_number", ex._execute_scorer(ScorerRegistry.get("plain_number"), b"", req("plain_number", "scorer", {"output": 1})), w)
    await run("agent weather_agent", ex._execute_agent(myapp.weather_agent, b"", req("weather_agent", "agent", {"message": "Weather in Paris?", "session_history_managed": True})), w)
    await run("agent missing message", ex._execute_agent(myapp.weather_agent, b"", req("weather_agent", "agent", {"prompt": "hi", "session_history_managed": True})), w)
    await run("agent via pull", ex._execute_agent(myapp.weather_agent, b"", req("weather_agent", "agent", {"input": "Weather?", "session_history_managed": True}, dispatch_mode="pull")), w)
    sys.stdout.flush(); os._exit(0)
asyncio.run(main())
