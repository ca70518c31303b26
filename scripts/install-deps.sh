#!/bin/sh
# Installs the Debian 12 packages mesura needs, only those missing.
# Usage: scripts/install-deps.sh [build|check|bench]
#   check adds the test and fuzz tools: chromium (headless, for the audit
#   report in tests/e2e/test_audit_report.py and the pages' browser tests),
#   nodejs and npm (the browser tests drive chromium with playwright-core,
#   whose exact version scripts/browser-deps.sh installs with npm ci), and
#   the outside judges of docs/openapi.yaml and /metrics (scripts/judges-deps.sh);
#   bench adds the load generator.
set -eu
want="cmake make gcc pkg-config libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev
libsodium-dev libyaml-dev libopenblas-dev liblapacke-dev curl ca-certificates"
case "${1:-build}" in
  check) want="$want libcmocka-dev python3 clang libclang-rt-14-dev openssl chromium nodejs"
         # Debian's nodejs comes without npm; a Node.js from elsewhere brings its own.
         command -v npm >/dev/null 2>&1 || want="$want npm" ;;
  bench) want="$want libcmocka-dev python3 wrk" ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing Debian packages:$missing" >&2
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
if [ "${1:-build}" = check ]; then
  "$(dirname "$0")/browser-deps.sh" || [ $? = 77 ]
  "$(dirname "$0")/judges-deps.sh" || [ $? = 77 ]
fi
