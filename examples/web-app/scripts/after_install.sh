#!/usr/bin/env bash
# AfterInstall: stamp the installed site with the deployment that put it there.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
cat >"$ROOT/var/www/web-app/version.json" <<JSON
{"deployment_id": "$DEPLOYMENT_ID", "deployment_group": "$DEPLOYMENT_GROUP_NAME"}
JSON
log "wrote version.json"
