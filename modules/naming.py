"""Every physical name in the platform, from one place, so a rename is one edit."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Names:
    env: str

    @property
    def transactions_table(self) -> str:
        return f"payment-transactions-{self.env}"

    @property
    def idempotency_table(self) -> str:
        return f"payment-idempotency-{self.env}"

    @property
    def global_cluster(self) -> str:
        return f"payments-global-{self.env}"

    def cluster(self, role: str) -> str:
        """payments-primary-dev / payments-dr-dev."""
        return f"payments-{role}-{self.env}"

    @property
    def database(self) -> str:
        return "payments"

    @property
    def master_username(self) -> str:
        return "payments_admin"

    @property
    def db_secret(self) -> str:
        return f"payments-dr/{self.env}/aurora-master"

    def audit_bucket(self, account_id: str, region: str) -> str:
        """Globally unique: account id and region; at most 18+12+1+12+1+14 = 58 characters."""
        return f"payments-dr-audit-{self.env}-{account_id}-{region}"

    def function(self, purpose: str, role: str) -> str:
        """payment-validator-primary-dev, as the seed's log group names expect."""
        return f"payment-{purpose}-{role}-{self.env}"

    def regional(self, what: str, role: str) -> str:
        return f"payments-{what}-{role}-{self.env}"

    @property
    def alarm_prefix(self) -> str:
        return f"payments-{self.env}-"

    def alarm(self, what: str, role: str) -> str:
        return f"{self.alarm_prefix}{what}-{role}"
