"""docs/architecture.svg: two region boxes with their tiers, replication, Route 53 above."""

from __future__ import annotations

import html
from collections import Counter, defaultdict

from .analyse import Replication
from .budget import RPO_TARGET_S, RTO_TARGET_S, StackReview
from .load import Stack, fmt_s

TIERS = [  # (label, resource types counted, "what")
    ("API Gateway", ("aws_api_gateway_rest_api", "aws_apigatewayv2_api"), "REST API + custom domain"),
    ("Lambda", ("aws_lambda_function",), "functions"),
    ("Aurora", ("aws_rds_cluster",), "cluster"),
    ("DynamoDB", ("aws_dynamodb_table", "aws_dynamodb_table_replica"), "tables"),
    ("S3", ("aws_s3_bucket",), "buckets"),
    ("Monitoring", ("aws_cloudwatch_metric_alarm",), "alarms"),
]


def _tiers_in(stack: Stack, region: str, replications: list[Replication]) -> dict[str, str]:
    counts: Counter[str] = Counter()
    for rtype, _, body in stack.resources():
        if stack.region_of(body) == region:
            counts[rtype] += 1
    tiers = {}
    for label, types, what in TIERS:
        n = sum(counts[t] for t in types)
        if label == "DynamoDB":  # replicas declared inside the table live in the other region
            n += len({r.name for r in replications if r.kind.startswith("DynamoDB") and r.destination == region
                      and r.source != region and not counts["aws_dynamodb_table"]})
            if n and not counts["aws_dynamodb_table"]:
                what = "replicas"
        if label == "Aurora" and n:
            writer = any(r.source == region for r in replications if r.kind.startswith("Aurora"))
            what = "writer cluster" if writer else "secondary cluster"
        if n:
            if n == 1 and what.endswith("s"):
                what = what[:-1].replace("replica", "replica")
            tiers[label] = f"{n} {what}" if label != "Aurora" else what
    return tiers


