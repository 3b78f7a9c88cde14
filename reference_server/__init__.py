"""A clustered MCP Streamable HTTP server: the correct reference target of mcp-scale, and,
with ``--defect``, a set of known-broken ones."""
