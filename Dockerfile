# One image for everything mcp-scale runs in containers: the reference server nodes, the Locust
# master and workers, and the chaos controller (see docker-compose.yml).
#
#   docker build -t mcp-scale:local .
#   docker run --rm -p 8000:8000 mcp-scale:local     # one in-memory node on :8000
#
# PYTHON_IMAGE is the official image unless set: docker-compose.yml passes
# $MCP_SCALE_PYTHON_IMAGE, e.g. a stand-in of scripts/build_base_images.sh where no registry
# answers.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app

# iptables: the nemesis's network faults (partition-redis, isolate-node) add and remove rules
# in a node container's own network namespace (docker exec as root with NET_ADMIN).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends iptables \
    && rm -rf /var/lib/apt/lists/*

# Dependencies first, in their own layer: it is rebuilt only when pyproject.toml changes.
# (Every dependency ships manylinux wheels: no compiler in the image.)
COPY pyproject.toml README.md ./
RUN mkdir -p reference_server harness scenarios \
    && touch reference_server/__init__.py harness/__init__.py scenarios/__init__.py \
    && pip install . "docker>=7" \
    && pip uninstall -y mcp-scale \
    && rm -rf reference_server harness scenarios build *.egg-info

COPY . .
RUN pip install --no-deps . && rm -rf build *.egg-info

# /app first on the path: Locust loads scenarios/ from the same tree that was installed.
ENV PYTHONPATH=/app

# Non-root. uid 1000 is the usual first user of a Linux host, so reports written to a bind
# mount (./reports) belong to that user; compose can override it with `user:`.
RUN groupadd --gid 1000 mcp \
    && useradd --uid 1000 --gid mcp --create-home --shell /usr/sbin/nologin mcp \
    && mkdir -p /reports \
    && chown mcp:mcp /reports
USER mcp

EXPOSE 8000

# A node's /healthz, with the Python that is already here (no curl in a slim image). Services
# that run no server (Locust, chaos) disable it in docker-compose.yml.
HEALTHCHECK --interval=5s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; url = os.environ.get('MCP_SCALE_HEALTH_URL', 'http://127.0.0.1:8000/healthz'); sys.exit(0 if u.urlopen(url, timeout=2).status == 200 else 1)"]

CMD ["python", "-m", "reference_server", "--host", "0.0.0.0", "--port", "8000"]
