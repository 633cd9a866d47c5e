"""Deletion protection for every CloudWatch log group of a platform stack.

CloudWatch Logs' own mechanism (`deletionProtectionEnabled`, provider attribute
`deletion_protection_enabled`): while on, DeleteLogGroup and DeleteLogStream are refused for
everyone until someone turns it off (PutLogGroupDeletionProtection, which pages:
modules/monitoring.py `AuditEventPages`). It is on wherever DELETION_PROTECTION is (default:
prod-like environments); the dev profile's groups stay deletable, so `terraform destroy`
works there. It does not cover retention: shortening it pages (same rule); the archive
question is answered in docs/compliance.md (requirement 10).

An aspect, not a keyword at each of the seven log groups: a group added later is protected
without anyone remembering to (tests/test_log_protection.py checks every group of the synth).
"""

from __future__ import annotations

import jsii
from cdktf import Aspects, IAspect
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from constructs import Construct, IConstruct


@jsii.implements(IAspect)
class _ProtectLogGroups:
    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CloudwatchLogGroup):
            node.deletion_protection_enabled = True


def protect_log_groups(stack: Construct, *, enabled: bool) -> None:
    if enabled:
        Aspects.of(stack).add(_ProtectLogGroups())
