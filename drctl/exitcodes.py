"""drctl exit codes (also documented in docs/runbook.md and `drctl --help`)."""

OK = 0            # healthy / operation completed (or was already done) and post-checks passed
UNHEALTHY = 1     # status found a failing check; a post-check failed; verify canary not replicated in time
USAGE = 2         # bad command line or configuration (missing output/flag, unreadable outputs file)
UNREACHABLE = 3   # a region/service needed for the answer could not be reached
REFUSED = 4       # a safety pre-check failed, or confirmation missing: nothing was changed
FAILED = 5        # the AWS operation failed or did not finish within --timeout (re-run to resume)
UNKNOWN = 6       # a state-changing request got no response and a re-read could not tell: re-run
WARNINGS = 7      # preflight: no check failed or was unknown, but some warned
INTERRUPTED = 130  # Ctrl-C; re-running the same command is safe

DESCRIPTIONS = {
    OK: "healthy / done",
    UNHEALTHY: "unhealthy (a check or post-check failed, or the canary did not replicate in time)",
    USAGE: "usage or configuration error",
    UNREACHABLE: "a region could not be reached",
    REFUSED: "refused by a pre-check or missing confirmation; nothing changed",
    FAILED: "operation failed or timed out; re-run the same command to resume",
    UNKNOWN: "outcome unknown (request sent, no response); re-run the same command: it re-reads "
             "the state first and never sends a second request for an operation under way",
    WARNINGS: "preflight: warnings only (no FAIL, nothing UNKNOWN)",
    INTERRUPTED: "interrupted; re-run the same command to resume",
}
