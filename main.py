"""Synthesizes the payments DR platform: `python main.py` (or `cdktf synth`).

Settings come from environment variables (see README); invalid settings stop here, before
any construct exists, so nothing is written.
"""

from __future__ import annotations

import os
import sys

# First, before anything imports the AWS provider: load only the provider submodules this app
# uses (~4 s synth instead of ~17 s). CDKTF_FAST_IMPORTS=0 falls back to the stock import.
from modules import fast_provider

fast_provider.install()

from modules.settings import Settings, SettingsError


def build_app(settings: Settings, outdir: str | None = None):
    """The account baseline and the state bootstrap (each applied by hand once: README), then
    the platform stacks in apply order (modules/stack.py): foundation, primary, dr, routing."""
    from cdktf import App

    from modules.account_baseline import AccountBaselineStack
    from modules.stack import build_platform
    from modules.state_backend import StateBootstrapStack

    app = App(outdir=outdir or os.environ.get("CDKTF_OUTDIR", "cdktf.out"))
    AccountBaselineStack(app, settings=settings)
    StateBootstrapStack(app, settings=settings)
    build_platform(app, settings)
    return app


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    build_app(settings).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
