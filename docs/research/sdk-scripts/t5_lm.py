import asyncio, json, logging, os, sys
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
import fake_openai
srv = fake_openai.start()
os.environ["OLLAMA_BASE_URL"] = f"http://127.0.0.1:{srv.server_port}/v1"
from agnt5 import Agent, AgentContext, FunctionContext, lm
from agnt5.context import set_current_context
import myapp
from capture import CaptureWorker

async def main():
    w = CaptureWorker()
    fctx = FunctionContext(run_id="r-lm", correlation_id="c1", parent_correlation_id="p1", worker=w)
    tok = set_current_context(fctx)
    resp = await lm.generate(model="ollama/llama3", prompt="hi")
    print("lm.generate ->", resp.text, resp.usage)
    a = Agent(name="oai_agent", model="ollama/llama3", instructions="Use tools.", tools=[myapp.lookup])
    actx = AgentContext(run_id="r-agent", agent_name="oai_agent", worker=w, trace_metadata={})
    actx._session_history_managed = True
    r = await a.run("weather?", context=actx)
    print("agent ->", r.output, r.tool_calls)
    for e in w.events:
        if e["event_type"].startswith(("lm.", "tool_call")):
            print(json.dumps({k: e[k] for k in ("via", "event_type", "data", "metadata")}))
    print("HTTP:", [(x["path"], x["body"].get("stream"), x["headers"].get("authorization")) for x in fake_openai.LOG])
    print("agent request #1 body:", json.dumps(fake_openai.LOG[1]["body"]))
    print("agent request #2 messages:", json.dumps(fake_openai.LOG[2]["body"]["messages"]))
    sys.stdout.flush(); os._exit(0)
asyncio.run(main())
