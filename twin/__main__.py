"""``python -m twin up``: stand the synthesized platform up locally and print its endpoints.

Stops on Ctrl-C (SIGINT) or SIGTERM. Reads cdktf.out (``make synth`` first). docs/twin.md.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from twin.core import Twin


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["gameday"]:  # python -m twin gameday --outage hang --minutes 10 (twin/gameday.py)
        from twin import gameday
        return gameday.main(argv[1:])
    if argv[:1] == ["drill"]:  # python -m twin drill regional-failover (twin/drills.py)
        from twin import drills
        return drills.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m twin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="stand the platform up and serve it until Ctrl-C")
    up.add_argument("--outdir", default="cdktf.out", help="the synth output folder (default: cdktf.out)")
    up.add_argument("--lag", type=float, default=0.5, help="simulated replication lag, seconds (default 0.5)")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT too: a shell may start us with it ignored
        signal.signal(signum, lambda *_: stop.set())
    try:
        twin = Twin(args.outdir, lag_s=args.lag).up()
    except FileNotFoundError as exc:
        print(f"twin: {exc}", file=sys.stderr)
        return 2
    try:
        print(f"twin up in {twin.timings['up']:.1f} s from {args.outdir}")
        print(f"AWS APIs (moto): {twin.endpoint}  (AWS_ENDPOINT_URL; any credentials)")
        for region, port in twin.ports.items():
            print(f"API Gateway {region} ({twin.roles.get(region, '?')}): http://127.0.0.1:{port}")
        print("names (send them as the Host header):")
        for name, region in sorted(twin.names.items()):
            print(f"  {name} -> {region} (port {twin.ports[region]})")
        example = next(iter(sorted(twin.names)))
        print(f"try: curl -H 'Host: {example}' http://127.0.0.1:{twin.ports[twin.names[example]]}/health")
        print(f"function logs: {twin.pool.workdir / 'logs' if twin.pool else '-'}")
        print(f"replication is simulated (lag {args.lag:.1f} s); Ctrl-C stops", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        twin.down()
        print("twin down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
