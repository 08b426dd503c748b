"""The `continuum` command: one small function per subcommand.

    continuum serve [--workers N]   serve HTTP on CONTINUUM_HOST:CONTINUUM_PORT (demo cohort on
                               an empty store unless CONTINUUM_DEMO=0)
    continuum demo [--force]   load the demo cohort into CONTINUUM_DATABASE_URL
    continuum token --role R --sub S [--program P ...] [--ttl 8h]   a dev token (HS256)
    continuum cipher-key       a new random key for CONTINUUM_CIPHER_KEY
    continuum generate --participants N [--weeks W --seed S]   a made-up cohort (api/seed)
    continuum rebuild [--verify], continuum project [--once]   the views (api/cli/views.py)
    continuum verify [--all | --participant ID], continuum export (--participant ID | --all)
                               tamper evidence (api/cli/audit.py)
    continuum relay nats --recipient R   publish the consented feed (api/feed/relay.py)
    continuum rotate-key --new-key K   re-encrypt the store under a new key (api/cli/rotate.py)

Every command opens the store through api.bootstrap. Exit codes: 0 done, 1 refused (e.g. the
store already has events), 2 bad usage or settings (a wrong cipher key included), 3 the
database or broker did not answer. Each failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from api.bootstrap import StoreUnavailable, describe_store, open_service
from api.cli import audit as audit_commands
from api.cli import db_setup
from api.cli import rotate as rotate_commands
from api.cli import views as view_commands
from api.cli.parsing import EXIT_UNAVAILABLE, EXIT_USAGE, CommandFailed, CommandParser
from api.feed.relay import add_relay_parser
from api.http.metrics import MULTIPROC_ENV
from api.logging import configure_logging, get_logger
from api.pages import enable_demo_sign_in
from api.pages.demo import demo_page_link, print_sign_in_links
from api.security.tokens import Role, demo_tokens, mint_token, parse_ttl
from api.seed import generate as generate
from api.seed.demo import DemoAlreadyLoaded, demo_participant_id, exists, load_demo_cohort
from api.settings import Settings, SettingsError
from api.storage.store_url import StoreURLError
from domain.application import ContinuumApplication

if TYPE_CHECKING:
    from fastapi import FastAPI

log = get_logger(__name__)

# The participant whose timeline `serve` points to: a residential step-down, the richest story.
SHOWCASE_PARTICIPANT = "harbor-1"

Subcommand = Callable[[argparse.Namespace], int]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `continuum` console script."""
    args = build_parser().parse_args(argv)
    run: Subcommand = args.run
    try:
        return run(args)
    except (SettingsError, StoreURLError) as error:
        return _failed(str(error), EXIT_USAGE)
    except StoreUnavailable as error:
        return _failed(str(error), EXIT_UNAVAILABLE)
    except CommandFailed as error:
        return _failed(str(error), error.exit_code)


def _failed(message: str, exit_code: int) -> int:
    print(f"continuum: {message}", file=sys.stderr)
    return exit_code


def package_version() -> str:
    try:
        return version("continuum")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="continuum", description="Records participants' journeys through levels of care."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", help="overrides CONTINUUM_HOST (itself 127.0.0.1 if unset)")
    serve.add_argument("--port", type=int, help="overrides CONTINUUM_PORT (itself 8000 if unset)")
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (one per core on a busy server)",
    )
    serve.set_defaults(run=serve_command)

    demo = commands.add_parser("demo", help="load the demo cohort into the configured store")
    demo.add_argument(
        "--force", action="store_true", help="load even though the store already has events"
    )
    demo.add_argument(
        "--today",
        type=date.fromisoformat,
        help="the day the demo ends before (YYYY-MM-DD; default today, UTC)",
    )
    demo.set_defaults(run=demo_command)

    token = commands.add_parser(
        "token", help="mint a dev token signed with CONTINUUM_JWT_SECRET (demo: the demo secret)"
    )
    token.add_argument(
        "--role", required=True, choices=[r.value for r in Role], help="what the caller may do"
    )
    token.add_argument("--sub", required=True, help="the user or service id")
    token.add_argument(
        "--program",
        action="append",
        default=[],
        help="a program the caller sees (repeatable; none: no program's records)",
    )
    token.add_argument("--ttl", type=token_lifetime, default="8h", help="lifetime: 30m, 8h, 2d")
    token.set_defaults(run=token_command)

    cipher_key = commands.add_parser("cipher-key", help="print a new key for CONTINUUM_CIPHER_KEY")
    cipher_key.set_defaults(run=cipher_key_command)
    view_commands.register(commands)
    generate.register(commands)
    audit_commands.register(commands)
    db_setup.register(commands)
    rotate_commands.register(commands)
    add_relay_parser(commands)
    return parser


