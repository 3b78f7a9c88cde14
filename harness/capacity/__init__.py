"""Capacity search (``mcp-scale capacity``): the load stepped up on one cluster until a
threshold breaks; the last load that held, the knee, and a chart of throughput and latency
against load. ``knee`` (the definitions), ``plan``, ``search``, ``steps``, ``report``."""
