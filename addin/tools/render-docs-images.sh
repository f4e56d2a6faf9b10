#!/usr/bin/env bash
# Renders the pictures of docs/sideload.md and docs/addin.md from the HTML mock-ups in
# addin/tools/docs-mockups/ with headless Chromium (no copied screenshots).
# Run from anywhere: bash addin/tools/render-docs-images.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$here/../../docs/img"
mkdir -p "$out"
shot() { # name width height
    /usr/bin/chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size="$2,$3" --screenshot="$out/$1.png" "file://$here/docs-mockups/$1.html" 2>/dev/null
}
shot ribbon 900 290
shot taskpane 340 760
shot sideload 960 420
echo "wrote $out/{ribbon,taskpane,sideload}.png"
