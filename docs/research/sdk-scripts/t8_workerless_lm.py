import asyncio, json, logging, os, sys
logging.getLogger("agnt5").setLevel(logging.CRITICAL)
import fake_openai
srv = fake_openai.start()
os.environ["OLLAMA_BASE_URL"] = f"http://127.0.0.1:{srv.server_port}/v1"
import myapp
from agnt5 import Agent
from agnt5.serverless import ServerlessApp
a = Agent(name="oai_agent", model="ollama/llama3", instructions="Use tools.", tools=[myapp.lookup])
app = ServerlessApp(agents=[a], functions=[], workflows=[], tools=[], allow_unsigned=True)
async def main():
    st, body, hdrs = await app.handle_http(method="POST", path="/agnt5/invoke", headers={}, body=json.dumps(
        {"component_type": "agent", "component_name": "oai_agent", "input": {"prompt": "weather?", "session_id": "sess-9", "history": [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"}]}}).encode())
    print(st, body["status"], repr(body.get("output")))
    print("event types:", [e["event_type"] for e in body.get("events", [])])
    print("LLM request #1 messages:", json.dumps(fake_openai.LOG[0]["body"]["messages"]))
    print("manifest:", json.dumps(app.manifest()))
    sys.stdout.flush(); os._exit(0)
asyncio.run(main())