def diagram_svg(rv: StackReview) -> str:
    """Two region boxes with their tiers, replication arrows between them, Route 53 above."""
    st = rv.stack
    regions = [r for a, r in st.regions.items() if a] or sorted(rv.by_region)
    regions = regions[:2]
    if len(regions) < 2:
        regions = (regions + ["(no second region)"])[:2]
    tiers = [_tiers_in(st, r, rv.replications) for r in regions]
    labels = [t for t, _, _ in TIERS if any(t in x for x in tiers)]
    W, box_w, tier_h, gap = 980, 300, 46, 18
    left_x, right_x = 60, W - 60 - box_w
    top = 190
    height = top + len(labels) * (tier_h + gap) + 90
    s: list[str] = []
    e = html.escape
    s.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
             f'viewBox="0 0 {W} {height}" font-family="Helvetica, Arial, sans-serif" font-size="14">')
    s.append('<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
             'markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/>'
             '</marker></defs>')
    s.append(f'<rect width="{W}" height="{height}" fill="#ffffff"/>')
    s.append(f'<text x="{W / 2}" y="28" text-anchor="middle" font-size="20" font-weight="bold">'
             f'{e(st.name)}: multi-region DR architecture (generated from cdk.tf.json)</text>')
    # Route 53 / failover
    r53_w = 420
    r53_x = (W - r53_w) / 2
    primary_rec = next((r for r in rv.records if r.role == "PRIMARY"), None)
    if rv.records:
        every = fmt_s(primary_rec.detection_s / 3) if primary_rec and primary_rec.detection_s else "?"
        detail = (f"failover records, health checks every {every}"
                  f" x 3, TTL {fmt_s(max((r.ttl_s or 0) for r in rv.records))}")
        s.append(f'<rect x="{r53_x}" y="50" width="{r53_w}" height="62" rx="8" fill="#fff4e0" '
                 'stroke="#d08000" stroke-width="2"/>')
        record_name = primary_rec.name if primary_rec else rv.records[0].name
        s.append(f'<text x="{W / 2}" y="75" text-anchor="middle" font-weight="bold">Route 53: {e(record_name)}</text>')
        s.append(f'<text x="{W / 2}" y="97" text-anchor="middle" font-size="12">{e(detail)}</text>')
    else:
        s.append(f'<text x="{W / 2}" y="85" text-anchor="middle" fill="#a00">Route 53 failover: not configured</text>')
    # regions
    for i, region in enumerate(regions):
        x = left_x if i == 0 else right_x
        role = st.role_of_region(region)
        fill, stroke = ("#eef5ff", "#3a6fb0") if i == 0 else ("#eefaf0", "#3a9a50")
        s.append(f'<rect x="{x - 20}" y="{top - 45}" width="{box_w + 40}" '
                 f'height="{len(labels) * (tier_h + gap) + 45}" rx="12" '
                 f'fill="{fill}" stroke="{stroke}" stroke-width="2"/>')
        s.append(f'<text x="{x + (110 if i == 0 else box_w - 110)}" y="{top - 18}" text-anchor="middle" '
                 f'font-size="17" font-weight="bold">{e(region)} ({e(role)})</text>')
        for j, label in enumerate(labels):
            y: float = top + j * (tier_h + gap)
            text = tiers[i].get(label)
            fill, stroke, dash = ("#ffffff", "#555", "") if text else ("#f4f4f4", "#bbb", ' stroke-dasharray="4 3"')
            s.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{tier_h}" rx="6" '
                     f'fill="{fill}" stroke="{stroke}"{dash}/>')
            s.append(f'<text x="{x + 14}" y="{y + 20}" font-weight="bold">{e(label)}</text>')
            s.append(f'<text x="{x + 14}" y="{y + 38}" font-size="12" fill="#333">{e(text or "none")}</text>')
    # failover arrows: Route 53 -> API tier of each region
    if rv.records and "API Gateway" in labels:
        j = labels.index("API Gateway")
        y = top + j * (tier_h + gap) + tier_h / 2
        for rec in rv.records:
            if rec.region not in regions:
                continue
            i = regions.index(rec.region)
            x_end = left_x + box_w - 40 if i == 0 else right_x + 40
            x_start = r53_x + (60 if i == 0 else r53_w - 60)
            color = "#d08000" if rec.role == "PRIMARY" else "#b05000"
            dash = "" if rec.role == "PRIMARY" else ' stroke-dasharray="7 4"'
            s.append(f'<path d="M{x_start},112 L{x_end},{top + j * (tier_h + gap)}" stroke="{color}" '
                     f'stroke-width="2.5" fill="none" marker-end="url(#arrow)"{dash}/>')
            lx = (x_start + x_end) / 2 + (-48 if i == 0 else 48)
            s.append(f'<text x="{lx}" y="{(112 + top + j * (tier_h + gap)) / 2 - 6}" text-anchor="middle" '
                     f'font-size="12" fill="{color}" font-weight="bold">{e(rec.role)}</text>')
        del y
    # replication arrows between tiers
    kind_tier = {"Aurora global database": "Aurora", "DynamoDB global table": "DynamoDB", "S3 replication": "S3"}
    drawn = defaultdict(list)
    for r in rv.replications:
        drawn[(kind_tier[r.kind], r.source, r.destination)].append(r)
    for label in labels:
        if label not in kind_tier.values():
            continue
        j = labels.index(label)
        y = top + j * (tier_h + gap) + tier_h / 2
        forward = drawn.get((label, regions[0], regions[1]), [])
        backward = drawn.get((label, regions[1], regions[0]), [])
        if not forward and not backward:
            continue
        x1, x2 = left_x + box_w, right_x
        both = bool(forward and backward)
        marker = 'marker-end="url(#arrow)"' + (' marker-start="url(#arrow)"' if both else "")
        if backward and not forward:
            x1, x2 = x2, x1
        s.append(f'<line x1="{x1 + 4}" y1="{y}" x2="{x2 - 4}" y2="{y}" stroke="#333" stroke-width="2.5" {marker}/>')
        rs = forward or backward
        mon = "monitored" if all(r.alarms for r in rs) else "NOT MONITORED"
        target = rs[0].target.split(",")[0]
        s.append(f'<text x="{W / 2}" y="{y - 8}" text-anchor="middle" font-size="12" font-weight="bold">'
                 f'{"two-way" if both else "one-way"} replication</text>')
        s.append(f'<text x="{W / 2}" y="{y + 18}" text-anchor="middle" font-size="11" '
                 f'fill="{"#2a6" if mon == "monitored" else "#c00"}">{e(target)}; {mon}</text>')
    # legend / budget
    ly = height - 40
    traffic = next((b for b in rv.budget if b.item.startswith("Traffic RTO")), None)
    rpo_fail = sum(1 for b in rv.budget if b.objective == "RPO" and b.status == "FAIL")
    legend = (f"Traffic RTO {fmt_s(traffic.value_s) if traffic and traffic.value_s is not None else 'n/a'} "
              f"({traffic.status if traffic else 'not configured'}) vs target {fmt_s(RTO_TARGET_S)}; "
              f"RPO lines failing the {fmt_s(RPO_TARGET_S)} target: {rpo_fail}")
    s.append(f'<text x="{W / 2}" y="{ly}" text-anchor="middle" font-size="13">{e(legend)}</text>')
    s.append(f'<text x="{W / 2}" y="{ly + 22}" text-anchor="middle" font-size="11" fill="#555">'
             'solid orange: PRIMARY failover record, dashed: SECONDARY; black arrows: data replication '
             '(make review regenerates this file)</text>')
    s.append("</svg>")
    return "\n".join(s) + "\n"

