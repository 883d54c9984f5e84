"""A deterministic OpenAI-compatible chat-completions server on loopback, for judge and prompt tests.

The requested model picks the behaviour:
- ``judge-good``: a JSON verdict; score 0.9 if the output under evaluation mentions "shipped", else 0.2
- ``judge-labels``: answers only a label (``pass`` / ``fail``) for choice_scores tests
- ``judge-fenced``: the verdict inside a ```json fence, with chatter around it
- ``judge-garbage``: prose, no JSON
- ``judge-slow``: answers only once the server stops (the client surely timed out first)
- ``judge-denied``: HTTP 401
- ``judge-leaky``: HTTP 401 whose body echoes the request's Authorization header (the API key), as some do
- ``judge-broken``: HTTP 500
- ``prompt-echo``: answers the last message's content verbatim (prompt targets: the rendered template)
- ``prompt-fenced``: the last message's content inside a ```json fence, with chatter around it
- ``prompt-prose``: prose, no JSON
Every request is kept in ``requests`` for assertions.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def _completion(content: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def answer(request: dict[str, Any], auth: str | None = None) -> tuple[int, dict[str, Any] | str]:
    model = str(request.get("model"))
    prompt = request["messages"][-1]["content"]
    evaluated = prompt.split("## Output to Evaluate", 1)[-1].split("##", 1)[0]
    good = "shipped" in evaluated
    verdict = {"score": 0.9 if good else 0.2, "explanation": "mentions the status" if good else "no status"}
    if model == "judge-good":
        return 200, _completion(json.dumps(verdict), model)
    if model == "judge-labels":
        return 200, _completion(json.dumps({"label": "pass" if good else "fail", "explanation": "x"}), model)
    if model == "judge-fenced":
        return 200, _completion(f"Sure!\n```json\n{json.dumps(verdict)}\n```\nHope this helps", model)
    if model == "judge-garbage":
        return 200, _completion("I think it is quite good, honestly.", model)
    if model == "judge-slow":  # the handler held it until the server stopped
        return 200, _completion(json.dumps(verdict), model)
    if model == "prompt-echo":
        return 200, _completion(prompt, model)
    if model == "prompt-fenced":
        return 200, _completion(f"Here you go:\n```json\n{prompt}\n```\nAnything else?", model)
    if model == "prompt-prose":
        return 200, _completion("Sure! The order has shipped.", model)
    if model == "judge-leaky":
        return 401, {"error": {"message": f"invalid api key: {auth}", "key": str(auth).removeprefix("Bearer ")}}
    if model == "judge-denied":
        return 401, {"error": {"message": "invalid api key"}}
    return 500, {"error": {"message": f"unknown model {model}"}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a run's threads connect at once (the default backlog of 5 resets connections)


class FakeLLM:
    """Start with ``with FakeLLM() as llm: llm.base_url``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.stopping = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if body.get("model") == "judge-slow":
                    fake.stopping.wait(120)
                status, payload = answer(body, self.headers.get("Authorization"))
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeLLM:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
