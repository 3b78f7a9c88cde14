"""mcp-scale: load, chaos and longevity testing for MCP Streamable HTTP servers."""
