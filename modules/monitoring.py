"""Monitoring: per region, an encrypted topic that pages someone, the alarms a DR platform lives
by, and a dashboard; in the routing stack, the Route 53 health-check alarms (us-east-1).

Inputs: the tiers themselves. Every metric comes from the tier that owns it (`metric_*()`
methods: database member, tables, audit bucket, functions, API, probe): this module only
chooses thresholds and wiring, and never rebuilds a dimension.

Rules every alarm follows:
- It lives in the region where its metric is published and notifies that region's topic
  (CloudWatch alarms cannot act on a topic in another region), alarm and OK actions alike.
  Each region's stack holds its own alarms, so a primary outage pages through the DR region
  alone: the DR region's probe alarms on the primary being unreachable.
- It is meaningful whichever cluster writes: every cluster has an RPO-lag alarm in its own
  region; the writer publishes no lag, so missing data is "not breaching" there, and after a
  switchover the new secondary's alarm takes over without any change.
- `treat_missing_data` is chosen per metric: a metric that is always published going silent
  means trouble -> `breaching`; a metric that exists only with traffic or only in one role is
  silent when idle -> `notBreaching`; the failback latch keeps its last state -> `ignore`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cdktf_cdktf_provider_aws.cloudwatch_dashboard import CloudwatchDashboard
from cdktf_cdktf_provider_aws.cloudwatch_event_rule import CloudwatchEventRule
from cdktf_cdktf_provider_aws.cloudwatch_event_target import CloudwatchEventTarget
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from constructs import Construct

from contract import (
    ALARM_AURORA_RPO_LAG,
    ALARM_CLIENT_KEY_EXPIRY,
    ALARM_DOMAIN_UNREACHABLE,
    ALARM_DUPCHECK_FAILED,
    ALARM_DUPCHECK_LAG,
    ALARM_DUPLICATES_MARKED,
    ALARM_DYNAMODB_REPLICATION,
    ALARM_FAILBACK_BLOCKED,
    ALARM_HEALTH_CHECK,
    ALARM_PEER_UNREACHABLE,
    ALARM_RECONCILE_LAG,
    ALARM_S3_REPLICATION_FAILED,
    ALARM_S3_REPLICATION_LATENCY,
    AUTHORIZER_SERVICE,
    CLIENT_KEY_ALARM_DAYS,
    DR,
    DUPCHECK_LAG_THRESHOLD_S,
    DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S,
    METRIC_CLIENT_KEY_DAYS_LEFT,
    METRIC_DEPENDENCY_FAILURE,
    METRIC_OUTCOME_UNKNOWN,
    METRIC_RECEIPT_WRITE_FAILED,
    METRIC_UNHANDLED_ERROR,
    METRICS_NAMESPACE,
    RECONCILE_LAG_THRESHOLD_S,
    S3_REPLICATION_LATENCY_THRESHOLD_S,
    S3_REPLICATION_MINUTES,
    VALIDATOR_OUTCOME_DIMENSIONS,
    VALIDATOR_SERVICE,
)
from modules.api import RegionalApi
from modules.api_monitoring import ApiAlarms
from modules.compute import RegionalCompute
from modules.database import AuroraMember
from modules.dns import Failover
from modules.iam import policy_document, statement
from modules.jobs import DuplicateCheck, Heartbeat, Reconcile
from modules.keys import DESTRUCTIVE_KEY_ACTIONS, RegionalKey
from modules.metrics import Metric
from modules.naming import Names
from modules.probes import Probe
from modules.regions import PeerRegion, Region
from modules.settings import Settings
from modules.storage import AuditBucket
from modules.tables import TABLES, TableAccess
from modules.waf import RegionalWaf

BREACHING = "breaching"
NOT_BREACHING = "notBreaching"
IGNORE = "ignore"

LAMBDA_ERRORS_THRESHOLD = 10  # errors per 5 minutes, per function
DYNAMODB_REPLICATION_LATENCY_MS = DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S * 1000
# The probe runs every minute: two failed probes out of three minutes is an outage, not a blip.
PEER_UNREACHABLE_MINUTES = 3
PEER_UNREACHABLE_DATAPOINTS = 2
# The heartbeat writes every minute, so an observed delay includes up to 60 s of interval:
# DynamoDB's 10 s alarm + the interval + scheduling; S3's 15-minute RTC + the interval + 60 s.
HEARTBEAT_DYNAMODB_DELAY_S = DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S + 110
HEARTBEAT_S3_DELAY_S = S3_REPLICATION_LATENCY_THRESHOLD_S + 120


class AlarmTopic(Construct):
    """The alarm topic of one region: encrypted with its key, publishable by CloudWatch only,
    subscribed to every paging target in the settings (e-mail, HTTPS such as PagerDuty)."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 key: RegionalKey, settings: Settings):
        super().__init__(scope, id)
        p = region.provider
        self.topic = SnsTopic(self, "topic", provider=p, name=names.regional("alarms", region.role),
                              kms_master_key_id=key.arn)
        SnsTopicPolicy(
            self, "policy", provider=p, arn=self.topic.arn,
            policy=policy_document([
                statement("CloudWatchAlarmsPublish", ["sns:Publish"], [self.topic.arn],
                          principal={"Service": "cloudwatch.amazonaws.com"},
                          condition={"StringEquals": {"aws:SourceAccount": region.account_id}}),
                # Only this region's audit rules (AuditEventPages), by their ARNs.
                statement("AuditEventsPublish", ["sns:Publish"], [self.topic.arn],
                          principal={"Service": "events.amazonaws.com"},
                          condition={"ArnEquals": {"aws:SourceArn": [
                              region.arn("events", f"rule/{name}")
                              for name in audit_rule_names(names, region.role)]}}),
            ]),
        )
        targets = [("email", e) for e in settings.alarm_emails] + [
            ("https", u) for u in settings.alarm_https_endpoints]
        for index, (protocol, endpoint) in enumerate(targets):
            # E-mail stays "pending confirmation" until the recipient clicks AWS's link; an
            # HTTPS endpoint confirms itself (PagerDuty's SNS integration does).
            SnsTopicSubscription(self, f"{protocol}-{index}", provider=p,
                                 topic_arn=self.topic.arn, protocol=protocol, endpoint=endpoint,
                                 endpoint_auto_confirms=protocol == "https" or None)

    @property
    def arn(self) -> str:
        return self.topic.arn


