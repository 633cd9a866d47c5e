"""Physical names come from the shared contract (`contract.py`), which drctl and tests import too."""

from contract import Names

__all__ = ["Names"]
