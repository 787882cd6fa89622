#!/usr/bin/env bash
# Makes docs/driver_maps_caller_buffers.png, the visual map in the README: the map of
# examples/driver_maps_caller_buffers.rhai at step 10 (the third VirtualAllocCopyEx, when
# all three aliases of the caller's buffers are mapped), with the details of the output
# buffer's first page shown. Needs Chromium (`apt-get install chromium`).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo run -q --release -p cevm-cli -- maps examples/driver_maps_caller_buffers.rhai \
    --html "$work/map.html" --steps > /dev/null 2> /dev/null
chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --disable-quic --hide-scrollbars \
    --user-data-dir="$work/profile" --window-size=1400,860 \
    --screenshot="$PWD/docs/driver_maps_caller_buffers.png" \
    "file://$work/map.html#step=10&focus=udevice.exe:0x00021000" 2> /dev/null
echo "wrote docs/driver_maps_caller_buffers.png"
