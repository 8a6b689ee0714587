"""Command line for running the emulator in the foreground: `python -m components.emulator`.

`main(argv)` parses the options, starts an `Emulator`, prints how to reach it (base URL, CA bundle and
the bearer token, the latter only to this terminal) and serves until interrupted. It returns an exit status.
"""

from __future__ import annotations

import argparse
import sys
import threading

from components.emulator.server import Emulator


def main(argv: list[str] | None = None) -> int:
    """Run the Azure VM Image Builder ARM emulator until Ctrl-C."""
    parser = argparse.ArgumentParser(prog="python -m components.emulator", description=main.__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: a free one)")
    parser.add_argument("--no-tls", action="store_true", help="serve plain http (clients must relax HTTPS checks)")
    parser.add_argument("--phase-seconds", type=float, default=1.0, help="real seconds per build phase")
    parser.add_argument("--state-file", default=None, help="JSON file to load state from and persist it to")
    args = parser.parse_args(argv)
    emu = Emulator(host=args.host, port=args.port, tls=not args.no_tls, phase_seconds=args.phase_seconds,
                   state_file=args.state_file)
    try:
        emu.start()
    except OSError as e:
        print(f"{parser.prog}: error: {e}", file=sys.stderr)
        return 1
    for k, v in emu.client_env().items():
        print(f"{k}={v}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0
