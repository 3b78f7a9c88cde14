"""The 2026-07-28 revision (stateless, per-request _meta) beside the 2025 handshake era."""

from reference_server.modern.era import is_modern
from reference_server.modern.meta import RequestMeta
from reference_server.modern.transport import ModernTransport

__all__ = ["ModernTransport", "RequestMeta", "is_modern"]
