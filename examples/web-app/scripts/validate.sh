#!/usr/bin/env bash
# ValidateService: check what a user would see: the page, its stamp, the config, the state.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"
fail() {
  echo "validation failed: $*" >&2
  exit 1
}
site="$ROOT/var/www/web-app"
grep -q "web-app is deployed" "$site/index.html" || fail "$site/index.html lacks its heading"
grep -q "\"$DEPLOYMENT_ID\"" "$site/version.json" || fail "version.json is not from $DEPLOYMENT_ID"
grep -q "^listen_port=" "$ROOT/etc/web-app/web-app.conf" || fail "web-app.conf has no listen_port"
[ "$(cat "$STATE_DIR/running")" = "$DEPLOYMENT_ID" ] || fail "the app is not running $DEPLOYMENT_ID"
log "healthy"
