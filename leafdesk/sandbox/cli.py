"""`leafdesk-sandbox`: serve the Leaf sandbox on a local port until Ctrl+C."""

from __future__ import annotations

import argparse
import errno
import logging
import sys

from .app import create_app
from .config import DEMO, ENVIRONMENTS, FAULT_KINDS, DemoLogins, PartnerLogin, SandboxConfig
from .persistence import StateFileError
from .server import base_url_of, bind_socket, make_uvicorn_server

log = logging.getLogger(__name__)

# Windows reports a taken port with its own socket error code.
_ADDRESS_IN_USE = {errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", errno.EADDRINUSE)}


def _latency(text: str) -> tuple[float, float]:
    base, _, jitter = text.partition(":")
    try:
        values = (float(base), float(jitter) if jitter else 0.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid latency {text!r}: use MS or MS:JITTER, for example 50 or 50:10") from None
    if values[0] < 0 or values[1] < 0:
        raise argparse.ArgumentTypeError("latency and jitter must be 0 or more")
    return values


def _rate(text: str) -> float:
    number = text.removesuffix("/s")
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid rate limit {text!r}: use requests per second, for example 20/s") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the rate limit must be above 0")
    return value


def _faults(text: str) -> tuple[str, ...]:
    kinds = tuple(kind.strip() for kind in text.split(",") if kind.strip())
    unknown = [kind for kind in kinds if kind not in FAULT_KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown fault {', '.join(unknown)}: choose from {','.join(FAULT_KINDS)}")
    return kinds


def _user_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of users {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid probability {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("the fault rate must be between 0 and 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leafdesk-sandbox",
        description="Serve a local Leaf API sandbox for Panorama, with demo data.")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765,
                        help="TCP port (default 8765; 0 picks a free port)")

    parser.add_argument("--users", type=_user_count, default=250, metavar="N",
                        help="number of demo Leaf users (default 250)")
    parser.add_argument("--seed", type=int, default=1,
                        help="seed of the demo data; the same seed gives the same data (default 1)")
    parser.add_argument("--owner", nargs=2, metavar=("USERNAME", "PASSWORD"),
                        help="the Leaf API-owner login to accept instead of the demo one")
    parser.add_argument("--partner", nargs=5, action="append", default=[],
                        metavar=("ENVIRONMENT", "CLIENT_ID", "USERNAME", "PASSWORD",
                                 "SHARING_URL_ID"),
                        help="the Panorama partner login to accept for STAGE or PRODUCTION "
                             "instead of the demo one; may be given for each environment")
    parser.add_argument("--state", metavar="FILE",
                        help="keep the sandbox's data in FILE across restarts (default: memory)")

    parser.add_argument("--latency", type=_latency, metavar="MS[:JITTER]", default=(0.0, 0.0),
                        help="milliseconds added to each API response, optionally +/- JITTER ms")
    parser.add_argument("--rate-limit", type=_rate, metavar="N/s",
                        help="allow N API requests a second; more get 429 with Retry-After")
    parser.add_argument("--fault-rate", type=_probability, default=0.0, metavar="P",
                        help="probability from 0 to 1 that an API request meets a fault")
    parser.add_argument("--faults", type=_faults, default=FAULT_KINDS,
                        metavar=",".join(FAULT_KINDS),
                        help="which faults --fault-rate injects (default: all)")
    parser.add_argument("--slow-seconds", type=float, default=5.0,
                        help="delay of the 'slow' fault, in seconds (default 5)")
    parser.add_argument("--embed-credentials", choices=("full", "id"), default="full",
                        help="what user responses carry of the Panorama credential: id, status "
                             "and created time (full), or the id only (id)")

    parser.add_argument("--clock-speed", type=float, default=1.0, metavar="X",
                        help="run the sandbox clock, and so credential health changes, X times "
                             "faster than real time (default 1)")
    parser.add_argument("--share-expiry", type=float, default=900, metavar="SECONDS",
                        help="how long a one-click share page stays open (default 900)")
    parser.add_argument("--no-health", action="store_true",
                        help="turn off the background process that breaks and heals credentials")

    parser.add_argument("--controls", action="store_true",
                        help="enable the test controls under /_sandbox/")
    parser.add_argument("--log-level", default="info",
                        choices=("debug", "info", "warning", "error"),
                        help="how much the sandbox logs to standard error (default info)")
    return parser


def _logins(args: argparse.Namespace) -> DemoLogins:
    """Build the accepted logins: the demo ones, with those given on the command line."""
    owner_username, owner_password = args.owner or (DEMO.owner_username, DEMO.owner_password)
    partners = dict(DEMO.partners)
    for environment, client_id, username, password, sharing_url_id in args.partner:
        if environment not in ENVIRONMENTS:
            raise ValueError(f"--partner environment must be STAGE or PRODUCTION, "
                             f"not {environment!r}")
        partners[environment] = PartnerLogin(client_id, username, password, sharing_url_id,
                                             DEMO.partners[environment].app_name)
    return DemoLogins(owner_username, owner_password, partners)


def _print_banner(base_url: str, config: SandboxConfig) -> None:
    logins = config.logins
    lines = [
        f"Leaf sandbox serving at {base_url}",
        f"  Leaf API-owner login: {logins.owner_username} / {logins.owner_password}",
    ]
    for environment in ENVIRONMENTS:
        partner = logins.partners[environment]
        lines.append(f"  Panorama partner login ({environment}, app {partner.app_name}): "
                     f"client id {partner.client_id}, {partner.username} / {partner.password}, "
                     f"sharingUrlId {partner.sharing_url_id}")
    state = f"kept in {config.state_file}" if config.state_file else "in memory only"
    lines.append(f"  Data: {state}; test controls {'on' if config.controls else 'off'}."
                 " Ctrl+C stops.")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    try:
        config = SandboxConfig(
            users=args.users, seed=args.seed, controls=args.controls,
            embed_credentials=args.embed_credentials, clock_speed=args.clock_speed,
            latency_ms=args.latency[0], latency_jitter_ms=args.latency[1],
            rate_limit=args.rate_limit, fault_rate=args.fault_rate, faults=args.faults,
            state_file=args.state, share_expiry_seconds=args.share_expiry,
            health=not args.no_health, slow_seconds=args.slow_seconds, logins=_logins(args))
    except ValueError as error:
        # Every value here came from an option, so the usage line helps. This exits with 2.
        parser.error(str(error))

    try:
        sock = bind_socket(args.host, args.port)
    except OSError as error:
        if error.errno in _ADDRESS_IN_USE:
            print(f"leafdesk-sandbox: port {args.port} on {args.host} is already in use. "
                  "Choose another with --port, or --port 0 for a free one.", file=sys.stderr)
        else:
            print(f"leafdesk-sandbox: cannot listen on {args.host}:{args.port}: "
                  f"{error.strerror or error}.", file=sys.stderr)
        return 1

    try:
        app = create_app(config)
    except StateFileError as error:
        sock.close()
        print(f"leafdesk-sandbox: {error}. Move the file away to start from demo data.",
              file=sys.stderr)
        return 1
    app.state.sandbox.served_over_socket = True

    base_url = base_url_of(sock)
    _print_banner(base_url, config)
    server = make_uvicorn_server(app, log_level="warning")
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn has already shut down cleanly and saved the state
    finally:
        sock.close()
    print("Leaf sandbox stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
