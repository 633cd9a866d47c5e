#!/usr/bin/env bash
# Measures setup the way a newcomer and a developer meet it, and prints the figures:
#   cold: `make synth` in a fresh clone with empty pip/pipenv/npm caches and a Python without
#         pipenv (as on a fresh machine: everything is downloaded from the registries);
#   warm: `make setup-synth` and `make setup` again when nothing changed (median of 5).
#
#   scripts/bench_setup.sh [--full] [--keep]
#
# --full also measures a cold `make setup` (dev packages + checkov: what `make test` adds).
# --keep leaves the clone under /tmp. Targets (issue 14): cold make synth <= 60 s, warm <= 2 s.
# Clones the committed HEAD of this repository: commit first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
full=false keep=false
for arg in "$@"; do
  case "$arg" in
    --full) full=true ;;
    --keep) keep=true ;;
    *) echo "usage: $0 [--full] [--keep]" >&2; exit 2 ;;
  esac
done
work=$(mktemp -d /tmp/bench-setup.XXXXXX)
$keep || trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/repo"
python3 -m venv "$work/python"
export PATH="$work/python/bin:$PATH" PIP_CACHE_DIR="$work/cache/pip" PIPENV_CACHE_DIR="$work/cache/pipenv" \
  npm_config_cache="$work/cache/npm" XDG_CACHE_HOME="$work/cache/xdg" UV_CACHE_DIR="$work/cache/uv"
cd "$work/repo"

seconds() {  # seconds <command...>: run quietly, print wall-clock seconds
  local start end
  start=$(date +%s.%N)
  "$@" > "$work/last.log" 2>&1 || { cat "$work/last.log" >&2; echo "FAILED: $*" >&2; exit 1; }
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}

median5() {
  local runs=()
  for _ in 1 2 3 4 5; do runs+=("$(seconds "$@")"); done
  printf '%s\n' "${runs[@]}" | sort -n | sed -n 3p
}

load_before=$(cut -d' ' -f1 /proc/loadavg)
cold_setup=$(seconds make setup-synth)
synth_only=$(seconds make synth)
cold_synth=$(echo "$cold_setup + $synth_only" | bc)
stacks=$(find cdktf.out/stacks -name cdk.tf.json | wc -l)
warm_synth=$(median5 make setup-synth)
printf 'cold make synth (fresh clone, empty caches): %.1f s = setup %.1f s + synth %.1f s (%s stacks)\n' \
  "$cold_synth" "$cold_setup" "$synth_only" "$stacks"
printf 'warm make setup-synth (nothing changed):      %.3f s\n' "$warm_synth"
if $full; then
  cold_test_setup=$(seconds make setup)
  warm_setup=$(median5 make setup)
  printf 'cold make setup after synth (dev + checkov):  %.1f s\n' "$cold_test_setup"
  printf 'warm make setup (nothing changed):            %.3f s\n' "$warm_setup"
fi
echo "machine: $(nproc) cores, 1-min load ${load_before} before, $(cut -d' ' -f1 /proc/loadavg) after; $(date -u +%Y-%m-%dT%H:%MZ)"
if $keep; then echo "clone kept: $work/repo"; fi
