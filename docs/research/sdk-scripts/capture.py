"""A fake PyWorker that records what the SDK's EventEmitter would journal."""
import json
class CaptureWorker:
    def __init__(self):
        self.events = []
    def _rec(self, path, event_type, event_data, metadata, **kw):
        data = json.loads(event_data) if isinstance(event_data, (bytes, bytearray, str)) else event_data
        self.events.append({"via": path, "event_type": event_type, "data": data, "metadata": dict(metadata or {}), **kw})
    def queue_event(self, *, invocation_id, event_type, event_data, content_index, sequence, metadata, source_timestamp_ns, is_streaming, correlation_id, parent_correlation_id):
        self._rec("queue_event", event_type, event_data, metadata, is_streaming=is_streaming)
    def emit_event_sync(self, *, run_id, event_type, event_data, sequence_number, metadata, source_timestamp_ns, timeout_ms):
        self._rec("emit_event_sync", event_type, event_data, metadata)
    async def emit_event_async(self, *, run_id, event_type, event_data, sequence_number, metadata, source_timestamp_ns, timeout_ms):
        self._rec("emit_event_async", event_type, event_data, metadata)
    async def emit_event_batch_async(self, batch):
        for (run_id, event_type, event_data, seq, metadata, ts) in batch:
            self._rec("emit_event_batch_async", event_type, event_data, metadata)
    def flush_workflow_checkpoints(self):
        pass
    def dump(self, full=False):
        for e in self.events:
            if full:
                print(json.dumps(e, default=str))
            else:
                print(e["via"], e["event_type"])
