#!/usr/bin/env bash
# terraform init + plan of every platform stack, in apply order (scripts/stacks.py --platform),
# each from its own folder (asset paths in cdk.tf.json are relative to it).
#
#   scripts/ci_plan.sh [cdktf.out] [plans-dir]
#
# PLAN_LOCK=false (pull requests) plans without taking the state lock, so a PR never blocks
# or waits for an apply; an apply always locks. Writes <stack>/tfplan (binary, for apply),
# <plans-dir>/<stack>.json (`terraform show -json`: holds sensitive values in plain text; the
# workflow deletes it after the summary and never uploads it) and <outdir>/apply-order.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
outdir=${1:-cdktf.out}
plans=${2:-plans}
lock=${PLAN_LOCK:-true}
python=${PYTHON:-.venv/bin/python}
mkdir -p "$plans"
"$python" scripts/stacks.py "$outdir" --platform > "$outdir/apply-order.txt"
while read -r stack; do
  dir="$outdir/stacks/$stack"
  echo "::group::plan $stack"
  terraform -chdir="$dir" init -input=false -no-color
  terraform -chdir="$dir" plan -input=false -no-color -lock="$lock" -lock-timeout=5m -out=tfplan
  terraform -chdir="$dir" show -json tfplan > "$plans/$stack.json"
  echo "::endgroup::"
done < "$outdir/apply-order.txt"
