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
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2
cp package-lock.json "$stamp"
