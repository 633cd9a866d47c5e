"""`drctl drill NAME`: run a DR drill against a deployed environment; measure RTO and RPO.

Drills (one strategy each, registered in `strategies.DRILLS`; docs/drills.md):
* regional-failover - FIS cuts the target region's private subnets off DynamoDB (a temporary
  network ACL), so its health check and payment path fail; data untouched. Measured: fault
  start, first failed Route 53 health check, the DNS answer for DOMAIN_NAME changing
  (resolved as a client would), the first request through the custom domain answered by the
  other region (RTO = that instant - fault start).
* replication - FIS pauses DynamoDB and S3 replication of the target region. Measured: when
  each store's replication alarms were raised and cleared (detection), canary delays.
* database - planned Aurora switchover to DR and back, through drctl's own switchover.

Every drill: preflight first (refuses on failure), alarms raised/cleared and the RPO canary's
ObservedReplicationDelay over the drill window, a report (markdown + JSON) in --report-dir,
`last-report.json` there for `make review`. Every wait has a deadline; the clock, AWS, DNS and
HTTP are injected (`DrillPorts`), so the timeline is tested on fakes with a simulated clock.
An abort (Ctrl-C, an FIS stop condition, --timeout) stops the experiment (FIS rolls back its
fault) and still writes the report.

Modules: `models` (options, ports, result), `report` (markdown/JSON), `watch` (timeline,
alarms), `strategies` (one per drill, the `DRILLS` table), `run` (the orchestrator), `ports`
(the real ports over drctl/gateways.py), `cli` (flags and the registry's `COMMAND`).
"""

from drctl.drill.cli import COMMAND

__all__ = ["COMMAND"]
