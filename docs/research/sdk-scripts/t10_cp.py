import json, httpx, os
from agnt5 import ImprovementControlPlaneClient, ImprovementControlPlaneError
SEEN = []
def handler(request):
    SEEN.append((request.method, str(request.url), request.headers.get("authorization"), request.headers.get("x-api-key"), json.loads(request.content) if request.content else None))
    p = request.url.path
    if p.endswith("/experiments") and request.method == "POST":
        return httpx.Response(201, json={"success": True, "message": "created", "data": {"id": "exp-1", "name": "n"}})
    if p.endswith("/runs") and request.method == "POST":
        return httpx.Response(201, json={"data": {"id": "run-1", "status": "queued"}})
    if "/runs/run-1" in p:
        return httpx.Response(200, json={"id": "run-1", "status": "completed", "pass_rate": 1.0})  # no envelope
    if "/runs/missing" in p:
        return httpx.Response(404, json={"success": False, "message": "experiment run not found", "code": "NOT_FOUND"})
    if "/runs/err" in p:
        return httpx.Response(400, json={"error": "bad thing"})
    if "/runs/txt" in p:
        return httpx.Response(502, text="gateway down")
    if "/runs/empty" in p:
        return httpx.Response(204)
    return httpx.Response(200, text="not json")
os.environ["AGNT5_CONTROL_PLANE_URL"] = "http://cp.local"      # /api/v1 appended if missing
os.environ["AGNT5_PROJECT_ID"] = "proj-1"
os.environ["AGNT5_CONTROL_PLANE_TOKEN"] = "agnt5_sk_abc"
c = ImprovementControlPlaneClient(transport=httpx.MockTransport(handler))
print("base_url:", c.base_url, "token:", c.token)
print(c.create_experiment({"name": "n", "dataset_id": "d"}))
print(c.create_experiment_run("exp-1", {"name": "r", "deployment_id": "dep"}))
print(c.create_experiment_run("exp-1"))
print(c.get_experiment_run("exp-1", "run-1"))
for rid in ("missing", "err", "txt"):
    try:
        c.get_experiment_run("exp-1", rid)
    except ImprovementControlPlaneError as e:
        print(rid, "->", repr(str(e)), e.status_code, e.code)
print("204 ->", c.get_experiment_run("exp-1", "empty"))
try:
    c.get_case("x")
except ImprovementControlPlaneError as e:
    print("non-json 200 ->", e, e.status_code)
print(c.list_topics(page=1, page_size=5, status=None) if False else "")
for s in SEEN: print(s)
del os.environ["AGNT5_CONTROL_PLANE_URL"]
os.environ["AGNT5_API_BASE_URL"] = "http://alt.local/api/v1/"
print(ImprovementControlPlaneClient(transport=httpx.MockTransport(handler)).base_url)
