#!/bin/sh
# Installs the browser tests' npm packages (tests/browser/package-lock.json:
# playwright-core, axe-core, exact versions) into tests/browser/node_modules
# with `npm ci`, unless what is there was installed from the same lock file.
# Run by ctest before the browser tests (the browser/deps fixture) and by
# `make deps-check`; node_modules is never committed.
set -eu
cd "$(dirname "$0")/../tests/browser"
stamp=node_modules/.mesura-installed-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
echo "installing the browser tests' npm packages (npm ci)" >&2
# One retry, seconds apart: a registry that cannot be reached (no route, a
# proxy's certificate) is told in seconds, not after minutes of backoff.
# Node trusts only its own CA list unless told: also trust the system's, as
# apt and curl do (a registry reached through a TLS-inspecting proxy).
[ -f /etc/ssl/certs/ca-certificates.crt ] && export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
if ! npm ci --no-audit --no-fund --ignore-scripts --loglevel=error --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=5000 >&2; then
  # Without the registry the browser tests cannot run: they are skipped,
  # each saying so, rather than failing every other check.
  echo "browser-deps: npm ci failed (is registry.npmjs.org reachable?): the browser tests will be SKIPPED" >&2
  exit 77
fi
cp package-lock.json "$stamp"
