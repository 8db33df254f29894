# shellcheck shell=bash
# Shared by the hooks. CI_DEPLOY_ROOT is the install root ci-deploy local was given
# (empty on a real instance, where everything lives under /).
ROOT="${CI_DEPLOY_ROOT:-}"
ROOT="${ROOT%/}"
# shellcheck disable=SC2034  # used by the hooks that source this file
STATE_DIR="$ROOT/var/lib/web-app"
LOG_FILE="$ROOT/var/log/web-app/hooks.log"

log() {
  mkdir -p "$(dirname "$LOG_FILE")"
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $LIFECYCLE_EVENT $DEPLOYMENT_ID: $*" >>"$LOG_FILE"
  echo "$*"
}
