#!/bin/bash
# The whole test suite: lint, types, then pytest (unit, contract, integration).
# Integration tests need root, runc, conmon and nftables; with CI=true a missing
# prerequisite fails them instead of skipping. pytest collecting nothing fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# scripts/install.sh uses this venv where the system Python is externally managed.
if [ -z "${PYTHON:-}" ] && [ -x /opt/stack/venv/bin/python ]; then PY=/opt/stack/venv/bin/python; fi
"$PY" -m ruff check orchestrator runtime schemas tests bench
"$PY" -m mypy orchestrator runtime
set +e
"$PY" -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$rc"
