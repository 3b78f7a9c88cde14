"""Network faults in user space: the fault proxy that stands in a node's links (to its
clients, to Redis) when a run asks for a network fault, and the impairments it applies."""
