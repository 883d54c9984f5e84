import asyncio, json, logging, os, sys, warnings
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
import fake_openai
srv = fake_openai.start()
os.environ["OLLAMA_BASE_URL"] = f"http://127.0.0.1:{srv.server_port}/v1"
from agnt5 import function, FunctionContext, lm
from agnt5.serverless import ServerlessApp
@function
async def ask(ctx: FunctionContext, q: str) -> str:
    r = await lm.generate(model="ollama/llama3", prompt=q)
    return r.text
app = ServerlessApp(functions=[ask], workflows=[], tools=[], agents=[], allow_unsigned=True)
async def main():
    st, body, _ = await app.handle_http(method="POST", path="/agnt5/invoke", headers={}, body=json.dumps({"component_type": "function", "component_name": "ask", "input": {"q": "hi"}}).encode())
    print(st, json.dumps(body)[:400])
    sys.stdout.flush(); os._exit(0)
asyncio.run(main())
