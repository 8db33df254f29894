#!/usr/bin/env bash
# ApplicationStop (runs from the previously installed revision): mark the app stopped.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
if [ -f "$STATE_DIR/running" ]; then
  log "stopping $(cat "$STATE_DIR/running")"
  rm -f "$STATE_DIR/running"
else
  log "not running; nothing to stop"
fi
