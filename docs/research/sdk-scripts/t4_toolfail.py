import asyncio, json, logging
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
from agnt5 import Agent, AgentContext, tool, Context
from agnt5.lm import LanguageModel, GenerateResponse
import myapp
from capture import CaptureWorker

class FailStub(LanguageModel):
    async def generate(self, request):
        if not any(m.tool_call_id for m in request.messages):
            return GenerateResponse(text="", tool_calls=[{"id": "c9", "name": "lookup", "arguments": '{"city": "boom"}'},
                                                         {"id": "c10", "name": "nope", "arguments": '{}'}])
        return GenerateResponse(text="failed: " + request.messages[-1].content)
    async def stream(self, request):
        yield

a = Agent(name="fail_agent", model=FailStub(), instructions="x", tools=[myapp.lookup])

class RecordingCtx(AgentContext):
    """Alternative capture: override emit on the context itself."""
    def __init__(self, *a, **k):
        super().__init__(*a, **k); self.captured = []
    def emit(self, event):
        self.captured.append(event.to_dict()); return event

async def main():
    ctx = RecordingCtx(run_id="r1", agent_name="fail_agent", trace_metadata={})
    ctx._session_history_managed = True
    r = await a.run("go", context=ctx)
    print("output:", r.output)
    for e in ctx.captured:
        if e["event_type"].startswith("tool_call"):
            print(json.dumps(e))
asyncio.run(main())
