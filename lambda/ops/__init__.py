"""Shared code of the operational functions (probe, heartbeat, authorizer).

Layout, like ``payments`` ("thin handler, pure core"):

* ``env``       - reading and checking environment variables (errors name the variable).
* ``aws``       - boto3 clients with short timeouts, created once per execution environment.
* ``metrics``   - CloudWatch datums with exact dimensions, published with PutMetricData.
* ``httpcheck`` - bounded HTTPS checks (the probe's view of a region from outside).
* ``latch``     - the failback latch kept in SSM (pure state machine + read/write).
* ``heartbeat`` - the RPO canary's keys, payloads and delay arithmetic.
* ``signing``   - the request-signing scheme of ``POST /validate`` (stdlib only: clients
  may copy this one file) and the body-hash check the validator runs.
* ``clientkeys``- per-client HMAC keys from Secrets Manager, cached with a short TTL.

Nothing here imports ``payments``. Per-deployment values arrive as environment variables;
fixed cross-boundary facts (formats, metric names, prefixes) come from ``contract`` (shipped
at the package root by modules/compute.py).
"""