# ---- serve ------------------------------------------------------------------------------------


def serve_command(args: argparse.Namespace) -> int:
    """Open the store, seed an empty one with the demo, then run uvicorn until stopped."""
    import uvicorn

    settings = Settings.from_env().with_token_keys()
    settings = replace(settings, host=args.host or settings.host, port=args.port or settings.port)
    configure_logging(json=settings.log_json, level=settings.log_level)
    if args.workers < 1:
        print("continuum serve: --workers must be at least 1", file=sys.stderr)
        return 2
    if args.workers > 1 and describe_store(settings).kind == "memory":
        print("continuum serve: an in-memory store cannot be shared by workers", file=sys.stderr)
        return 2
    app = served_app(settings)
    application: ContinuumApplication = app.state.application
    if settings.demo and not has_events(application):
        ids = load_demo_cohort(application, today=datetime.now(UTC).date())
        log.info("demo_loaded", participants=len(ids))

    base_url = f"http://{settings.host}:{settings.port}"
    log.info("serving", url=base_url, store=app.state.store.display, workers=args.workers)
    print(f"Continuum serving on {base_url} (store {app.state.store.display})", file=sys.stderr)
    showcase = demo_participant_id(SHOWCASE_PARTICIPANT)
    if settings.demo and settings.jwt_secret:
        print_demo_tokens(settings)
        print_sign_in_links(base_url, settings.jwt_secret)
        if exists(application, showcase):
            # A page a browser can open: it signs the demo clinician in first (the API's
            # /v1/.../timeline needs an Authorization header no link can carry).
            link = demo_page_link(base_url, settings.jwt_secret, f"/participants/{showcase}")
            print(f"Demo timeline (signs in as demo-clinician): {link}", file=sys.stderr)
    if args.workers == 1:
        freeze_startup_heap()
        # log_config=None keeps the handlers configure_logging installed; access_log=False
        # because uvicorn's access line quotes the raw path and query string (participant ids
        # of other routes, recipients, dates): api.http.middleware logs the route template.
        uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False)
        return 0
    # Each worker process builds its own app from the same environment (served_app); this
    # one only seeded the store, so it closes its own before they start.
    application.close()
    with shared_metrics_dir():
        uvicorn.run(
            "api.cli.main:served_app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=args.workers,
            log_config=None,
            access_log=False,
        )
    return 0


@contextmanager
def shared_metrics_dir() -> Iterator[None]:
    """A directory the workers' metrics are written to, so a scrape sums every worker.

    Set before the workers start (each one imports prometheus-client afresh and reads it); a
    fresh one per run, since samples left by an earlier run would be summed in. An operator's
    own PROMETHEUS_MULTIPROC_DIR is kept (they empty it between runs).
    """
    if os.environ.get(MULTIPROC_ENV):
        yield
        return
    path = tempfile.mkdtemp(prefix="continuum-metrics-")
    os.environ[MULTIPROC_ENV] = path
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(path, ignore_errors=True)


