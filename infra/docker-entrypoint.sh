#!/bin/sh
# Entry point of the Jobplane image: one process per container.
#   api      the HTTP API               (node --import tsx api/main.ts)
#   workers  Temporal workers           (node --import tsx workers/main.ts)
#   migrate  apply SQL migrations, exit (node --import tsx scripts/migrate.ts)
#   outbox-relay  a product service's outbox to jobs (node --import tsx client/outbox/relay/main.ts)
# Anything else runs as given (`docker run … jobplane node --version`).
# `exec` makes node the direct child of tini, so SIGTERM reaches its drain handlers.
set -eu
command="${1:-api}"
[ "$#" -gt 0 ] && shift
case "$command" in
  api) exec node --import tsx api/main.ts "$@" ;;
  workers) exec node --import tsx workers/main.ts "$@" ;;
  migrate) exec node --import tsx scripts/migrate.ts "$@" ;;
  outbox-relay) exec node --import tsx client/outbox/relay/main.ts "$@" ;;
  *) exec "$command" "$@" ;;
esac
