"""What the server offers: tools, resources and prompts, and the context a tool runs in."""

from reference_server.tools.base import (
    Catalog,
    Prompt,
    Resource,
    ResourceTemplate,
    Tool,
    ToolContext,
)

__all__ = ["Catalog", "Prompt", "Resource", "ResourceTemplate", "Tool", "ToolContext"]
