import asyncio, json, logging, os, sys
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
import myapp
from agnt5 import WorkflowContext
from agnt5.workflow import WorkflowEntity
from agnt5._state_adapter import StateAdapter, _state_adapter_ctx
from capture import CaptureWorker
async def main():
    print("wrapper w/o ctx:", await myapp.wf(x=4))
    w = CaptureWorker()
    tok = _state_adapter_ctx.set(StateAdapter())
    ent = WorkflowEntity(run_id="wf-run-1")
    ctx = WorkflowContext(workflow_entity=ent, run_id="wf-run-1", worker=w, trace_metadata={})
    print("handler(ctx, **input):", await myapp.wf._agnt5_config.handler(ctx, x=5))
    print("wrapper(ctx, **input):", await myapp.wf(ctx, x=6))
    print("events:", [e["event_type"] for e in w.events if not e["event_type"].startswith("log")])
    sys.stdout.flush(); os._exit(0)
asyncio.run(main())
