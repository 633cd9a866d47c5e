"""Two patches of moto's own overheads, for the twin's process only (answers unchanged).

The twin runs moto in its own process, shared with both gateways, the replication and the
load check's sender; under the load check (10 payments/s with reconcile running) that process
was the bottleneck, and py-spy named two moto costs that AWS does not have:

* moto's server lists its package directory (``os.listdir`` and an ``isdir`` per entry, ~190)
  on every request to match the Host header: ~10 % of the process's CPU. The list cannot
  change while the process runs: it is listed once.
* a Query on a table's key (``KeyConditionExpression`` on the partition key, no index) walks
  ``Table.all_items()``, which sorts EVERY item of the table, then keeps the partition's. At
  ~1,000 payments that is tens of milliseconds per Query under the GIL; reconcile's duplicate
  check makes one per record (16 threads), and the validator's calls behind them passed their
  1 s timeouts. Here the Query reads the partition itself (``Table.items[hash]``), which is the
  same set; moto then sorts and pages it as before.

:func:`install` is idempotent; ``tests/test_twin_motopatch.py`` compares the patched Query
with moto's own on the same table.
"""

from __future__ import annotations

import threading
from typing import Any

_local = threading.local()
_installed = False


def install() -> None:
    global _installed
    if _installed:
        return
    _cache_module_list()
    _partition_queries()
    _installed = True


def _cache_module_list() -> None:
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> tuple[str, ...]:
        return modules

    backends.list_of_moto_modules = list_of_moto_modules


def _partition_queries() -> None:
    from moto.dynamodb.models.table import Table

    all_items, query = Table.all_items, Table.query

    def partition_items(self: Any) -> Any:
        narrow = getattr(_local, "partition", None)
        if narrow is None or narrow[0] is not self:
            return all_items(self)
        hash_set = self.items.get(narrow[1])  # .get: items is a defaultdict
        if hash_set is None:
            return []
        return list(hash_set.values()) if self.range_key_attr else [hash_set]

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")  # moto passes it positionally
        if index_name is not None or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        _local.partition = (self, hash_key)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _local.partition = None

    Table.all_items = partition_items  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]
