#!/usr/bin/env bash
# Applies the reviewed plans, stack by stack in the order the plan job recorded.
#
#   scripts/ci_apply.sh <reviewed cdktf.out>
#
# Each stack uses the lock file of its plan (-lockfile=readonly) and its saved tfplan:
# Terraform refuses a plan whose state changed since review ("Saved plan is stale"); then
# re-run the workflow and review the new plan. A stack's plan read the earlier stacks'
# outputs as they were at plan time (docs/review-and-ci.md, "Several stacks").
set -euo pipefail
reviewed=${1:?usage: ci_apply.sh <reviewed cdktf.out>}
order="$reviewed/apply-order.txt"
[ -s "$order" ] || { echo "ci_apply.sh: $order is missing or empty" >&2; exit 2; }
while read -r stack; do
  dir="$reviewed/stacks/$stack"
  [ -f "$dir/tfplan" ] || { echo "ci_apply.sh: no reviewed plan for $stack" >&2; exit 2; }
  echo "::group::apply $stack"
  terraform -chdir="$dir" init -input=false -no-color -lockfile=readonly
  terraform -chdir="$dir" apply -input=false -no-color -lock-timeout=5m tfplan
  echo "::endgroup::"
done < "$order"
