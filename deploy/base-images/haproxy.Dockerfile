# Stand-in for haproxy:2.6, from Debian's haproxy (scripts/build_base_images.sh): the config at
# /usr/local/etc/haproxy/haproxy.cfg, run in the foreground (-db) as the official image does.
ARG BASE=mcp-scale-base/debian:bookworm-minbase
FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /usr/local/etc/haproxy
USER haproxy
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
