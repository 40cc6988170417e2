# The collector alone: compiled JavaScript, production dependencies only, a non-root user.
# Build: docker build -t span-relay .   Run: docker run -p 4317:4317 -p 9411:9411 -p 16686:16686 span-relay

# 1. Build: every dependency (TypeScript, the native SQLite addon's toolchain), then compile. The
# build ends by starting the collector once to make V8's code cache (collector/scripts/code-cache.mjs),
# so the SQLite addon is built first; in /app, where the image runs it, since stack traces name the
# path the cache was made at.
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
COPY collector/package.json collector/
COPY instrumentation/package.json instrumentation/
COPY demo/package.json demo/
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY collector collector
COPY instrumentation instrumentation
RUN npm rebuild better-sqlite3 \
 && npm run --workspace collector build \
 && npm prune --omit=dev --no-audit --no-fund

# 2. Run: the compiled collector, its production dependencies, nothing else.
FROM node:20-bookworm-slim
ENV NODE_ENV=production
# As the span-relay command's #! line: glibc's malloc with four arenas (README, #10). docker run -e overrides it.
ENV MALLOC_ARENA_MAX=4
# The embedded default (CMD run) listens on loopback outside a container; here every interface, so
# that published ports reach it (README: who can read the traces).
ENV SPAN_RELAY_LISTEN_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/collector/package.json collector/package.json
COPY --from=build /app/collector/bin collector/bin
COPY --from=build /app/collector/dist collector/dist
COPY --from=build /app/collector/proto collector/proto
RUN mkdir -p /var/lib/span-relay && chown node:node /var/lib/span-relay
USER node
WORKDIR /var/lib/span-relay
# OTLP, Zipkin, OpenCensus, Jaeger (gRPC, HTTP, agent UDP), admin, trace page.
EXPOSE 4317 4318 9411 55678 14250 14268 6831/udp 6832/udp 8888 16686
HEALTHCHECK CMD ["node", "-e", "fetch('http://127.0.0.1:8888/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--max-semi-space-size=8", "/app/collector/bin/span-relay.js"]
CMD ["run"]
