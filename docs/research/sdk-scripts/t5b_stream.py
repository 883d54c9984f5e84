import asyncio, json, logging, os, sys
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
import fake_openai
srv = fake_openai.start()
os.environ["OLLAMA_BASE_URL"] = f"http://127.0.0.1:{srv.server_port}/v1"
from agnt5 import Agent, AgentContext
from capture import CaptureWorker
async def main():
    w = CaptureWorker()
    a = Agent(name="plain_agent", model="ollama/llama3", instructions="Be brief.")
    actx = AgentContext(run_id="r-agent2", agent_name="plain_agent", worker=w, trace_metadata={})
    actx._session_history_managed = True
    evs = [e.event_type async for e in a.stream("hello", context=actx)]
    print("yielded:", evs)
    for e in w.events:
        if e["event_type"].startswith("lm."):
            d = e["data"]; print(e["via"], e["event_type"], json.dumps({k: d.get(k) for k in ("output_data","input_tokens","total_tokens","duration_ms","finish_reason","model")}))
    print("HTTP:", [(x["path"], x["body"].get("stream")) for x in fake_openai.LOG])
    sys.stdout.flush(); os._exit(0)
asyncio.run(main())
