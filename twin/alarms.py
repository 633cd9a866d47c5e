"""CloudWatch alarms of the JSON, evaluated on the scenario's clock over the metrics really emitted.

SIMULATED (the twin's reading of CloudWatch's documented behaviour, not AWS code):

* Clock: :class:`ScenarioClock`, virtual epoch seconds that move only when the scenario
  advances them (accelerated time: a minute of alarm time costs what the functions and
  health checks called in it cost in real time). It starts on a minute boundary.
* Metrics: :class:`MetricCollector` takes every PutMetricData datum moto's CloudWatch
  received (read from moto's in-process backend, per region) and every EMF line
  (``_aws.CloudWatchMetrics``) the functions printed to their logs, and stamps each with the
  scenario time at which the twin collected it (the functions' own timestamps are real
  time, not the scenario's). Route 53's HealthCheckStatus is put by :mod:`twin.route53`.
  Metrics AWS publishes itself (AWS/Lambda, AWS/ApiGateway, AWS/DynamoDB, AWS/S3, AWS/RDS,
  AWS/WAFV2) are NOT emitted by the twin: alarms on them see missing data.
* Evaluation: every 60 s of scenario time, over the ``evaluation_periods`` most recent
  whole periods ending at that minute; a period's value is the statistic (Sum, Average,
  Minimum, Maximum, SampleCount, pNN) of the datapoints with exactly the alarm's
  dimensions; ALARM when at least ``datapoints_to_alarm`` (default: evaluation_periods) are
  breaching. Missing periods: ``breaching``/``notBreaching`` count as such; ``ignore`` keeps
  the state when every period is missing; ``missing`` goes INSUFFICIENT_DATA then. With
  some data and ``ignore``/``missing``, only the periods with data are counted (AWS looks
  further back; the twin does not).
* Metric math: ``metric_query`` with one expression returning data, over + - * /,
  comparisons, ``IF(c, a, b)``, numbers and query ids; a period with a missing input is
  missing. Any other expression makes the alarm UNSUPPORTED: listed in
  :attr:`AlarmEvaluator.unsupported` and never evaluated (not silently OK).
* Actions: a transition to ALARM publishes to each ``alarm_actions`` topic (SNS Publish on
  moto, in the topic's region) and is recorded as a :class:`Page`, marked when a region under
  a fault was involved and when missing data alone (no datapoint in any period) paged.
"""

from __future__ import annotations

import ast
import json
import math
import operator
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from twin.model import Platform, Resource
from twin.provision import client

EVALUATION_INTERVAL_S = 60
OK, ALARM, INSUFFICIENT = "OK", "ALARM", "INSUFFICIENT_DATA"
COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt, "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt, "LessThanOrEqualToThreshold": operator.le,
}


class ScenarioClock:
    """Scenario time in epoch seconds; it moves only by :meth:`advance`."""

    def __init__(self, start: float | None = None):
        now = time.time() if start is None else start
        self._now = math.ceil(now / 60.0) * 60.0
        self.start = self._now
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self._now += seconds
            return self._now


MetricKey = tuple[str, str, str, frozenset[tuple[str, str]]]  # region, namespace, name, dimensions


class MetricStore:
    def __init__(self) -> None:
        self._points: dict[MetricKey, list[tuple[float, float]]] = {}
        self._lock = threading.Lock()

    def put(self, region: str, namespace: str, name: str, dimensions: dict[str, str], value: float,
            t: float) -> None:
        key = (region, namespace, name, frozenset(dimensions.items()))
        with self._lock:
            self._points.setdefault(key, []).append((t, float(value)))

    def values(self, region: str, namespace: str, name: str, dimensions: dict[str, str], start: float,
               end: float) -> list[float]:
        """Datapoints in [start, end) with exactly these dimensions (CloudWatch's matching)."""
        with self._lock:
            points = list(self._points.get((region, namespace, name, frozenset(dimensions.items())), ()))
        return [v for t, v in points if start <= t < end]

    def keys(self) -> list[MetricKey]:
        with self._lock:
            return list(self._points)


def moto_metric_counts() -> dict[tuple[str, str], int]:
    """How many PutMetricData datums moto's CloudWatch holds, per (account, region). moto's
    backends are process-wide: a twin takes this at its start as the baseline of its collector,
    so datums of an earlier twin in the same process (another profile's) are not its own."""
    from moto.cloudwatch.models import cloudwatch_backends

    return {(account, region): len(backend.metric_data)
            for account, regions in list(cloudwatch_backends.items()) for region, backend in list(regions.items())}


