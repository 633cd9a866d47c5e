"""`drctl preflight` checks the account's audit services that the stacks rely on but do not
create: a trail logging management events (the KMS key-state page and the CKV_AWS_18
acceptance rest on it), an AWS Config recorder and GuardDuty. Against moto (in process)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from drctl import preflight
from drctl.preflight import Status

REGION = "us-east-2"


@pytest.fixture
def aws(monkeypatch):
    for var, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(var, value)
    with mock_aws():
        yield lambda service, region=REGION: boto3.client(service, region_name=region)


def _trail(aws, *, home: str = "us-east-1", multi_region: bool = True, logging: bool = True,
           management: bool = True) -> None:
    aws("s3", home).create_bucket(Bucket="org-trail-logs", **(
        {} if home == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": home}}))
    trail = aws("cloudtrail", home)
    arn = trail.create_trail(Name="org-trail", S3BucketName="org-trail-logs",
                             IsMultiRegionTrail=multi_region)["TrailARN"]
    if not management:
        trail.put_event_selectors(TrailName=arn, EventSelectors=[
            {"ReadWriteType": "All", "IncludeManagementEvents": False,
             "DataResources": [{"Type": "AWS::S3::Object", "Values": ["arn:aws:s3"]}]}])
    if logging:
        trail.start_logging(Name=arn)


def test_no_trail_no_recorder_no_detector_fail(aws):
    for check, service in ((preflight.check_cloudtrail, "cloudtrail*"),
                           (preflight.check_config_recorder, "config"),
                           (preflight.check_guardduty, "guardduty")):
        client = (lambda r: aws("cloudtrail", r)) if service == "cloudtrail*" else aws(service)
        result = check(client, REGION)
        assert result.status is Status.FAIL and "docs/compliance.md" in result.fix, result


def test_a_logging_multi_region_trail_passes(aws):
    _trail(aws)
    result = preflight.check_cloudtrail(lambda r: aws("cloudtrail", r), REGION)
    assert result.status is Status.PASS and "org-trail" in result.detail


@pytest.mark.parametrize("trail", [
    {"logging": False},  # created but stopped
    {"multi_region": False},  # a single-region trail of another region
    {"management": False},  # data events only
])
def test_a_trail_that_does_not_record_this_regions_management_events_fails(aws, trail):
    _trail(aws, **trail)
    assert preflight.check_cloudtrail(lambda r: aws("cloudtrail", r), REGION).status is Status.FAIL


def test_a_recording_config_recorder_passes_and_a_stopped_one_fails(aws):
    config = aws("config")
    config.put_configuration_recorder(ConfigurationRecorder={
        "name": "default", "roleARN": "arn:aws:iam::123456789012:role/config",
        "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True}})
    assert preflight.check_config_recorder(config, REGION).status is Status.FAIL
    aws("s3").create_bucket(Bucket="config-logs",
                            CreateBucketConfiguration={"LocationConstraint": REGION})
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "config-logs"})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    assert preflight.check_config_recorder(config, REGION).status is Status.PASS


def test_an_enabled_detector_passes_and_a_suspended_one_fails(aws):
    guardduty = aws("guardduty")
    detector = guardduty.create_detector(Enable=False)["DetectorId"]
    assert preflight.check_guardduty(guardduty, REGION).status is Status.FAIL
    guardduty.update_detector(DetectorId=detector, Enable=True)
    assert preflight.check_guardduty(guardduty, REGION).status is Status.PASS
