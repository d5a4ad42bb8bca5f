#!/bin/sh
# Type-check generated dashboards against Grafana's own TypeScript types (@grafana/schema).
#
#   tests/typecheck/check.sh [DASHBOARD_JSON_DIR]    (default: deploy/grafana/dashboards)
#
# Installs the pinned packages with `npm ci` when node_modules is missing or older than the
# lock file, writes one .ts file per dashboard (generate.mjs) and compiles them with
# `tsc --strict --noEmit`. Exit status is tsc's.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "${1:-$here/../../deploy/grafana/dashboards}" && pwd)
cd "$here"
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
node generate.mjs "$source_dir"
exec node node_modules/typescript/bin/tsc -p tsconfig.json
