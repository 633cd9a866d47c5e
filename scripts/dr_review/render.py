"""The report as text (terminal) or markdown (PR comment, run summary)."""

from __future__ import annotations

from .budget import BUDGET_ANNEXES, RPO_TARGET_S, RTO_TARGET_S, StackReview
from .load import GLOBAL_PREFIXES, Stack, fmt_s


def _region_label(stack: Stack, region: str) -> str:
    role = stack.role_of_region(region)
    return f"{region} ({role})" if role != region else region


def render(reviews: list[StackReview], fmt: str = "text", checkov: dict[str, str] | None = None) -> str:
    md = fmt == "markdown"
    out: list[str] = []
    def h(level: int, text: str) -> None:
        out.append(f"{'#' * level} {text}\n" if md else f"{'=' * 3 if level <= 2 else '---'} {text}")

    def table(headers: list[str], rows: list[list[str]]) -> None:
        if md:
            out.append("| " + " | ".join(headers) + " |")
            out.append("|" + "|".join("---" for _ in headers) + "|")
            out.extend("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows)
            out.append("")
        else:
            widths = [max(len(str(x)) for x in [hd] + [r[i] for r in rows]) for i, hd in enumerate(headers)]
            out.append("  " + "  ".join(hd.ljust(w) for hd, w in zip(headers, widths, strict=True)))
            out.extend("  " + "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows)
            out.append("")

    h(2, "DR review of the synthesized stacks")
    if checkov and "*" in checkov:
        out.append(f"checkov gate: **{checkov['*']}**\n" if md else f"checkov gate: {checkov['*']}\n")
    for rv in reviews:
        st = rv.stack
        h(3, f"Stack `{st.name}`" if md else f"Stack {st.name}")
        if checkov and st.name in checkov:
            out.append(f"checkov: {checkov[st.name]}\n")
        if rv.plan is not None:
            rows = [[_region_label(st, r), str(c["add"]), str(c["change"]), str(c["destroy"]),
                     str(c["replace"])] for r, c in sorted(rv.plan.items())]
            if rows:
                out.append("Plan (terraform show -json):")
                table(["region", "add", "change", "destroy", "replace"], rows)
            else:
                out.append("Plan: no changes.\n")
        regions = sorted(rv.by_region, key=lambda r: (st.role_of_region(r) == r, r))
        types = sorted({t for c in rv.by_region.values() for t in c})
        rows = [[t + (" (global service)" if t.startswith(GLOBAL_PREFIXES) else "")]
                + [str(rv.by_region[r].get(t, "")) for r in regions] for t in types]
        rows.append(["total"] + [str(sum(rv.by_region[r].values())) for r in regions])
        headers = ["type"] + [_region_label(st, r) for r in regions]
        total = sum(sum(c.values()) for c in rv.by_region.values())
        if md:
            out.append(f"<details><summary>Resources by region and type ({total})</summary>\n")
            table(headers, rows)
            out.append("</details>\n")
        else:
            out.append(f"Resources by region and type ({total}):")
            table(headers, rows)

        out.append("Replication and its monitoring:" if not md else "**Replication and its monitoring**\n")
        if rv.replications:
            table(["what", "from -> to", "target", "monitored by"],
                  [[f"{r.kind}: {r.name}", f"{r.source} -> {r.destination}", r.target,
                    "; ".join(a.text for a in r.alarms) or "NOT MONITORED"] for r in rv.replications])
        else:
            out.append("  not configured: nothing replicates across regions in this stack\n")
        out.append("Failover path:" if not md else "**Failover path**\n")
        if rv.records:
            table(["record", "role", "serves from", "health check", "detection", "TTL", "alarm"],
                  [[r.name, r.role, r.region, r.health_check or "NONE", fmt_s(r.detection_s),
                    fmt_s(r.ttl_s), "; ".join(a.text for a in r.alarms) or "NOT MONITORED"]
                   for r in rv.records])
        else:
            out.append("  not configured: no Route 53 failover records in this stack\n")
        out.append(f"RTO/RPO budget (targets: RTO {fmt_s(RTO_TARGET_S)}, RPO {fmt_s(RPO_TARGET_S)}):"
                   if not md else
                   f"**RTO/RPO budget** (targets: RTO {fmt_s(RTO_TARGET_S)}, RPO {fmt_s(RPO_TARGET_S)})\n")
        table(["", "budget line", "value", "target", "how", "result"],
              [[b.objective, b.item, fmt_s(b.value_s) if b.value_s is not None else "-",
                fmt_s(b.target_s), b.detail, f"**{b.status}**" if md and b.status == "FAIL" else b.status]
               for b in rv.budget])
        for annex in BUDGET_ANNEXES:
            out.extend(annex(rv, md))
    return "\n".join(out).rstrip() + "\n"

