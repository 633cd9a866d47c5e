"""Issue 20: the stream-triggered duplicate check (modules/jobs.py DuplicateCheck,
lambda/dupcheck.py) as the synthesized JSON declares it: only on an EVENTUAL transactions table,
on each region's own replica's stream, never skipping, sized for the peak, least privilege,
alarmed, and inside the documented detection window."""

from __future__ import annotations

import json

import pytest
from helpers import data_sources, one, resources

from contract import (
    ALARM_DUPCHECK_FAILED,
    ALARM_DUPCHECK_LAG,
    ALARM_DUPLICATES_MARKED,
    DUPCHECK_LAG_THRESHOLD_S,
    DUPCHECK_SERVICE,
    DUPLICATE_DETECTION_WINDOW_S,
    DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S,
    METRICS_NAMESPACE,
)
from modules import jobs
from modules.settings import CAPACITY_HEADROOM

ROLES = ("primary", "dr")


def _stack(stacks: dict[str, dict], role: str) -> dict:
    [stack] = [s for name, s in stacks.items() if name.endswith(f"-{role}")]
    return stack


def test_only_an_eventual_table_gets_it(stacks, prod_stacks, qa_stacks):
    """STRONG (the default) decides a payment once across regions: nothing to find there."""
    for strong in (stacks, prod_stacks):
        for stack in strong.values():
            assert not resources(stack, "aws_lambda_event_source_mapping")
    for role in ROLES:
        assert len(resources(_stack(qa_stacks, role), "aws_lambda_event_source_mapping")) == 1


@pytest.mark.parametrize("role", ROLES)
def test_each_region_reads_its_own_replicas_stream(qa_stacks, role):
    stack = _stack(qa_stacks, role)
    _, mapping = one(stack, "aws_lambda_event_source_mapping")
    fn_name, fn = one(stack, "aws_lambda_function", path_contains="dupcheck")
    assert fn["handler"] == "dupcheck.lambda_handler"
    assert mapping["function_name"] == f"${{aws_lambda_function.{fn_name}.arn}}"
    assert mapping["provider"] == fn["provider"] == f"aws.{role}"
    if role == "primary":  # the table's own attribute (created in this stack)
        [(table_name, _)] = [(n, t) for n, t in resources(stack, "aws_dynamodb_table").items()
                             if "transactions" in t["name"]]
        assert mapping["event_source_arn"] == f"${{aws_dynamodb_table.{table_name}.stream_arn}}"
    else:  # the DR stack knows the replica by name: read in its own region
        [(data_name, table)] = data_sources(stack, "aws_dynamodb_table").items()
        assert table["provider"] == "aws.dr"
        assert table["name"] == fn["environment"]["variables"]["TRANSACTIONS_TABLE"]
        assert mapping["event_source_arn"] == f"${{data.aws_dynamodb_table.{data_name}.stream_arn}}"


def test_it_never_skips_a_record_and_retries_from_the_failed_one(qa_stacks):
    for role in ROLES:
        _, mapping = one(_stack(qa_stacks, role), "aws_lambda_event_source_mapping")
        assert mapping["starting_position"] == "TRIM_HORIZON"
        # -1: no retry limit and no age limit (Lambda's CreateEventSourceMapping): a record is
        # retried until it passes or leaves the stream (24 h); a limit would drop it.
        assert (mapping["maximum_retry_attempts"], mapping["maximum_record_age_in_seconds"]) == (-1, -1)
        assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
        assert "destination_config" not in mapping and not mapping.get("bisect_batch_on_function_error")
        [criterion] = mapping["filter_criteria"]["filter"]
        assert json.loads(criterion["pattern"]) == jobs.DUPCHECK_FILTER  # what tests/lambda/test_dupcheck.py applies


def test_the_documented_window_covers_the_parts_the_alarms_bound(qa_stacks):
    """N = replication (its alarm) + the stream's delivery (the lag alarm) + batching + checking."""
    for role in ROLES:
        stack = _stack(qa_stacks, role)
        _, mapping = one(stack, "aws_lambda_event_source_mapping")
        _, lag = one(stack, "aws_cloudwatch_metric_alarm", path_contains=f"/{ALARM_DUPCHECK_LAG}")
        assert (lag["namespace"], lag["metric_name"], lag["statistic"]) == ("AWS/Lambda", "IteratorAge", "Maximum")
        assert lag["threshold"] == DUPCHECK_LAG_THRESHOLD_S * 1000 and lag["period"] == 60
        assert lag["evaluation_periods"] == 1
        fn_name, _ = one(stack, "aws_lambda_function", path_contains="dupcheck")
        assert lag["dimensions"] == {"FunctionName": f"${{aws_lambda_function.{fn_name}.function_name}}"}
        parts = (DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S + DUPCHECK_LAG_THRESHOLD_S
                 + mapping["maximum_batching_window_in_seconds"])
        assert parts < DUPLICATE_DETECTION_WINDOW_S <= 120  # "within 2 minutes" (runbook section 12)


