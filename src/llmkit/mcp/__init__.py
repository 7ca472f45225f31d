"""MCP: use the tools of MCP servers (stdio, streamable HTTP) in agents, and serve llmkit as an MCP server."""
