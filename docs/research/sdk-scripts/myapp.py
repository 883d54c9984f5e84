from agnt5 import function, tool, workflow, scorer, Agent, FunctionContext, WorkflowContext, Context, ScorerContext, ScorerRequest, ScorerResult
from agnt5.lm import LanguageModel, GenerateRequest, GenerateResponse, TokenUsage

@function
async def greet(ctx: FunctionContext, name: str) -> dict:
    """Say hello."""
    return {"message": f"Hello, {name}!"}

@function(name="add_nums")
def add(a: int, b: int) -> int:
    return a + b

@tool
async def lookup(ctx: Context, city: str) -> str:
    """Look up weather.

    Args:
        city: the city
    """
    if city == "boom":
        raise RuntimeError("lookup failed")
    return f"sunny in {city}"

@workflow
async def wf(ctx: WorkflowContext, x: int) -> dict:
    y = await ctx.step("double", lambda: x * 2)
    return {"y": y}

@scorer(name="has_hello", description="checks hello")
async def has_hello(ctx: ScorerContext, request: ScorerRequest) -> ScorerResult:
    ok = "Hello" in str(request.output)
    return ScorerResult(score=1.0 if ok else 0.0, explanation="checked")

@scorer
def plain_number(request: ScorerRequest):
    return 0.3

class StubModel(LanguageModel):
    """Scripted model: first call asks for tool 'lookup', second answers."""
    def __init__(self):
        self.calls = 0
    async def generate(self, request: GenerateRequest) -> GenerateResponse:
        self.calls += 1
        has_tool_result = any(m.tool_call_id for m in request.messages)
        if not has_tool_result:
            return GenerateResponse(text="", usage=TokenUsage(prompt_tokens=10, completion_tokens=5, total_tokens=15),
                tool_calls=[{"id": "call_1", "name": "lookup", "arguments": '{"city": "Paris"}'}], finish_reason="tool_calls")
        return GenerateResponse(text="It is sunny in Paris.", usage=TokenUsage(prompt_tokens=20, completion_tokens=6, total_tokens=26), finish_reason="stop")
    async def stream(self, request):
        raise NotImplementedError
        yield

weather_agent = Agent(name="weather_agent", model=StubModel(), instructions="You answer weather questions.", tools=[lookup], model_name="stub/model")
