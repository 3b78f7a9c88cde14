# Stand-in for redis:7, from Debian's redis-server (scripts/build_base_images.sh): `redis-server`
# and `redis-cli` on the PATH, data in /data, as the official image.
ARG BASE=mcp-scale-base/debian:bookworm-minbase
FROM ${BASE}
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown redis:redis /data
WORKDIR /data
VOLUME /data
USER redis
EXPOSE 6379
CMD ["redis-server", "--protected-mode", "no"]
