# Shoal's container image: `docker build -t shoal .`, then
#   docker run -d --name shoal -p 9092:9092 -p 9644:9644 -v shoal-data:/var/lib/shoal --stop-timeout 45 shoal
# Clients on the host bootstrap from localhost:9092 (SHOAL_ADVERTISED_LISTENER below; set it to the address
# clients use elsewhere). Every setting is a SHOAL_* variable (`-e SHOAL_WORKERS=4`) or a flag after the image
# name (`shoal --workers 4`), as in README.md's Flags table. test/deploy.test.ts starts the broker from this file's
# ENV and ENTRYPOINT, and runs its HEALTHCHECK, so what is written here is what the tests run.
#
# Node: the broker runs on the Node 26 the project pins (the `node` npm package, installed into node_modules by
# `npm ci`), never on a base image's Node. The build stage needs an npm to run `npm ci` and the tools to build
# zstd-napi natively (node-gyp: python3, make, g++), so it starts from Node's Debian image; the runtime stage
# needs only a glibc and libatomic1 (which Node's binary links), so it starts from plain Debian slim: no second
# Node, no npm, no compiler. Both stages are Debian 12 (bookworm), so the addon built in the first links against
# the glibc of the second.

FROM node:22-bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/shoal
COPY package.json package-lock.json ./
# Production dependencies only: TypeScript runs through Node's type stripping, so nothing is compiled but the
# native addons.
RUN npm ci --omit=dev --no-audit --no-fund \
 && node_modules/node/bin/node --version

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libatomic1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 shoal \
 && useradd --system --uid 10001 --gid shoal --home-dir /var/lib/shoal --no-create-home --shell /usr/sbin/nologin shoal \
 && mkdir -p /var/lib/shoal \
 && chown shoal:shoal /var/lib/shoal \
 && chmod 0750 /var/lib/shoal
WORKDIR /opt/shoal
COPY --from=build /opt/shoal/node_modules ./node_modules
# package.json for `"type": "module"`; src/ is the broker; the health check is one script.
COPY package.json ./
COPY src ./src
COPY scripts/healthcheck.ts ./scripts/healthcheck.ts

# Defaults through the same variables an operator sets. They win over a mounted SHOAL_CONFIG file (a variable
# beats the file), so to change one of these, set the variable rather than the file's property.
ENV SHOAL_LISTEN=0.0.0.0:9092 \
    SHOAL_ADVERTISED_LISTENER=localhost:9092 \
    SHOAL_DATA_DIR=/var/lib/shoal \
    SHOAL_METRICS_LISTEN=0.0.0.0:9644

# Owned by the shoal user above, so a new named volume starts out writable by it.
VOLUME ["/var/lib/shoal"]
# Kafka, then /metrics, /healthz and /readyz.
EXPOSE 9092 9644
USER 10001:10001

# SIGTERM drains (answers what is in flight, fsyncs, writes the clean-shutdown markers) and exits 0 within
# --shutdown-timeout-ms (30 s by default), so stop the container with more than that: `docker stop -t 45`,
# `--stop-timeout 45`, or compose's stop_grace_period (Docker's default of 10 s would cut the drain short and
# leave the logs to be recovered at the next start, as after kill -9). The broker handles the signal itself, so
# it runs as PID 1 without an init.
STOPSIGNAL SIGTERM
# Healthy once /readyz is 200: every worker has recovered its partitions. A large data directory recovering after
# a crash may take a while; the start period keeps those failures from counting.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
  CMD ["/opt/shoal/node_modules/node/bin/node", "/opt/shoal/scripts/healthcheck.ts"]
ENTRYPOINT ["/opt/shoal/node_modules/node/bin/node", "/opt/shoal/src/main.ts"]
CMD []
