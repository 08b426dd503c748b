"""`continuum relay nats`: the feed, for one recipient, into a NATS JetStream stream.

Consent: a relay publishes for one named recipient (`--recipient`, the id its consents name,
as an integrator token's `sub`), and only what that recipient's consents allow now; without a
recipient it refuses to start, since nothing leaves the program without a consent. Run one
relay and one stream per recipient: a stream is a disclosure to whoever may read it.

Exactly once, end to end:
1. the relay reads a batch after its checkpoint (a row in the events' own store);
2. publishes each event with `Nats-Msg-Id` = event id and waits for JetStream's ack, in order;
3. only then commits the new checkpoint together with the batch's disclosure-log rows.
A crash before 3 leaves the checkpoint behind what JetStream holds: the restarted relay
publishes those events again and JetStream drops them as duplicates (same `Nats-Msg-Id` within
the stream's duplicate window, set to `--dedupe-window`, one hour by default), so a consumer
sees each event once, and each disclosure is logged once (its row commits with the checkpoint).
A relay down for longer than the window after such a crash could publish a duplicate: consumers
should still key on the CloudEvent `id` (or the `Continuum-Position` header).

Subjects: `<prefix>.<program>.<event type in snake_case>`, e.g.
`continuum.riverside-iop.session_attended`; the message is the CloudEvent in structured JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from api.bootstrap import open_service
from api.cli.parsing import EXIT_UNAVAILABLE, CommandFailed
from api.feed.cloud_events import REDISCLOSURE_HEADER, REDISCLOSURE_NOTICE, snake_case
from api.feed.events import MAX_LIMIT, Feed, FeedItem, FeedQuery
from api.logging import configure_logging, get_logger
from api.settings import Settings

log = get_logger(__name__)

DEFAULT_URL = "nats://127.0.0.1:4222"
DEFAULT_STREAM = "CONTINUUM"
DEFAULT_PREFIX = "continuum"
DEFAULT_DEDUPE_WINDOW_SECONDS = 3600.0
POSITION_HEADER = "Continuum-Position"
# NATS subject tokens may not hold dots, spaces or wildcards.
_UNSAFE_TOKEN = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class RelayConfig:
    url: str
    recipient: str
    stream: str = DEFAULT_STREAM
    subject_prefix: str = DEFAULT_PREFIX
    batch: int = 500
    poll_seconds: float = 0.5
    dedupe_window_seconds: float = DEFAULT_DEDUPE_WINDOW_SECONDS
    once: bool = False  # stop when level with the log (benchmarks, tests, cron)

    @property
    def checkpoint_name(self) -> str:
        return f"nats:{self.stream}:{self.recipient}"

    @property
    def display_url(self) -> str:
        """The server URL without credentials, safe to print."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        return f"{parts.scheme}://{host}:{parts.port}" if parts.port else f"{parts.scheme}://{host}"


@dataclass
class RelayStats:
    published: int = 0
    duplicates: int = 0
    position: int = 0


def subject_for(prefix: str, item: FeedItem) -> str:
    program = _UNSAFE_TOKEN.sub("_", item.program_id) or "_"
    return f"{prefix}.{program}.{snake_case(type(item.event).__name__)}"


async def _log_broker_error(error: Exception) -> None:
    """Connection trouble goes to the log, as one line, not to stderr as a traceback."""
    log.warning("nats_error", error=type(error).__name__)


