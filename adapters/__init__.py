"""The outside world: the event store and its extensions, component loading, HTTP and prompt targets, the LLM client."""