class MetricCollector:
    """Moves what the functions emitted (PutMetricData on moto, EMF in their logs) into the store."""

    def __init__(self, store: MetricStore, clock: ScenarioClock, log_dir: Path | None, *,
                 baseline: dict[tuple[str, str], int] | None = None):
        """`baseline`: moto's datum counts when the twin started (:func:`moto_metric_counts`)."""
        self.store, self.clock, self.log_dir = store, clock, log_dir
        self._moto_seen: dict[tuple[str, str], int] = dict(baseline or {})
        self._log_offsets: dict[Path, int] = {}

    def collect(self) -> int:
        stamp = self.clock.now() - 1e-3  # emitted during the step that just ended
        return self._from_moto(stamp) + self._from_logs(stamp)

    def _from_moto(self, stamp: float) -> int:
        from moto.cloudwatch.models import cloudwatch_backends

        count = 0
        for account, regions in list(cloudwatch_backends.items()):
            for region, backend in list(regions.items()):
                data = backend.metric_data
                seen = self._moto_seen.get((account, region), 0)
                for datum in data[seen:]:
                    value = getattr(datum, "value", None)
                    if value is None:
                        continue
                    dims = {str(d.name): str(d.value) for d in datum.dimensions}
                    self.store.put(region, datum.namespace, datum.name, dims, float(value), stamp)
                    count += 1
                self._moto_seen[(account, region)] = len(data)
        return count

    def _from_logs(self, stamp: float) -> int:
        if self.log_dir is None or not self.log_dir.exists():
            return 0
        count = 0
        for path in sorted(self.log_dir.glob("*/*.log")):
            region = path.parent.name
            offset = self._log_offsets.get(path, 0)
            with path.open("rb") as handle:
                handle.seek(offset)
                chunk = handle.read()
            complete = chunk.rfind(b"\n") + 1
            self._log_offsets[path] = offset + complete
            for line in chunk[:complete].splitlines():
                count += self._emf(region, line, stamp)
        return count

    def _emf(self, region: str, line: bytes, stamp: float) -> int:
        text = line.strip()
        if not text.startswith(b"{") or b'"_aws"' not in text:
            return 0
        try:
            record = json.loads(text)
            directives = record["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            return 0
        count = 0
        for directive in directives:
            for dimension_set in directive.get("Dimensions", [[]]):
                dims = {str(d): str(record.get(d, "")) for d in dimension_set}
                for metric in directive.get("Metrics", []):
                    raw = record.get(metric.get("Name"))
                    for value in raw if isinstance(raw, list) else [raw]:
                        if isinstance(value, (int, float)):
                            self.store.put(region, str(directive.get("Namespace")), str(metric["Name"]), dims,
                                           float(value), stamp)
                            count += 1
        return count


def statistic(name: str, values: list[float]) -> float | None:
    if not values:
        return None
    if name == "Sum":
        return sum(values)
    if name == "Average":
        return sum(values) / len(values)
    if name == "Minimum":
        return min(values)
    if name == "Maximum":
        return max(values)
    if name == "SampleCount":
        return float(len(values))
    if name.startswith("p"):
        ordered = sorted(values)
        rank = max(0, math.ceil(float(name[1:]) / 100.0 * len(ordered)) - 1)
        return ordered[rank]
    raise ValueError(f"unsupported statistic {name}")


_BINARY: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_COMPARE: dict[type, Callable[[float, float], bool]] = {
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Eq: operator.eq, ast.NotEq: operator.ne}


def check_expression(expression: str) -> ast.expr:
    """Parse a metric math expression; ValueError for anything outside the supported subset."""
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as exc:
        raise ValueError(f"cannot parse {expression!r}") from exc
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id == "IF" and len(node.args) == 3):
                raise ValueError(f"unsupported function in {expression!r}")
        elif not isinstance(node, (ast.BinOp, ast.Compare, ast.Name, ast.Constant, ast.Load, ast.UnaryOp,
                                   ast.USub, *_BINARY, *_COMPARE)):
            raise ValueError(f"unsupported syntax {type(node).__name__} in {expression!r}")
    return tree


