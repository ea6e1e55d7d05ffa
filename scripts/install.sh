#!/bin/sh
# Installs everything `stack` needs on Debian/Ubuntu, as root. Idempotent.
#   system packages: runc conmon tini nftables (engine); iptables (engine: living
#   beside Docker, and its test); busybox-static,
#   docker-registry, skopeo (tests and the offline example image)
#   the Python package with its dev/test extras (editable, from this checkout)
# Usage: sudo sh scripts/install.sh
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
PKGS="runc conmon tini nftables iptables busybox-static docker-registry skopeo iproute2 python3-venv python3-pip"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
fi
# Debian's docker-registry package starts a system registry on :5000; tests run their own.
if command -v systemctl >/dev/null 2>&1 && systemctl is-enabled docker-registry >/dev/null 2>&1; then
    systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
PY=${PYTHON:-python3}
if [ -z "${PYTHON:-}" ] && "$PY" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))'; then
    # Debian's own Python refuses system-wide pip installs (PEP 668): use a venv of
    # ours and put its commands on PATH. scripts/test.sh finds it there too.
    [ -x /opt/stack/venv/bin/python ] || "$PY" -m venv /opt/stack/venv
    PY=/opt/stack/venv/bin/python
    ln -sf /opt/stack/venv/bin/stack /usr/local/bin/stack
    ln -sf /opt/stack/venv/bin/stackd /usr/local/bin/stackd
fi
PIP_ROOT_USER_ACTION=ignore "$PY" -m pip install -q --disable-pip-version-check -e '.[dev]'
# Compile once, so a shell with PYTHONDONTWRITEBYTECODE set does not recompile
# every module on every command.
"$PY" -m compileall -q orchestrator runtime schemas >/dev/null
# The offline image the example runs on: busybox:latest made from Debian's static
# busybox, in the engine's state root (STACK_ROOT overrides). In-process: no daemon.
"$PY" - <<'PYEOF'
from runtime.engine import LocalEngine
from runtime.errors import NotFound
from runtime.images.rootfs import import_busybox_image

engine = LocalEngine()
try:
    engine.image_inspect("busybox:latest")
except NotFound:
    print("imported busybox:latest", import_busybox_image(engine.images).id)
PYEOF
echo "stack installed: $(command -v stack)"
