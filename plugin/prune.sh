#!/bin/sh
# Deletes from the image's /workdir what Node never loads at run time (the Dockerfile runs it after the production
# install; `sly-nn check-runtime` and the runtime stage's own check then run on what is left).
#
# Usage: plugin/prune.sh [DIR]   (DIR: the folder holding node_modules and dist; default: the current one)
#
# - source maps (*.map): nothing runs with --enable-source-maps; they are a third of the tfjs packages;
# - onnxruntime-node's engines for other platforms (darwin, win32, the other linux architecture): it loads
#   bin/napi-v*/<platform>/<arch> only;
# - in the pure-JavaScript TensorFlow.js packages (main = dist/<name>.node.js, a bundle requiring only other
#   packages by name), everything in dist/ but that bundle and the wasm backend's .wasm files: the browser
#   bundles (UMD, ES2017, FESM, minified), the per-module ES build for bundlers, the WeChat build and the
#   TypeScript declarations. The native tfjs-node packages (main = dist/index.js, a tree of files and a
#   binding) are left alone;
# - sharp's binaries for musl and its WebAssembly fallback, on a glibc system whose own binary loads (npm installs
#   every optional platform package whose os and cpu match, whatever the libc).
set -eu
dir="${1:-.}"
[ -d "$dir/node_modules" ] || { echo "$0: $dir/node_modules is not a folder" >&2; exit 1; }

find "$dir/node_modules" "$dir/dist" -name '*.map' -type f -delete

here="$(node -p 'process.platform + "/" + process.arch')"
for engine in "$dir"/node_modules/onnxruntime-node/bin/napi-v*/*/*; do
    [ -d "$engine" ] || continue
    case "$engine" in
        */"$here") ;;
        *) rm -rf "$engine" ;;
    esac
done
# An empty platform folder (darwin, win32) is left after its architectures went.
find "$dir"/node_modules/onnxruntime-node/bin -mindepth 2 -maxdepth 2 -type d -empty -delete 2>/dev/null || true

for pkg in "$dir"/node_modules/@tensorflow/*; do
    main="$(node -p "require('$pkg/package.json').main || ''")"
    case "$main" in
        dist/*.node.js) ;;
        *) continue ;;
    esac
    [ -f "$pkg/$main" ] || { echo "$0: $pkg/$main (its package.json main) is missing" >&2; exit 1; }
    find "$pkg/dist" -mindepth 1 \( -type f -o -type l \) ! -path "$pkg/$main" ! -name '*.wasm' -delete
    find "$pkg/dist" -mindepth 1 -type d -empty -delete
    # The TypeScript sources some of them ship (never loaded: Node runs JavaScript).
    rm -rf "$pkg/src"
done

if [ -d "$dir/node_modules/@img/sharp-linux-$(node -p process.arch)" ] && ldd --version 2>&1 | grep -qi 'glibc\|gnu libc'; then
    rm -rf "$dir"/node_modules/@img/sharp-linuxmusl-* "$dir"/node_modules/@img/sharp-libvips-linuxmusl-* \
        "$dir/node_modules/@img/sharp-wasm32"
fi
