"""The use cases every edge (CLI, REST, MCP) calls: one function per action, with its wait and read-back."""
