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


def test_prod_like_costs_more_idle_by_its_extra_aurora_instances(standard_stacks, prod_stacks):
    prices = cost.load_prices()["prices"]
    dev, prod = cost.estimate(standard_stacks), cost.estimate(prod_stacks)
    instance = prices["aurora_instance_hour"]["db.r6g.large"] * 730
    aurora = lambda e: sum(x.idle for x in e.lines if x.category == "Aurora" and "instance" in x.item)  # noqa: E731
    assert aurora(dev) == 2 * instance and aurora(prod) == 4 * instance
    assert prod.idle() > dev.idle() + 2 * instance - 1


# The target for the default (dev profile) environment, by this model.
DEV_IDLE_TARGET_USD = 250


def test_the_default_dev_profile_idles_under_the_target_and_each_saving_shows(stacks, standard_stacks):
    prices = cost.load_prices()["prices"]
    dev, standard = cost.estimate(stacks), cost.estimate(standard_stacks)
    assert dev.unpriced == {} and dev.idle() <= DEV_IDLE_TARGET_USD < standard.idle()

    def idle(estimate, category):
        return sum(x.idle for x in estimate.lines if x.category == category)
    # Serverless v2 at 0.5 ACU in each region instead of a db.r6g.large.
    serverless = [x.idle for x in dev.lines if x.item.startswith("db.serverless instance")]
    assert serverless == [0.5 * prices["aurora_serverless_v2_acu_hour"] * 730] * 2
    # 30 s checks, no latency, no X-Ray: under a third of the health-check chain.
    assert idle(dev, "Route 53 health-check chain") < idle(standard, "Route 53 health-check chain") / 3
    # KMS and Secrets Manager endpoints in one zone per region, no X-Ray endpoint.
    assert idle(dev, "VPC endpoints") == 2 * 2 * 730 * prices["vpc_interface_endpoint_az_hour"]
    # No traces billed per payment.
    xray = [x for x in dev.lines if x.item == "X-Ray trace"]
    assert xray and all(x.per_rate == 0 for x in xray)


def test_traffic_costs_scale_with_the_rate(stacks):
    estimate = cost.estimate(stacks)
    assert estimate.at(10) > estimate.idle() > 0
    assert abs((estimate.at(20) - estimate.idle()) - 2 * (estimate.at(10) - estimate.idle())) < 1e-6
    health = [x for x in estimate.lines if x.category == "Route 53 health-check chain"]
    assert len(health) == 2  # one per regional endpoint, each with its request chain


def test_the_stream_duplicate_check_is_priced_per_payment_where_it_exists(stacks, qa_stacks):
    """EVENTUAL (qa) has it: each payment is a run share and a consistent read in both regions."""
    def line(stacks):
        [found] = [x for x in cost.estimate(stacks).lines if x.item == "duplicate stream check (both regions)"]
        return found

    assert line(stacks).per_rate == 0  # STRONG: no such function
    per_payment = line(qa_stacks).per_rate / cost.SECONDS_PER_MONTH
    prices = cost.load_prices()["prices"]
    floor = prices["lambda_requests_per_million"] + prices["dynamodb_read_request_unit_per_million"]
    assert per_payment > 2 * floor / 1e6


def test_the_cli_prints_totals_with_the_price_date(stacks, synth_stacks):
    outdir = synth_stacks.outdir_of()
    result = subprocess.run([sys.executable, str(ROOT / "scripts/cost.py"), str(outdir), "--json"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["as_of"] == cost.load_prices()["as_of"]
    assert data["at_rate"] > data["idle"] > 0 and data["unpriced"] == {}


def test_the_readme_shows_the_models_totals(stacks, standard_stacks, prod_stacks):
    """README "Cost": the table's figures are what scripts/cost.py computes for these synths
    (regenerate with `make cost`, COST_PROFILE=standard, and a prod-like synth)."""
    import re
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("\n## Cost\n"):readme.index("### Cost profiles")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip().strip("*") for c in line.strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"[\d,]+\.\d\d", cells[2]):
            rows[cells[0].split(" (")[0].strip("*")] = (cells[2], cells[3])
    for label, profile in (("default", stacks), ("dev, standard profile", standard_stacks),
                           ("prod-like", prod_stacks)):
        estimate = cost.estimate(profile)
        expected = (f"{estimate.idle():,.2f}", f"{estimate.at(10):,.2f}")
        assert rows.get(label) == expected, f"README row {label!r}: expected idle/at 10 = {expected}"
