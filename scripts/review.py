#!/usr/bin/env python3
"""DR review of the synthesized stacks (the command; the code is the dr_review package).

    scripts/review.py [cdktf.out] [--format text|markdown] [--diagram docs/architecture.svg]
                      [--plan-dir plans/] [--checkov checkov.txt] [--strict]

See scripts/dr_review/__init__.py for what it reports and the budget rules. Importing this
module gives the package's names (tests use `import review`).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from dr_review import *  # noqa: F403  (the public API, for `import review`)
from dr_review import __all__ as __all__
from dr_review.cli import main

if __name__ == "__main__":
    sys.exit(main())
