#!/usr/bin/env bash
# Make sure Debian's `chromium` is installed: the report's browser tests (tests/pipelines/test_report.py)
# open the HTML in a real headless Chromium and are never skipped.
#
#   .ci/ensure-chromium.sh        # installs with apt-get when /usr/bin/chromium is missing
#
# Fails loudly (exit 1) when Chromium is missing and cannot be installed. The tests find the
# browser at $TALLYFY_CHROMIUM, else /usr/bin/chromium.
set -euo pipefail

CHROMIUM=${TALLYFY_CHROMIUM:-/usr/bin/chromium}

log() { echo "ensure-chromium: $*" >&2; }
die() { echo "ensure-chromium: ERROR: $*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
    else return 1
    fi
}

if [ -x "$CHROMIUM" ]; then
    exit 0
fi
command -v apt-get >/dev/null 2>&1 || die "$CHROMIUM is missing and apt-get is not available: install Chromium (or set TALLYFY_CHROMIUM)"
log "Chromium is missing: installing the Debian package 'chromium' (apt-get)"
as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
    || die "apt-get update failed (are you root, or is passwordless sudo set up?)"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null \
    || die "apt-get install chromium failed"
[ -x "$CHROMIUM" ] || die "chromium installed but $CHROMIUM is not there"
log "$("$CHROMIUM" --version 2>/dev/null || echo chromium) installed"
