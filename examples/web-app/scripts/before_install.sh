#!/usr/bin/env bash
# BeforeInstall: prepare the directories the app writes to.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
mkdir -p "$STATE_DIR" "$ROOT/var/log/web-app"
log "prepared $STATE_DIR for $APPLICATION_NAME ($DEPLOYMENT_GROUP_NAME)"
