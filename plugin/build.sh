#!/bin/sh
# Prints (does not run) the `docker build` command for the plugin image, with the labels the Supervisely
# platform reads (spec H.2): VERSION, INFO, MODES, README and CONFIGS.
#
# Usage: plugin/build.sh [--variant gpu|cpu] [REGISTRY]
#   REGISTRY   where the image will be pushed, e.g. docker.example.com/sly; default: $REGISTRY.
#   --variant  gpu (default) or cpu; the cpu image gets the tag suffix "-cpu" (see the Dockerfile).
# Run it:      sh -c "$(plugin/build.sh docker.example.com/sly)"
#
# Label values: VERSION = <registry>/<content of VERSION>; MODES = the entry points present in src/, out of
# main train inference deploy deploy_smart; INFO, README, CONFIGS = base64 of plugin_info.json, README.md and
# predefined_run_configs.json, as GNU base64 prints it with the line breaks removed.
set -eu

usage() {
    echo "usage: $0 [--variant gpu|cpu] [REGISTRY]   (REGISTRY defaults to \$REGISTRY)" >&2
    exit 2
}

fail() {
    echo "$0: $1" >&2
    exit 1
}

# Single-quote a word for sh: ' becomes '\''.
quote() {
    printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# Base64 without line breaks (GNU base64 wraps at 76 columns; BSD base64 does not wrap).
b64() {
    base64 < "$1" | tr -d '\n'
}

variant=gpu
registry="${REGISTRY:-}"
while [ $# -gt 0 ]; do
    case "$1" in
        --variant) [ $# -ge 2 ] || usage; variant="$2"; shift 2 ;;
        --variant=*) variant="${1#--variant=}"; shift ;;
        -h | --help) usage ;;
        -*) usage ;;
        *) registry="$1"; shift ;;
    esac
done
case "$variant" in
    gpu) suffix="" ;;
    cpu) suffix="-cpu" ;;
    *) fail "unknown variant \"$variant\" (expected gpu or cpu)" ;;
esac
registry="${registry%/}"
[ -n "$registry" ] || fail "no registry: give it as an argument or in \$REGISTRY (e.g. docker.example.com/sly)"

root="$(cd "$(dirname "$0")/.." && pwd)"
for file in Dockerfile VERSION plugin_info.json README.md predefined_run_configs.json; do
    [ -f "$root/$file" ] || fail "$root/$file is missing"
done

version="$(cat "$root/VERSION")"
case "$version" in
    *[!A-Za-z0-9._/:-]* | "" | *:*:* | :* | *:) fail "VERSION must hold one line <image>:<tag>, found \"$version\"" ;;
    *:*) ;;
    *) fail "VERSION must hold one line <image>:<tag>, found \"$version\"" ;;
esac
image="$registry/$version$suffix"

modes=""
for mode in main train inference deploy deploy_smart; do
    if [ -f "$root/src/$mode.py" ]; then modes="${modes:+$modes }$mode"; fi
done
[ -n "$modes" ] || fail "no entry point in $root/src (expected train.py, inference.py, ...)"

printf 'docker build \\\n'
printf '  --file %s \\\n' "$(quote "$root/Dockerfile")"
printf '  --build-arg VARIANT=%s \\\n' "$variant"
printf '  --tag %s \\\n' "$(quote "$image")"
printf '  --label %s \\\n' "$(quote "VERSION=$image")"
# The file labels are read when the command runs: printed inline, the README alone (about 130 KB of base64)
# would make the `sh -c` argument too long for the kernel. Each label is still one argument of docker's, so
# each must stay under the kernel's 131072-byte limit for one argument: checked here, naming the file.
file_label() {
    size=$(($(b64 "$root/$2" | wc -c) + ${#1} + 1))
    [ "$size" -lt 131072 ] || fail "$root/$2 is too large for a docker label: $size bytes of base64 (the kernel's limit for one argument is 131072)"
    printf '  --label "%s=$(base64 < %s | tr -d %s)" \\\n' "$1" "$(quote "$root/$2")" "'\\n'"
}
file_label INFO plugin_info.json
printf '  --label %s \\\n' "$(quote "MODES=$modes")"
file_label README README.md
file_label CONFIGS predefined_run_configs.json
printf '  %s\n' "$(quote "$root")"
