"""drctl: disaster-recovery operations for the payments platform (status, switchover, failover,
lost-writes, rejoin, failback, verify). See docs/runbook.md."""

__version__ = "0.1.0"
