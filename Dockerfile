# syntax=docker/dockerfile:1
# The IPH CDS Hooks service. Build stage: full install (`npm ci` runs the `prepare` script, which compiles dist/).
# Runtime stage: production dependencies only, the compiled dist/ and the definitions baked in, a non-root user.
# tests/container-start.test.ts runs this runtime stage's npm commands, COPY steps and CMD in a temporary folder.
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY app ./app
RUN npm ci

FROM node:20-slim
ENV NODE_ENV=production
ENV PORT=3000
# SQLite file and the storage's files; set CDS_DATABASE_URL for PostgreSQL, and CDS_PSEUDONYM_KEY (required).
ENV CDS_DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the root `prepare` (the build) needs the dev dependencies; `npm rebuild` then runs the install
# scripts of the production dependencies themselves.
RUN npm ci --omit=dev --ignore-scripts && npm rebuild
COPY --from=build /app/dist ./dist
COPY --from=build /app/dist-app ./dist-app
COPY cds-services ./cds-services
# The data volume (storage) is owned by the unprivileged user the service runs as.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
