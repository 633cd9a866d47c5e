"""Run one synthesized Lambda function in its own process, as the Lambda runtime would.

Usage: ``python lambda_host.py <package dir> <handler string>``; stdin: a JSON list of
events; stdout: a JSON list of the handler's return values (or ``{"hostError": ...}``).

The package directory is the function's unzipped package, first on ``sys.path`` (the runtime
puts ``/var/task`` first); the handler string is the function's ``handler`` from the JSON
(``module.function``). The environment is the caller's (the JSON's variables plus what
Lambda sets). Simulated, not Lambda: no sandbox, no timeout enforcement, no layers (the
runner's own site-packages stand in for the runtime's boto3 and a Powertools layer).
"""

from __future__ import annotations

import importlib
import json
import sys
import uuid


class Context:
    """The parts of the Lambda context object the handlers read."""

    def __init__(self, name: str, memory_mb: int, timeout_ms: int) -> None:
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{name}"
        self.log_stream_name = "2026/01/01/[$LATEST]0123456789abcdef"
        self._timeout_ms = timeout_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._timeout_ms


def main() -> None:
    package, handler_string = sys.argv[1], sys.argv[2]
    sys.path.insert(0, package)
    module_name, _, function_name = handler_string.rpartition(".")
    events = json.load(sys.stdin)
    out = sys.stdout
    sys.stdout = sys.stderr  # the functions' logs must not mix with the answers
    import os

    context_args = (os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "function"),
                    int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
                    int(os.environ.get("TWIN_TIMEOUT_MS", "3000")))
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as exc:  # an init error is an answer too
        json.dump([{"hostError": f"init: {type(exc).__name__}: {exc}"}] * len(events), out)
        return
    answers = []
    for event in events:
        try:
            answers.append(handler(event, Context(*context_args)))
        except Exception as exc:
            answers.append({"hostError": f"invoke: {type(exc).__name__}: {exc}"})
    json.dump(answers, out)


if __name__ == "__main__":
    main()
