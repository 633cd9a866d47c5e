"""`scripts/cost.py` prices every resource the stacks declare (a new billable type without a
price fails here), and its totals move with what the settings change."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import cost

ROOT = Path(__file__).resolve().parent.parent


def test_every_resource_type_is_priced_or_known_to_be_free(stacks, prod_stacks, qa_stacks):
    for profile in (stacks, prod_stacks, qa_stacks):
        assert cost.unpriced_types(profile) == {}


def test_a_new_billable_type_without_a_price_is_reported(stacks):
    extended = json.loads(json.dumps(stacks))
    extended["payments-dr-primary"]["resource"]["aws_nat_gateway"] = {
        "nat": {"provider": "aws.primary", "subnet_id": "x"}}
    assert "aws_nat_gateway" in cost.estimate(extended).unpriced


def test_prod_like_costs_more_idle_by_its_extra_aurora_instances(stacks, prod_stacks):
    prices = cost.load_prices()["prices"]
    dev, prod = cost.estimate(stacks), cost.estimate(prod_stacks)
    instance = prices["aurora_instance_hour"]["db.r6g.large"] * 730
    aurora = lambda e: sum(x.idle for x in e.lines if x.category == "Aurora" and "instance" in x.item)  # noqa: E731
    assert aurora(dev) == 2 * instance and aurora(prod) == 4 * instance
    assert prod.idle() > dev.idle() + 2 * instance - 1


def test_traffic_costs_scale_with_the_rate(stacks):
    estimate = cost.estimate(stacks)
    assert estimate.at(10) > estimate.idle() > 0
    assert abs((estimate.at(20) - estimate.idle()) - 2 * (estimate.at(10) - estimate.idle())) < 1e-6
    health = [x for x in estimate.lines if x.category == "Route 53 health-check chain"]
    assert len(health) == 2  # one per regional endpoint, each with its request chain


def test_the_cli_prints_totals_with_the_price_date(stacks, synth_stacks):
    outdir = synth_stacks.outdir_of()
    result = subprocess.run([sys.executable, str(ROOT / "scripts/cost.py"), str(outdir), "--json"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["as_of"] == cost.load_prices()["as_of"]
    assert data["at_rate"] > data["idle"] > 0 and data["unpriced"] == {}
