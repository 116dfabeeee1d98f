#!/usr/bin/env bash
# Render a manual-bp report.html to a PNG screenshot with headless Chromium (no network, no profile).
#
#   scripts/render_report.sh [HTML] [PNG]
#
# HTML defaults to bp-report/report.html, PNG to the HTML's path with .png. Chromium is found as
# $CHROMIUM, else chromium / chromium-browser / google-chrome on PATH (Debian: apt-get install -y
# chromium). Exit 0 with the PNG's path on stdout; 2 when Chromium or the HTML is missing; 1 when
# Chromium ran but wrote no screenshot (its log is printed on stderr).
set -euo pipefail

html="${1:-bp-report/report.html}"
png="${2:-${html%.html}.png}"
chrome="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)}"
if [ -z "$chrome" ]; then
    echo "render_report.sh: chromium not found (install it: apt-get install -y chromium)" >&2
    exit 2
fi
if [ ! -f "$html" ]; then
    echo "render_report.sh: no such file: $html (run: manual-bp report)" >&2
    exit 2
fi

abs_html="$(cd "$(dirname "$html")" && pwd)/$(basename "$html")"
mkdir -p "$(dirname "$png")"
abs_png="$(cd "$(dirname "$png")" && pwd)/$(basename "$png")"
profile="$(mktemp -d)"
log="$(mktemp)"
trap 'rm -rf "$profile" "$log"' EXIT
rm -f "$abs_png"

timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" --hide-scrollbars --screenshot="$abs_png" --window-size=1280,2400 \
    "file://$abs_html" >"$log" 2>&1 || true

if [ ! -s "$abs_png" ]; then
    echo "render_report.sh: chromium wrote no screenshot; its output:" >&2
    cat "$log" >&2
    exit 1
fi
echo "$abs_png"
