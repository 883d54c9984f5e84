"""Minimal OpenAI-compatible server: logs requests; answers chat.completions (stream or not)."""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
LOG = []
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
        LOG.append({"path": self.path, "headers": dict(self.headers), "body": body})
        msgs = body.get("messages") or body.get("input") or []
        has_tool_result = any((m.get("role") == "tool") or (m.get("type") == "function_call_output") for m in msgs if isinstance(m, dict))
        want_tool = bool(body.get("tools")) and not has_tool_result
        if self.path.endswith("/chat/completions"):
            if body.get("stream"):
                self.send_response(200); self.send_header("content-type", "text/event-stream"); self.end_headers()
                def send(obj): self.wfile.write(b"data: " + json.dumps(obj).encode() + b"\n\n"); self.wfile.flush()
                base = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": int(time.time()), "model": body["model"]}
                if want_tool:
                    send({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": ""}}]}, "finish_reason": None}]})
                    send({**base, "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\": \"Oslo\"}"}}]}, "finish_reason": None}]})
                    send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
                else:
                    send({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Final "}, "finish_reason": None}]})
                    send({**base, "choices": [{"index": 0, "delta": {"content": "answer."}, "finish_reason": None}]})
                    send({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                send({**base, "choices": [], "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}})
                self.wfile.write(b"data: [DONE]\n\n"); self.wfile.flush()
                return
            msg = {"role": "assistant", "content": "Plain answer."}
            fr = "stop"
            if want_tool:
                msg = {"role": "assistant", "content": None, "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "lookup", "arguments": "{\"city\": \"Oslo\"}"}}]}
                fr = "tool_calls"
            out = {"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
                   "choices": [{"index": 0, "message": msg, "finish_reason": fr}],
                   "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}}
            data = json.dumps(out).encode()
            self.send_response(200); self.send_header("content-type", "application/json"); self.send_header("content-length", str(len(data))); self.end_headers(); self.wfile.write(data)
            return
        self.send_response(404); self.end_headers(); self.wfile.write(b'{"error":{"message":"unsupported path"}}')

def start(port=0):
    srv = ThreadingHTTPServer(("127.0.0.1", port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