# CloudWatch Logs calls that delete or shorten what the logs keep (deletion protection, where
# enabled, refuses the deletes; it does not cover retention).
LOG_TAMPERING_CALLS = ("DeleteLogGroup", "DeleteLogStream", "PutRetentionPolicy",
                       "DeleteRetentionPolicy", "PutLogGroupDeletionProtection",
                       "DisassociateKmsKey", "DeleteSubscriptionFilter")
# One EventBridge rule per service: (rule name part, event source, event names).
AUDIT_RULES = (
    ("key-state-changes", "kms", tuple(a.split(":", 1)[1] for a in DESTRUCTIVE_KEY_ACTIONS)),
    ("log-changes", "logs", LOG_TAMPERING_CALLS),
)


def audit_rule_names(names: Names, role: str) -> list[str]:
    return [names.regional(what, role) for what, _, _ in AUDIT_RULES]


class AuditEventPages(Construct):
    """Pages on every call that destroys, disables or re-policies a KMS key of this region,
    and on every call that deletes log data or shortens its retention.

    Neither has a CloudWatch metric, so these are EventBridge rules on the CloudTrail
    management events ("AWS API Call via CloudTrail"), which EventBridge receives only while
    a trail logs management events in this region: the organization trail that `drctl
    preflight` checks (docs/compliance.md, requirement 10). Denied calls page too: an attempt
    to delete a data key is worth a human, successful or not (a key's deletion runs at the end
    of its 30-day window, so the schedule is the moment to page). Applies that change a
    retention page as well: rare, and expected by whoever applied. Outputs: `rules` by name
    part, `patterns` by name part."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names,
                 topic_arn: str):
        super().__init__(scope, id)
        p = region.provider
        self.rules: dict[str, CloudwatchEventRule] = {}
        self.patterns: dict[str, dict[str, Any]] = {}
        for (what, service, calls), name in zip(AUDIT_RULES, audit_rule_names(names, region.role),
                                                strict=True):
            self.patterns[what] = {
                "source": [f"aws.{service}"], "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {"eventSource": [f"{service}.amazonaws.com"],
                           "eventName": sorted(calls)}}
            self.rules[what] = CloudwatchEventRule(
                self, what, provider=p, name=name,
                description=f"{what} in {region.name}: {', '.join(sorted(calls))}"[:512],
                event_pattern=json.dumps(self.patterns[what]))
            CloudwatchEventTarget(self, f"{what}-target", provider=p,
                                  rule=self.rules[what].name, arn=topic_arn)


class _Alarms(Construct):
    """Creates alarms in one region, all notifying one topic; `alarms` by name."""

    def __init__(self, scope: Construct, id: str, *, region: Region, names: Names, topic_arn: str,
                 alarm_role: str | None = None):
        super().__init__(scope, id)
        self.region, self._names, self._topic_arn = region, names, topic_arn
        self._alarm_role = alarm_role or region.role
        self.alarms: dict[str, CloudwatchMetricAlarm] = {}

    def alarm(self, what: str, metric: Metric, *, threshold: float, missing: str,
              description: str, evaluation_periods: int = 1, datapoints: int | None = None,
              comparison: str = "GreaterThanThreshold", role: str | None = None) -> CloudwatchMetricAlarm:
        name = self._names.alarm(what, role or self._alarm_role)
        self.alarms[name] = CloudwatchMetricAlarm(
            self, f"{what}-{role}" if role else what, provider=self.region.provider,
            alarm_name=name, alarm_description=description,
            **metric.alarm_arguments(),
            evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints,
            comparison_operator=comparison, threshold=threshold,
            treat_missing_data=missing,
            alarm_actions=[self._topic_arn], ok_actions=[self._topic_arn],
        )
        return self.alarms[name]


@dataclass(frozen=True)
class MonitoredRegion:
    """What one region's monitoring watches: the tiers of that region's stack."""

    database: AuroraMember
    tables: TableAccess
    audit: AuditBucket
    compute: RegionalCompute
    api: RegionalApi
    waf: RegionalWaf
    probe: Probe
    heartbeat: Heartbeat
    reconcile: Reconcile
    dupcheck: DuplicateCheck | None = None  # TRANSACTIONS_CONSISTENCY=EVENTUAL only


class RegionalMonitoring(Construct):
    """Entry construct of a regional stack's monitoring: topic, alarms, dashboard.

    Outputs: `topic` (AlarmTopic), `alarms` ({name: alarm})."""

    def __init__(self, scope: Construct, id: str, *, settings: Settings, names: Names,
                 region: Region, peer: PeerRegion, key: RegionalKey, tiers: MonitoredRegion):
        super().__init__(scope, id)
        self.topic = AlarmTopic(self, "topic", region=region, names=names, key=key,
                                settings=settings)
        self.audit_events = AuditEventPages(self, "audit-events", region=region, names=names,
                                            topic_arn=self.topic.arn)
        alarms = _Alarms(self, "alarms", region=region, names=names, topic_arn=self.topic.arn)
        lag_s = settings.replication_lag_threshold_seconds
        alarms.alarm(
            ALARM_AURORA_RPO_LAG, tiers.database.metric_rpo_lag(), threshold=lag_s * 1000,
            evaluation_periods=3, datapoints=2,
            # Published only while this cluster is a secondary: the writer is silent.
            missing=NOT_BREACHING,
            description=f"Aurora RPO lag of {tiers.database.identifier} above {lag_s} s while it "
                        "is a secondary (RPO at risk); silent while it is the writer")
        for table in TABLES:
            alarms.alarm(
                ALARM_DYNAMODB_REPLICATION.format(table=table),
                tiers.tables.metric_replication_latency(table, peer.name),
                threshold=DYNAMODB_REPLICATION_LATENCY_MS, evaluation_periods=5, datapoints=3,
                # Emitted only while writes replicate: an idle table has no latency to report.
                missing=NOT_BREACHING,
                description=f"{tiers.tables.names[table]} replication {region.name} -> "
                            f"{peer.name} above {DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S:g} s")
        # S3 publishes failed operations in the source's region and latency in the
        # destination's (contract.s3_metric_region): this region alarms on failures of its
        # outgoing replication and on the latency of its incoming one.
        alarms.alarm(
            ALARM_S3_REPLICATION_FAILED, tiers.audit.metric_replication_failed(), threshold=0,
            missing=NOT_BREACHING,  # no replication operations means no failed ones
            description=f"Audit objects failed to replicate {region.name} -> {peer.name}")
        alarms.alarm(
            ALARM_S3_REPLICATION_LATENCY, tiers.audit.metric_incoming_replication_latency(),
            threshold=S3_REPLICATION_LATENCY_THRESHOLD_S, evaluation_periods=2, datapoints=2,
            missing=NOT_BREACHING,  # nothing uploaded means nothing is late
            description=f"Audit replication {peer.name} -> {region.name} beyond the "
                        f"{S3_REPLICATION_MINUTES}-minute RTC target")
        for purpose, fn in tiers.compute.functions.items():
            alarms.alarm(
                f"lambda-errors-{purpose}", fn.metric_errors(), threshold=LAMBDA_ERRORS_THRESHOLD,
                # No invocations means no errors; a dead region shows in the probes.
                missing=NOT_BREACHING,
                description=f"More than {LAMBDA_ERRORS_THRESHOLD} {purpose} errors in 5 minutes")
        alarms.alarm(
            ALARM_CLIENT_KEY_EXPIRY,
            Metric(METRICS_NAMESPACE, METRIC_CLIENT_KEY_DAYS_LEFT, {"service": AUTHORIZER_SERVICE},
                   statistic="Minimum", period=3600, unit_label="days"),
            threshold=CLIENT_KEY_ALARM_DAYS, comparison="LessThanThreshold",
            # Published by the authorizer while it authorizes: an hour without requests has no
            # data, and no client is refused in it; `drctl client-keys check` covers quiet days.
            missing=NOT_BREACHING,
            description=f"An enabled API client's last key ends within {CLIENT_KEY_ALARM_DAYS} days "
                        f"in {region.name}: issue and hand over a new one (runbook section 9)")
        self._probe_alarms(alarms, region, peer, tiers.probe)
        self._outcome_alarms(alarms, region, tiers)
        self._heartbeat_alarms(alarms, region, peer, tiers.heartbeat)
        # What clients see (5XX/4XX/429 rates, p99) and what starves the functions.
        api_alarms = ApiAlarms(self, "api-alarms", region=region, names=names,
                               topic_arn=self.topic.arn, api=tiers.api,
                               functions=tiers.compute.functions, waf=tiers.waf)
        self.alarms = {**alarms.alarms, **api_alarms.alarms}
        Dashboard(self, "dashboard", region=region, peer=peer, names=names, tiers=tiers)

    @staticmethod
    def _outcome_alarms(alarms: _Alarms, region: Region, tiers: MonitoredRegion) -> None:
        """The validator catches every exception, so Lambda's Errors sees almost nothing: its
        own metrics (lambda/validator.py) say when a client got no definite answer."""
        validator = dict(zip(VALIDATOR_OUTCOME_DIMENSIONS, (VALIDATOR_SERVICE, region.name), strict=True))
        for name, what in ((METRIC_OUTCOME_UNKNOWN, "answered 'outcome unknown' (client must retry)"),
                           (METRIC_UNHANDLED_ERROR, "hit an unexpected error"),
                           (METRIC_RECEIPT_WRITE_FAILED, "could not write a receipt (reconcile repairs it)"),
                           (METRIC_DEPENDENCY_FAILURE, "could not reach DynamoDB, S3 or KMS")):
            alarms.alarm(
                f"validator-{name.lower()}",
                Metric(METRICS_NAMESPACE, name, validator, statistic="Sum", period=300),
                threshold=0, missing=NOT_BREACHING,
                description=f"Validator in {region.name} {what} at least once in 5 minutes")
        for table in TABLES:
            alarms.alarm(
                f"dynamodb-throttles-{table}", tiers.tables.metric_throttle_events(table).with_(period=300),
                threshold=0, missing=NOT_BREACHING,
                description=f"{tiers.tables.names[table]} throttled writes in {region.name}")
            alarms.alarm(
                f"dynamodb-system-errors-{table}",
                tiers.tables.metric_system_errors(table, "PutItem").with_(period=300),
                threshold=0, missing=NOT_BREACHING,
                description=f"DynamoDB's own errors on {tiers.tables.names[table]} PutItem")
        reconcile = tiers.reconcile
        for name in ("ReceiptRepairFailed", "DuplicateCheckFailed", "DuplicateTransactions"):
            alarms.alarm(f"reconcile-{name.lower()}", reconcile.metric(name), threshold=0,
                         missing=NOT_BREACHING,
                         description=f"Receipt reconciliation in {region.name}: {name}")
        # How far behind, not whether a run was cut short: a run that stops early leaves the
        # rest to the next one (a watermark), so truncation alone is no failure; lag is.
        alarms.alarm(
            ALARM_RECONCILE_LAG, reconcile.metric_lag(), threshold=RECONCILE_LAG_THRESHOLD_S,
            evaluation_periods=2, datapoints=2,  # ten minutes behind, not one slow run
            missing=NOT_BREACHING,  # no run at all is reconcile-not-running's page
            description=f"Receipt and duplicate checks in {region.name} are more than "
                        f"{RECONCILE_LAG_THRESHOLD_S:g} s behind (past the grace period)")
        alarms.alarm(
            "reconcile-not-running", reconcile.metric("RecordsChecked", "SampleCount", 3600),
            threshold=1, comparison="LessThanThreshold",
            # Published on every run, zero included: an hour without it means no run.
            missing=BREACHING,
            description=f"Receipt reconciliation in {region.name} has not run for an hour")
        if tiers.dupcheck is not None:
            RegionalMonitoring._dupcheck_alarms(alarms, region, tiers.dupcheck)

    @staticmethod
    def _dupcheck_alarms(alarms: _Alarms, region: Region, dupcheck: DuplicateCheck) -> None:
        """The stream-triggered duplicate check (lambda/dupcheck.py): a page within a minute of a
        marking (reconcile-duplicatetransactions then stays on until it is resolved), and when it
        falls behind or a check fails (both retried, never skipped: the page is that it is late)."""
        alarms.alarm(
            ALARM_DUPLICATES_MARKED, dupcheck.metric("DuplicatesMarked"), threshold=0,
            missing=NOT_BREACHING,  # published per batch; no batch means nothing to mark
            description=f"A payment was accepted twice: the later acceptance in {region.name}'s "
                        "replica is marked DUPLICATE; resolve it with drctl duplicates")
        alarms.alarm(
            ALARM_DUPCHECK_FAILED, dupcheck.metric("DuplicateCheckFailed", period=300), threshold=0,
            missing=NOT_BREACHING,
            description=f"Duplicate checks on {region.name}'s stream failed (retried until they pass)")
        alarms.alarm(
            ALARM_DUPCHECK_LAG, dupcheck.metric_iterator_age(),
            threshold=DUPCHECK_LAG_THRESHOLD_S * 1000,  # one minute over it: the window is broken
            missing=NOT_BREACHING,  # IteratorAge exists only while records arrive
            description=f"Duplicate checks in {region.name} are more than "
                        f"{DUPCHECK_LAG_THRESHOLD_S:g} s behind the stream")

    @staticmethod
    def _heartbeat_alarms(alarms: _Alarms, region: Region, peer: PeerRegion,
                          heartbeat: Heartbeat) -> None:
        for store, limit_s in (("dynamodb", HEARTBEAT_DYNAMODB_DELAY_S),
                               ("s3", HEARTBEAT_S3_DELAY_S)):
            alarms.alarm(
                f"observed-replication-delay-{store}", heartbeat.metric_observed_delay(store),
                threshold=limit_s, evaluation_periods=3, datapoints=3,
                # Published every minute: silence means the heartbeat or the replica is gone.
                missing=BREACHING,
                description=f"{store} writes from {peer.name} reach {region.name} more than "
                            f"{limit_s} s late (measured by the heartbeat; includes its 60 s "
                            "write interval)")
            alarms.alarm(
                f"heartbeat-errors-{store}", heartbeat.metric_errors(store), threshold=2,
                missing=NOT_BREACHING,
                description=f"The heartbeat in {region.name} failed to write or read {store}")

    @staticmethod
    def _probe_alarms(alarms: _Alarms, region: Region, peer: PeerRegion, probe: Probe) -> None:
        alarms.alarm(
            ALARM_PEER_UNREACHABLE, probe.metric_peer_healthy(), threshold=1,
            comparison="LessThanThreshold",
            evaluation_periods=PEER_UNREACHABLE_MINUTES, datapoints=PEER_UNREACHABLE_DATAPOINTS,
            # The probe publishes every minute: silence means it cannot run or cannot see.
            missing=BREACHING,
            description=f"{region.name} cannot take a healthy answer from {peer.name} "
                        f"({peer.role}) on its own name: that region is down or unreachable")
        alarms.alarm(
            ALARM_DOMAIN_UNREACHABLE, probe.metric_domain_healthy(), threshold=1,
            comparison="LessThanThreshold",
            evaluation_periods=PEER_UNREACHABLE_MINUTES, datapoints=PEER_UNREACHABLE_DATAPOINTS,
            missing=BREACHING,
            description=f"{region.name} cannot reach the payments domain as a client would")
        if region.role == DR:
            # Mirrors the latch the DR probe keeps. Missing data keeps the alarm's state (for
            # paging and drctl); Route 53's gate reads the data stream, not this state, and
            # keeps its last status on missing data by its own setting (modules/dns.py).
            alarms.alarm(
                ALARM_FAILBACK_BLOCKED, probe.metric_failback_blocked(), threshold=1,
                comparison="GreaterThanOrEqualToThreshold", missing=IGNORE,
                description=f"Failback to {peer.name} is blocked until an operator opens it "
                            "(drctl failback, after replication has caught up)")


class HealthCheckAlarms(Construct):
    """Routing stack: Route 53 health status per region, alarmed in us-east-1 where Route 53
    publishes it. The regional probe alarms page without us-east-1; these stay as a second view."""

    def __init__(self, scope: Construct, id: str, *, metrics_region: Region, names: Names,
                 topic_arn: str, failover: Failover):
        super().__init__(scope, id)
        alarms = _Alarms(self, "alarms", region=metrics_region, names=names, topic_arn=topic_arn)
        for role, endpoint in failover.endpoints.items():
            alarms.alarm(
                ALARM_HEALTH_CHECK,
                Metric("AWS/Route53", "HealthCheckStatus",
                       {"HealthCheckId": endpoint.health_check.id}, statistic="Minimum"),
                threshold=1, comparison="LessThanThreshold", role=role,
                # Route 53 reports status every minute; no status is no evidence of health.
                missing=BREACHING,
                description=f"Route 53 sees the {role} API as unhealthy: DNS now answers with "
                            "the other region")
        self.alarms = alarms.alarms


class Dashboard(Construct):
    """Replication, probes and API health of one region on one screen."""

    def __init__(self, scope: Construct, id: str, *, region: Region, peer: PeerRegion,
                 names: Names, tiers: MonitoredRegion):
        super().__init__(scope, id)

        def widget(title: str, metrics: list[Metric], x: int, y: int) -> dict[str, Any]:
            return {"type": "metric", "x": x, "y": y, "width": 12, "height": 6,
                    "properties": {"title": title, "region": region.name, "period": 60,
                                   "view": "timeSeries",
                                   "metrics": [m.dashboard_row() for m in metrics]}}

        api, audit, tables = tiers.api, tiers.audit, tiers.tables
        widgets = [
            widget(f"DynamoDB replication to {peer.name} (ms)",
                   [tables.metric_replication_latency(t, peer.name) for t in TABLES], 0, 0),
            widget(f"S3 audit replication: latency from {peer.name} (s), failed to {peer.name}",
                   [audit.metric_incoming_replication_latency(), audit.metric_replication_failed()],
                   12, 0),
            widget("API requests and errors",
                   [api.metric_count(), api.metric_4xx(), api.metric_5xx()], 0, 6),
            widget("API latency p99 (ms)", [api.metric_latency_p99()], 12, 6),
            widget("Lambda errors and throttles",
                   [m for fn in tiers.compute.functions.values()
                    for m in (fn.metric_errors(), fn.metric_throttles())], 0, 12),
            widget("Aurora RPO lag (ms, while secondary)", [tiers.database.metric_rpo_lag()], 12, 12),
            widget(f"Observed replication delay from {peer.name} (s)",
                   [tiers.heartbeat.metric_observed_delay("dynamodb"),
                    tiers.heartbeat.metric_observed_delay("s3")], 12, 18),
            widget(f"Probe: {peer.role} region and domain healthy",
                   [tiers.probe.metric_peer_healthy(), tiers.probe.metric_domain_healthy(),
                    tiers.probe.metric_failback_blocked()], 0, 18),
        ]
        CloudwatchDashboard(self, "dashboard", provider=region.provider,
                            dashboard_name=names.regional("dr", region.role),
                            dashboard_body=json.dumps({"widgets": widgets}))

