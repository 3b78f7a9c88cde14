# Stand-in for python:3.11-slim-bookworm, from Debian's packages (scripts/build_base_images.sh).
# What the project's Dockerfile uses of the official image: `python` and `pip` on the PATH,
# pip allowed to install into the system Python, groupadd/useradd. ca/ holds this machine's
# own CA certificates (/usr/local/share/ca-certificates): a stand-in is local to the machine
# that built it, and trusts what it trusts (e.g. a TLS-inspecting egress proxy on the way to PyPI).
ARG BASE=mcp-scale-base/debian:bookworm-minbase
FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        python3 python3-pip python-is-python3 ca-certificates passwd \
    && rm -rf /var/lib/apt/lists/* \
    && rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
COPY ca/ /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
ENV LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
