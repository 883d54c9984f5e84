import asyncio, json, logging
logging.getLogger("agnt5").setLevel(logging.ERROR)
import myapp
from agnt5 import FunctionContext
from capture import CaptureWorker

async def main():
    w = CaptureWorker()
    ctx = FunctionContext(run_id="run-123456789", correlation_id="fn-corr", parent_correlation_id="run-1234", worker=w,
                          trace_metadata={"agnt5_eval_role": "target", "deployment_id": "dep-1"})
    # 1) call the decorated wrapper with ctx (emits function.started/completed via ctx.emit)
    r = await myapp.greet(ctx, name="Ada")
    print("wrapper result:", r)
    # 2) call the raw handler like the worker does: handler(ctx, **input)
    cfg = myapp.greet._agnt5_config
    r2 = await cfg.handler(ctx, **{"name": "Bob"})
    print("handler result:", r2)
    # 3) sync function without ctx through wrapper (auto local ctx) and through handler
    print("add via wrapper:", await myapp.add(2, 3))
    try:
        print(await myapp.add._agnt5_config.handler(ctx, **{"a": 1, "b": 2}))
    except Exception as e:
        print("worker-style call of ctx-less fn fails:", type(e).__name__, e)
    w.dump(full=True)

asyncio.run(main())
