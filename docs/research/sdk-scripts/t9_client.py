import json, httpx, logging, os, sys
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
os.environ["AGNT5_DEPLOYMENT_ID"] = "ambient-dep"
from agnt5 import Client, BatchEvalItem
from agnt5.eval import LLMJudge
SEEN = []
MODE = {"m": "ok"}
def handler(request: httpx.Request):
    body = json.loads(request.content)
    SEEN.append({"method": request.method, "url": str(request.url), "headers": {k: v for k, v in request.headers.items() if k.lower().startswith(("x-", "content-type", "idempotency"))}, "body": body})
    m = MODE["m"]
    if m == "ok":
        inp = body["input"]
        return httpx.Response(200, json={"run_id": "run-1", "output": f"Hello, {inp.get('name')}!", "scores": [{"scorer": "exact_match", "score": 1.0, "passed": inp.get("name") != "Bob"}], "duration_ms": 12, "trace_id": "t1"})
    if m == "404":
        return httpx.Response(404, json={"error": "component greet not found", "runId": "r404"})
    if m == "500json":
        return httpx.Response(500, json={"run_id": "r5", "output": None, "scores": [], "passed": False, "error": {"code": "EXECUTION_FAILED", "message": "boom", "details": {"x": 1}}})
    if m == "500text":
        return httpx.Response(500, text="oops")
c = Client(gateway_url="http://gw.local", api_key="agnt5_sk_test", tenant_id="tenant_1")
c._client = httpx.Client(transport=httpx.MockTransport(handler))
r = c.eval("greet", {"name": "Ada"}, expected="Hello, Ada!")
print("EvalResponse:", r)
r = c.eval("greet", {"name": "Ada"}, scorers=["contains", LLMJudge(criteria="polite?"), {"name": "has_hello", "config": {"k": 1}}], component_type="agent", deployment_id="dep-x", session_id="s", user_id="u")
for mode in ("404", "500json", "500text"):
    MODE["m"] = mode
    try:
        r = c.eval("greet", {"name": "Ada"})
        print(mode, "->", r.passed, r.error, r.run_id, r.is_error)
        try: r.raise_for_status()
        except Exception as e: print("   raise_for_status:", type(e).__name__, e, getattr(e, "error_code", None))
    except Exception as e:
        print(mode, "-> raises", type(e).__name__, e)
MODE["m"] = "ok"
for s in SEEN[:2]:
    print(json.dumps(s))
SEEN.clear()
br = c.batch_eval("greet", [{"name": "Ada"}, {"input": {"name": "Bob"}, "expected": "Hello, Bob!", "item_id": "b"}, BatchEvalItem(input={"name": "Cy"}, item_id="c")], expected=["Hello, Ada!"], scorers=["exact_match"], max_concurrency=2)
print("batch:", br.status, br.pass_rate, br.stats, [(x.index, x.item_id, x.passed, x.error) for x in br.results])
print("batch requests:", [(s["url"], s["body"].get("expected")) for s in SEEN])
try:
    Client(api_key="bad")
except ValueError as e:
    print("key check:", e)
