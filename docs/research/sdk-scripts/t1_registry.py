import importlib, json
from agnt5.function import FunctionRegistry
from agnt5.workflow import WorkflowRegistry
from agnt5.tool import ToolRegistry
from agnt5.agent import AgentRegistry
from agnt5.scorer import ScorerRegistry
regs = dict(function=FunctionRegistry, workflow=WorkflowRegistry, tool=ToolRegistry, agent=AgentRegistry, scorer=ScorerRegistry)
before = {k: set(r.all()) for k, r in regs.items()}
mod = importlib.import_module("myapp")
for k, r in regs.items():
    new = set(r.all()) - before[k]
    for n in sorted(new):
        c = r.all()[n]
        print(k, n, type(c).__name__)
        if k in ("function","workflow"):
            print("   input_schema", json.dumps(c.input_schema)); print("   output_schema", json.dumps(c.output_schema)); print("   metadata", c.metadata, "handler", c.handler)
        if k == "tool":
            print("   ", c.get_schema(), c.output_schema)
        if k == "agent":
            print("   model", c.model, c.model_name, list(c.tools))
        if k == "scorer":
            print("   ", c)
print("module attrs:", {n: type(v).__name__ for n, v in vars(mod).items() if hasattr(v, "_agnt5_config") or getattr(v, "_is_scorer", False) or type(v).__name__ in ("Tool","Agent")})
print(mod.greet._agnt5_config.name, mod.add._agnt5_config.name)