async def run_relay(feed: Feed, config: RelayConfig) -> RelayStats:
    """Publish until stopped (or, with `once`, until level with the log)."""
    import nats
    from nats.js.api import StreamConfig
    from nats.js.errors import NotFoundError

    connection = await nats.connect(
        config.url, connect_timeout=5, max_reconnect_attempts=5, error_cb=_log_broker_error
    )
    stats = RelayStats(
        position=await asyncio.to_thread(feed.log.checkpoint, config.checkpoint_name)
    )
    try:
        js = connection.jetstream()
        try:
            await js.stream_info(config.stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=config.stream,
                    subjects=[f"{config.subject_prefix}.>"],
                    duplicate_window=config.dedupe_window_seconds,
                )
            )
        log.info("relay_started", stream=config.stream, position=stats.position)
        while True:
            now = datetime.now(UTC)
            query = FeedQuery(after=stats.position, limit=min(config.batch, MAX_LIMIT))
            page = await asyncio.to_thread(feed.read, query, recipient=config.recipient, now=now)
            for item in page.items:
                ack = await js.publish(
                    subject_for(config.subject_prefix, item),
                    json.dumps(item.cloud_event(), separators=(",", ":")).encode(),
                    stream=config.stream,
                    headers=_headers(item),
                )
                stats.published += 1
                stats.duplicates += 1 if ack.duplicate else 0
            if page.next_after > stats.position:
                # After every ack: the checkpoint never passes an event JetStream lacks.
                await asyncio.to_thread(
                    feed.log.record,
                    page.disclosures(config.recipient, now, "nats"),
                    (config.checkpoint_name, page.next_after),
                )
                stats.position = page.next_after
                continue
            if config.once:
                return stats
            await asyncio.sleep(config.poll_seconds)
    finally:
        await connection.close()
        log.info(
            "relay_stopped",
            position=stats.position,
            published=stats.published,
            duplicates=stats.duplicates,
        )


def _headers(item: FeedItem) -> dict[str, Any]:
    return {
        "Nats-Msg-Id": str(item.event.event_id),
        POSITION_HEADER: str(item.position),
        REDISCLOSURE_HEADER: REDISCLOSURE_NOTICE,
        "Content-Type": "application/cloudevents+json",
    }


# ---- CLI --------------------------------------------------------------------------------------


def add_relay_parser(commands: Any) -> None:
    """`continuum relay nats ...` (called by api.cli.main.build_parser)."""
    relay = commands.add_parser("relay", help="publish the feed to a message broker")
    brokers = relay.add_subparsers(title="brokers", required=True, metavar="BROKER")
    nats_parser = brokers.add_parser("nats", help="publish to NATS JetStream")
    nats_parser.add_argument("--url", default=DEFAULT_URL, help="the NATS server")
    nats_parser.add_argument(
        "--recipient",
        required=True,
        help="the recipient whose consents decide what is published",
    )
    nats_parser.add_argument("--stream", default=DEFAULT_STREAM, help="the JetStream stream")
    nats_parser.add_argument(
        "--subject-prefix", default=DEFAULT_PREFIX, help="first token of every subject"
    )
    nats_parser.add_argument("--batch", type=int, default=500, help="events per checkpoint")
    nats_parser.add_argument(
        "--poll",
        dest="poll_seconds",
        metavar="POLL",
        type=float,
        default=0.5,
        help="seconds between polls",
    )
    nats_parser.add_argument(
        "--dedupe-window",
        dest="dedupe_window_seconds",
        metavar="DEDUPE_WINDOW",
        type=float,
        default=DEFAULT_DEDUPE_WINDOW_SECONDS,
        help="JetStream duplicate window (seconds) for a stream the relay creates",
    )
    nats_parser.add_argument("--once", action="store_true", help="exit when level with the log")
    nats_parser.set_defaults(run=relay_nats_command)


def relay_nats_command(args: argparse.Namespace) -> int:
    if not args.recipient:
        print(
            "continuum: relay nats needs --recipient: nothing leaves the program without a "
            "consent naming its recipient",
            file=sys.stderr,
        )
        return 2
    settings = Settings.from_env()
    configure_logging(json=settings.log_json, level=settings.log_level)
    from nats.errors import Error as NatsError

    service = open_service(settings, pool_size=2)
    # The options are named as the config's fields.
    config = RelayConfig(**{field.name: getattr(args, field.name) for field in fields(RelayConfig)})
    started = time.perf_counter()
    try:
        stats = asyncio.run(run_relay(service.feed, config))
    except KeyboardInterrupt:
        return 0
    except (OSError, NatsError) as error:
        # The class name only: the library's messages can quote the server URL's credentials.
        raise CommandFailed(
            f"cannot reach NATS at {config.display_url} ({type(error).__name__}): is "
            "nats-server running with JetStream (-js), and --url right?",
            EXIT_UNAVAILABLE,
        ) from None
    finally:
        service.close()
    seconds = time.perf_counter() - started
    print(
        f"published={stats.published} duplicates={stats.duplicates} position={stats.position} "
        f"seconds={seconds:.2f}",
        flush=True,
    )
    return 0
