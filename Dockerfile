# syntax=docker/dockerfile:1
# peakdesk gateway image: build in one stage, run the compiled dist/ on a slim Node 22 with
# production dependencies only, as the unprivileged `node` user.
# Not built on the machine this was written on (no Docker there); see README "Containers".

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
USER node
EXPOSE 8080
# /readyz is 200 only while the store answers (and 503 while start-up waits for Redis).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# The gateway is PID 1 itself (no npm, no shell): SIGTERM from `docker stop` drains it, and it
# exits within server.shutdownGraceMs (5 s) + 1.5 s, inside Docker's default 10 s.
STOPSIGNAL SIGTERM
# A larger young generation (64 MB semi-spaces, Node's default is 16): the gateway's garbage
# per line is short-lived, and fewer scavenges promote less of it (README "Node flags").
ENTRYPOINT ["node", "--max-semi-space-size=64", "dist/main.js"]