def test_a_marking_pages_within_a_minute(qa_stacks):
    for role, region in (("primary", "us-east-1"), ("dr", "us-west-2")):
        stack = _stack(qa_stacks, role)
        for alarm_id, metric, period in ((ALARM_DUPLICATES_MARKED, "DuplicatesMarked", 60),
                                         (ALARM_DUPCHECK_FAILED, "DuplicateCheckFailed", 300)):
            _, alarm = one(stack, "aws_cloudwatch_metric_alarm", path_contains=f"/{alarm_id}")
            assert (alarm["namespace"], alarm["metric_name"], alarm["statistic"]) == (METRICS_NAMESPACE, metric, "Sum")
            assert alarm["dimensions"] == {"service": DUPCHECK_SERVICE, "region": region}
            assert alarm["period"] == period and alarm["threshold"] == 0
            assert alarm["comparison_operator"] == "GreaterThanThreshold" and alarm["alarm_actions"]


@pytest.mark.parametrize("peak", [0.5, 1, 10, 20, 33, 50])
def test_it_keeps_up_at_ten_times_the_peak_on_a_single_shard(peak):
    sizing = jobs.dupcheck_sizing(peak)
    assert sizing.required_rate == 10 * peak * CAPACITY_HEADROOM
    assert sizing.capacity_rate >= sizing.required_rate
    assert 1 <= sizing.parallelization <= 10 and sizing.memory_mb % 64 == 0


def test_the_sized_mapping_and_function_are_synthesized(qa_stacks):
    from modules.settings import DEFAULT_PEAK_PAYMENTS_PER_SECOND

    sizing = jobs.dupcheck_sizing(DEFAULT_PEAK_PAYMENTS_PER_SECOND)
    for role in ROLES:
        stack = _stack(qa_stacks, role)
        _, mapping = one(stack, "aws_lambda_event_source_mapping")
        _, fn = one(stack, "aws_lambda_function", path_contains="dupcheck")
        assert mapping["parallelization_factor"] == sizing.parallelization
        assert fn["memory_size"] == sizing.memory_mb
        assert fn["environment"]["variables"]["DUPCHECK_WORKERS"] == str(sizing.workers)
        assert fn["timeout"] == jobs.DUPCHECK_TIMEOUT_S
        # A batch's worst case (every record checked and marked at the batch client's worst case)
        # fits the timeout, so a slow batch is retried for a reason, not cut short every time.
        rounds = -(-jobs.DUPCHECK_BATCH_SIZE // sizing.workers)
        assert rounds * 2 * 15 + 10 <= fn["timeout"]
        assert "vpc_config" in fn  # DynamoDB through the region's gateway endpoint, like reconcile


def test_its_role_reads_this_replicas_stream_and_marks_only_the_marking_attributes(qa_stacks):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lambda"))
    try:
        from ops import duplicates
    finally:
        sys.path.pop(0)
    for role in ROLES:
        stack = _stack(qa_stacks, role)
        _, policy = one(stack, "aws_iam_role_policy", path_contains="dupcheck")
        statements = {s["Sid"]: s for s in json.loads(policy["policy"])["Statement"]}
        table = statements["QueryAcceptances"]["Resource"]
        assert len(table) == 1 and table[0].endswith(":table/payment-transactions-qa")
        assert statements["ReadReplicaStream"]["Resource"] == [f"{table[0]}/stream/*"]
        assert sorted(statements["ReadReplicaStream"]["Action"]) == [
            "dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"]
        mark = statements["MarkDuplicates"]
        assert mark["Action"] == ["dynamodb:UpdateItem"] and mark["Resource"] == table
        assert mark["Condition"]["ForAllValues:StringEquals"]["dynamodb:Attributes"] == list(duplicates.MARK_ATTRIBUTES)
        actions = {a for s in statements.values() for a in s["Action"]}
        assert not actions & {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan", "s3:PutObject"}
