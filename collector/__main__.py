"""``python -m collector``: serve the demo site, the build and the collector endpoints."""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from collector.app import create_app
from collector.settings import REPO_ROOT, Settings
from collector.sink import add_sink_flags, sink_settings
from collector.tokens import KeyFileError, signer

__all__ = ["allowed_hosts", "main", "parse_args", "wants_demo_login", "wants_public_reads"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: where to listen, the database, and the two served directories."""
    parser = argparse.ArgumentParser(
        prog="python -m collector",
        description="Serve the demo site, the build and the collector endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    parser.add_argument(
        "--db",
        default="tracker.db",
        help="SQLite file (tracker.db) or a postgresql://user@host/dbname URL",
    )
    parser.add_argument("--web", type=Path, default=REPO_ROOT / "web", help="demo site, at /")
    parser.add_argument("--dist", type=Path, default=REPO_ROOT / "dist", help="build, at /dist/")
    parser.add_argument(
        "--dist-max-age",
        type=int,
        default=600,
        help="seconds browsers may reuse unversioned /dist/ files unasked (0: revalidate)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="origin (https://shop.example) allowed to send events with credentials; repeatable"
        " (default: the collector's own origin only)",
    )
    add_sink_flags(parser)
    parser.add_argument(
        "--trust-proxy",
        action="store_true",
        help="record the client address from X-Forwarded-For (behind a reverse proxy only)",
    )
    parser.add_argument(
        "--allowed-host",
        action="append",
        default=[],
        metavar="NAME",
        help="a Host name to answer besides the bind host and localhost (shop.example,"
        " *.example.com, or * for any); repeatable. Other names get 400 (DNS rebinding)",
    )
    parser.add_argument(
        "--public-reads",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="answer GET /api/events and /api/stats without the API key"
        " (default: only where the demo login is on)",
    )
    parser.add_argument(
        "--honor-gpc",
        action="store_true",
        help="treat Sec-GPC: 1 as SP-Anonymous unless the visitor granted consent",
    )
    parser.add_argument(
        "--max-body-bytes", type=int, default=1_000_000, help="largest /collect body (1000000)"
    )
    parser.add_argument(
        "--max-batch-events", type=int, default=500, help="most events per /collect (500)"
    )
    parser.add_argument(
        "--max-json-depth", type=int, default=32, help="deepest JSON nesting accepted (32)"
    )
    parser.add_argument(
        "--max-api-limit", type=int, default=1000, help="most events per /api/events answer (1000)"
    )
    defaults = Settings()
    parser.add_argument(
        "--token-issuer", default=defaults.token_issuer, help="iss of signed tokens"
    )
    parser.add_argument(
        "--token-audience", default=defaults.token_audience, help="aud of access tokens"
    )
    parser.add_argument(
        "--session-ttl", type=int, default=defaults.session_ttl, help="session token seconds"
    )
    parser.add_argument(
        "--access-ttl", type=int, default=defaults.access_ttl, help="access token seconds"
    )
    parser.add_argument(
        "--proof-ttl", type=int, default=defaults.proof_ttl, help="login proof seconds"
    )
    parser.add_argument(
        "--token-scope", default=defaults.token_scope, help="scope of access tokens"
    )
    parser.add_argument(
        "--metadata-max-bytes",
        type=int,
        default=defaults.metadata_max_bytes,
        help="largest session metadata (compact JSON bytes; larger gets 413)",
    )
    parser.add_argument(
        "--demo-login",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="serve POST /demo/login, a passwordless demo login: never in production"
        " (default: on only when serving the bundled demo site, i.e. without --web)",
    )
    parser.add_argument(
        "--no-cookie-refresh",
        dest="cookie_refresh",
        action="store_false",
        help="never re-set the tracker's identity cookies from same-site answers",
    )
    parser.add_argument(
        "--cookie-domain",
        default=None,
        help="the tracker's cookieDomain, when it sets one (refreshed cookies use it)",
    )
    parser.add_argument(
        "--token-cookie-max-age",
        type=int,
        default=15552000,
        help="seconds a refreshed _ALGOLIA token lives (15552000: the tracker's default)",
    )
    return parser.parse_args(argv)


def wants_demo_login(args: argparse.Namespace) -> bool:
    """``--demo-login``/``--no-demo-login`` as given, else on only for the bundled demo site
    (whose shop page logs in through it), never for a site of one's own."""
    if args.demo_login is not None:
        return bool(args.demo_login)
    if not (REPO_ROOT / "build.py").is_file():
        return False  # installed from the wheel: no bundled demo
    return Path(args.web).resolve() == (REPO_ROOT / "web").resolve()


def wants_public_reads(args: argparse.Namespace) -> bool:
    """``--public-reads``/``--no-public-reads`` as given, else the demo login's rule: the
    bundled demo's pages read /api/* from the browser; any other site keeps them behind the
    API key."""
    if args.public_reads is not None:
        return bool(args.public_reads)
    return wants_demo_login(args)


def allowed_hosts(args: argparse.Namespace) -> tuple[str, ...]:
    """The ``Host`` names answered: the bind host, ``localhost`` and each ``--allowed-host``."""
    names = [args.host, "localhost", *args.allowed_host]
    return tuple(dict.fromkeys(name.lower() for name in names))


def _log_config() -> dict[str, object]:
    """uvicorn's logging, with an access log line that records no client address."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["access"]["fmt"] = '%(levelprefix)s "%(request_line)s" %(status_code)s'
    return config


def main(argv: list[str] | None = None) -> None:
    """Build the app from the flags and run it under uvicorn until interrupted."""
    args = parse_args(argv)
    settings = Settings(
        sink=sink_settings(args),
        db=args.db,
        web_dir=args.web,
        dist_dir=args.dist,
        dist_max_age=args.dist_max_age,
        max_body_bytes=args.max_body_bytes,
        max_batch_events=args.max_batch_events,
        max_json_depth=args.max_json_depth,
        max_api_limit=args.max_api_limit,
        trust_proxy=args.trust_proxy,
        gpc_anonymises=args.honor_gpc,
        allow_origins=tuple(args.allow_origin),
        token_issuer=args.token_issuer,
        token_audience=args.token_audience,
        session_ttl=args.session_ttl,
        access_ttl=args.access_ttl,
        proof_ttl=args.proof_ttl,
        token_scope=args.token_scope,
        metadata_max_bytes=args.metadata_max_bytes,
        demo_login=wants_demo_login(args),
        public_reads=wants_public_reads(args),
        allowed_hosts=allowed_hosts(args),
        cookie_refresh=args.cookie_refresh,
        cookie_refresh_domain=args.cookie_domain,
        token_cookie_max_age=args.token_cookie_max_age,
    )
    try:
        app = create_app(settings)
    except KeyFileError as refused:
        sys.exit(f"collector: {refused}")
    keys = signer(settings, app.state.store).keys
    if len(keys.secret.encode()) < 32:
        print(
            f"collector: warning: the token secret ({keys.secret_from}) is shorter than 32 bytes;"
            " anyone who guesses it can sign tokens: use a long random one",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"collector: token secret from {keys.secret_from}; API key (for /auth/login-proof"
        f" and reading /api/*) in {keys.api_key_from}"
        + ("; demo login ON" if settings.demo_login else "")
        + ("; /api/* readable without the key" if settings.public_reads else ""),
        file=sys.stderr,
        flush=True,
    )
    if args.host in ("0.0.0.0", "::", "") and not args.allowed_host:
        print(
            f"collector: warning: bound to {args.host or 'every interface'}, but only Host"
            f" {' and '.join(settings.allowed_hosts)} is answered: give --allowed-host for the"
            " names visitors use",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"collector: http://{args.host}:{args.port}/ (web {settings.web_dir}, "
        f"dist {settings.dist_dir}, db {settings.db})",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level="info" if args.verbose else "warning",
        access_log=args.verbose,
        log_config=_log_config(),
        server_header=False,
        proxy_headers=args.trust_proxy,
    )


if __name__ == "__main__":
    main()