def evaluate_expression(node: ast.expr, inputs: dict[str, float | None]) -> float | None:
    if isinstance(node, ast.Constant):
        return float(node.value) if isinstance(node.value, (int, float)) else None
    if isinstance(node, ast.Name):
        return inputs.get(node.id)
    if isinstance(node, ast.UnaryOp):
        inner = evaluate_expression(node.operand, inputs)
        return None if inner is None else -inner
    if isinstance(node, ast.BinOp):
        left, right = evaluate_expression(node.left, inputs), evaluate_expression(node.right, inputs)
        if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
            return None
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = evaluate_expression(node.left, inputs)
        right = evaluate_expression(node.comparators[0], inputs)
        if left is None or right is None:
            return None
        return 1.0 if _COMPARE[type(node.ops[0])](left, right) else 0.0
    if isinstance(node, ast.Call):
        condition = evaluate_expression(node.args[0], inputs)
        if condition is None:
            return None
        return evaluate_expression(node.args[1] if condition else node.args[2], inputs)
    raise ValueError(f"unsupported node {type(node).__name__}")


@dataclass
class Page:
    alarm: str
    alarm_region: str
    topic_arn: str
    topic_region: str
    t: float  # scenario time
    reason: str
    under_fault: bool = False  # the alarm's or the topic's region had a fault when it paged
    from_data: bool = True  # False: every period was missing (missing-data treatment alone paged)


@dataclass
class Alarm:
    name: str
    region: str
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    alarm_actions: list[str]
    metric: tuple[str, str, dict[str, str], str] | None = None  # namespace, name, dimensions, statistic
    queries: dict[str, tuple[str, str, dict[str, str], str, int]] = field(default_factory=dict)
    expression: ast.expr | None = None
    unsupported: str | None = None
    state: str = INSUFFICIENT
    history: list[tuple[float, str, str]] = field(default_factory=list)  # (t, state, reason)

    def period_values(self, store: MetricStore, end: float) -> list[float | None]:
        """Values of the evaluation_periods most recent periods ending at `end`, newest first."""
        out: list[float | None] = []
        for k in range(self.evaluation_periods):
            stop = end - k * self.period
            start = stop - self.period
            if self.metric is not None:
                namespace, name, dims, stat = self.metric
                out.append(statistic(stat, store.values(self.region, namespace, name, dims, start, stop)))
            else:
                assert self.expression is not None
                inputs = {qid: statistic(stat, store.values(self.region, ns, name, dims, stop - period, stop))
                          for qid, (ns, name, dims, stat, period) in self.queries.items()}
                out.append(evaluate_expression(self.expression, inputs))
        return out

    def breaching(self, value: float) -> bool:
        return COMPARISONS[self.comparison](value, self.threshold)

    def decide(self, values: list[float | None], *, treat_missing: str | None = None) -> str:
        """The state these period values give (treat_missing None: as declared)."""
        treat = treat_missing or self.treat_missing_data
        present = [v for v in values if v is not None]
        if not present:
            return {"breaching": ALARM, "notBreaching": OK, "ignore": self.state}.get(treat, INSUFFICIENT)
        breaches = sum(1 for v in present if self.breaching(v))
        if treat == "breaching":
            breaches += len(values) - len(present)
        return ALARM if breaches >= self.datapoints_to_alarm else OK


