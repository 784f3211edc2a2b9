#!/bin/sh
# Start one Myelin app by name, or the CLI (`myelin-app cli <args>`).
set -e
app="${1:-api}"
[ "$#" -gt 0 ] && shift
case "$app" in
  api|tracking|scheduler|pipelines|optimizer|ci) exec node "/app/dist/apps/$app/src/main.js" "$@" ;;
  cli) exec node /app/dist/apps/cli/src/main.js "$@" ;;
  *) echo "usage: myelin-app api|tracking|scheduler|pipelines|optimizer|ci|cli [args]" >&2; exit 2 ;;
esac
