#!/usr/bin/env bash
# ApplicationStart: record the app as running this deployment.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
echo "$DEPLOYMENT_ID" >"$STATE_DIR/running"
log "started"