class AlarmEvaluator:
    def __init__(self, platform: Platform, store: MetricStore, clock: ScenarioClock, endpoint: str, *,
                 down: Callable[[str], bool] = lambda region: False):
        self.platform, self.store, self.clock, self.endpoint = platform, store, clock, endpoint
        self.down = down  # a region under a fault: its pages are marked (not dropped: see docs/twin.md)
        self.alarms: dict[str, Alarm] = {}
        self.unsupported: dict[str, str] = {}
        self.pages: list[Page] = []
        # the first evaluation is at the first minute boundary after evaluation starts
        self.last_evaluation: float | None = math.floor(clock.now() / EVALUATION_INTERVAL_S) * EVALUATION_INTERVAL_S
        for res in platform.resources("aws_cloudwatch_metric_alarm"):
            alarm = self._alarm(res)
            self.alarms[alarm.name] = alarm
            if alarm.unsupported:
                self.unsupported[alarm.name] = alarm.unsupported

    def _alarm(self, res: Resource) -> Alarm:
        p = self.platform
        evaluation_periods = int(p.get(res, "evaluation_periods", 1))
        alarm = Alarm(
            name=str(p.get(res, "alarm_name")), region=res.region,
            comparison=str(p.get(res, "comparison_operator")), threshold=float(p.get(res, "threshold", 0)),
            period=int(p.get(res, "period", 60)), evaluation_periods=evaluation_periods,
            datapoints_to_alarm=int(p.get(res, "datapoints_to_alarm") or evaluation_periods),
            treat_missing_data=str(p.get(res, "treat_missing_data") or "missing"),
            alarm_actions=[str(a) for a in p.get(res, "alarm_actions") or []])
        if alarm.comparison not in COMPARISONS:
            alarm.unsupported = f"comparison {alarm.comparison}"
        queries = p.get(res, "metric_query") or []
        if not queries:
            stat = p.get(res, "statistic") or p.get(res, "extended_statistic")
            dims = {str(k): str(v) for k, v in (p.get(res, "dimensions") or {}).items()}
            alarm.metric = (str(p.get(res, "namespace")), str(p.get(res, "metric_name")), dims, str(stat))
            return alarm
        expressions = [q for q in queries if q.get("expression") and q.get("return_data")]
        if len(expressions) != 1:
            alarm.unsupported = "metric_query without exactly one expression returning data"
            return alarm
        try:
            alarm.expression = check_expression(str(expressions[0]["expression"]))
        except ValueError as exc:
            alarm.unsupported = str(exc)
            return alarm
        for query in queries:
            metric = query.get("metric")
            if metric:
                dims = {str(k): str(v) for k, v in (metric.get("dimensions") or {}).items()}
                alarm.queries[str(query["id"])] = (str(metric["namespace"]), str(metric["metric_name"]), dims,
                                                   str(metric["stat"]), int(metric.get("period", alarm.period)))
            elif query is not expressions[0]:
                alarm.unsupported = f"metric_query {query.get('id')}: nested expressions"
        return alarm

    def tick(self) -> None:
        """Evaluate every alarm if a minute boundary of scenario time was reached."""
        now = self.clock.now()
        boundary = math.floor(now / EVALUATION_INTERVAL_S) * EVALUATION_INTERVAL_S
        if self.last_evaluation is not None and boundary <= self.last_evaluation:
            return
        self.last_evaluation = boundary
        for alarm in self.alarms.values():
            if alarm.unsupported:
                continue
            values = alarm.period_values(self.store, boundary)
            state = alarm.decide(values)
            if state != alarm.state:
                reason = f"{alarm.state} -> {state}: periods (newest first) {values}"
                alarm.state = state
                alarm.history.append((boundary, state, reason))
                if state == ALARM:
                    self._notify(alarm, boundary, reason, any(v is not None for v in values))

    def data_state(self, name: str, region: str) -> str:
        """The alarm's state from its DATA alone (what Route 53's CLOUDWATCH_METRIC check reads):
        no datapoint in the window is INSUFFICIENT_DATA whatever treat_missing_data says."""
        alarm = self.alarms[name]
        if alarm.region != region or alarm.unsupported:
            return INSUFFICIENT
        boundary = math.floor(self.clock.now() / EVALUATION_INTERVAL_S) * EVALUATION_INTERVAL_S
        values = alarm.period_values(self.store, boundary)
        if all(v is None for v in values):
            return INSUFFICIENT
        return alarm.decide(values, treat_missing="missing")

    def _notify(self, alarm: Alarm, t: float, reason: str, from_data: bool) -> None:
        for arn in alarm.alarm_actions:
            region = arn.split(":")[3] if arn.count(":") >= 5 else alarm.region
            self.pages.append(Page(alarm.name, alarm.region, arn, region, t, reason,
                                   self.down(alarm.region) or self.down(region), from_data))
            if not self.endpoint:  # no moto server (unit tests): recorded, not published
                continue
            try:
                client("sns", region, self.endpoint).publish(
                    TopicArn=arn, Subject=f"ALARM: {alarm.name}"[:99],
                    Message=json.dumps({"AlarmName": alarm.name, "NewStateValue": ALARM, "NewStateReason": reason,
                                        "Region": alarm.region, "StateChangeTime": t}))
            except Exception as exc:  # the page is recorded either way; say why SNS failed
                self.pages[-1].reason += f" (SNS publish failed: {exc})"

    def states(self) -> dict[str, str]:
        return {name: alarm.state for name, alarm in self.alarms.items()}

