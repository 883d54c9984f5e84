import asyncio, json, logging, sys
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
import myapp
from agnt5 import AgentContext
from capture import CaptureWorker

async def main(managed):
    w = CaptureWorker()
    ctx = AgentContext(run_id="run-abcdef123", agent_name="weather_agent", session_id="s1", worker=w,
                       correlation_id="agent-corr", parent_correlation_id="parent-corr", trace_metadata={})
    ctx._session_history_managed = True   # avoid GET {AGNT5_GATEWAY_URL}/v1/sessions/{id}/history
    if managed:
        ctx._executor_managed_lifecycle = True
    yielded = []
    async for ev in myapp.weather_agent.stream("Weather in Paris?", context=ctx):
        yielded.append(ev.event_type)
    print("YIELDED by agent.stream:", yielded)
    print("EMITTED via ctx (journal):")
    w.dump(full=True)
    r = await myapp.weather_agent.run("Weather in Paris?", context=ctx)
    print("run() ->", r.output, r.tool_calls)

asyncio.run(main(len(sys.argv) > 1))
