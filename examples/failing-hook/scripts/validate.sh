#!/usr/bin/env bash
# ValidateService: a health check that fails, with a message a reader can act on.
set -euo pipefail
echo "checking http://localhost:8080/health"
echo "health check failed: expected HTTP 200 from /health, got 503 (is the service configured?)" >&2
exit 1