def served_app(settings: Settings) -> FastAPI:
    """The app `serve` runs: the demo is loaded by `serve` itself (on an empty store only), so
    the app must not load it; in demo mode the one-click sign-in pages are on."""
    from api.http.app import create_app

    app = create_app(replace(settings, demo=False))
    if settings.demo and settings.jwt_secret:
        enable_demo_sign_in(app)
    return app


def served_app_from_env() -> FastAPI:
    """The app each `serve --workers N` process builds, from the environment."""
    settings = Settings.from_env().with_token_keys()
    configure_logging(json=settings.log_json, level=settings.log_level)
    app = served_app(settings)
    freeze_startup_heap()
    return app


def freeze_startup_heap() -> None:
    """Exempt what the server built at startup from the garbage collector's full scans.

    The startup heap (modules, routes, schemas, the opened store) lives as long as the process,
    yet every full collection walked all of it with the worker stopped: 70-110 ms, every few
    seconds under a read load, which was most of the timeline read's p99. Frozen (after one
    collection, so no garbage is kept), a full collection only scans what came after: 2-6 ms.
    """
    gc.collect()
    gc.freeze()


# ---- demo -------------------------------------------------------------------------------------


def demo_command(args: argparse.Namespace) -> int:
    """Load the demo cohort; refuse a store with events unless --force."""
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    service = open_service(settings)
    store, application = service.store, service.application
    try:
        if has_events(application) and not args.force:
            print(
                f"continuum: {store.display} already has events; the demo goes into an empty "
                "store (--force loads it anyway)",
                file=sys.stderr,
            )
            return 1
        ids = load_demo_cohort(application, today=args.today or datetime.now(UTC).date())
    except DemoAlreadyLoaded as error:
        print(f"continuum: the demo is already loaded ({error})", file=sys.stderr)
        return 1
    finally:
        application.close()
    print(f"Loaded {len(ids)} demo participants into {store.display}")
    return 0


# ---- tokens and keys --------------------------------------------------------------------------


def token_command(args: argparse.Namespace) -> int:
    """Print a dev token (stdout) for the given role, sub and programs."""
    settings = Settings.from_env().with_token_keys()
    if not settings.jwt_secret:
        print("continuum: minting needs CONTINUUM_JWT_SECRET (HS256)", file=sys.stderr)
        return 2
    if settings.uses_demo_secret:
        print("continuum: signed with the PUBLISHED demo secret (demo mode)", file=sys.stderr)
    print(
        mint_token(
            settings.jwt_secret, role=args.role, sub=args.sub, programs=args.program, ttl=args.ttl
        )
    )
    return 0


def token_lifetime(text: str) -> timedelta:
    """--ttl's type: a usage error that says what a lifetime looks like."""
    try:
        return parse_ttl(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cipher_key_command(args: argparse.Namespace) -> int:
    """Print a new random AES-256 key for CONTINUUM_CIPHER_KEY."""
    from api.storage.cipher import create_cipher_key

    print(create_cipher_key())
    return 0


def print_demo_tokens(settings: Settings) -> None:
    """Tokens for the demo callers, to stderr (never to the logs)."""
    assert settings.jwt_secret is not None
    if settings.uses_demo_secret:
        print(
            "WARNING: demo mode: tokens are checked with the PUBLISHED demo secret; "
            "never hold real records this way (set CONTINUUM_JWT_SECRET, CONTINUUM_DEMO=0)",
            file=sys.stderr,
        )
    print("Demo tokens (8h; send as `Authorization: Bearer <token>`):", file=sys.stderr)
    for role, token in demo_tokens(settings.jwt_secret).items():
        print(f"  {role.value:<11} {token}", file=sys.stderr)


# ---- shared -----------------------------------------------------------------------------------


def has_events(application: ContinuumApplication) -> bool:
    return bool(application.recorder.max_notification_id())


if __name__ == "__main__":
    sys.exit(main())
