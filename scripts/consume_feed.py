"""A reference consumer of Continuum's event feed: what an integrator copies to start.

Follows `GET /v1/events` with a bearer token, prints one line per event, and saves its position
in a local file after each page, so a restart resumes exactly where it stopped: no event twice
(unless it was killed between printing and saving, in which case that page is printed again:
make the processing idempotent on the CloudEvent `id`) and none skipped (the feed's cursor is a
log position, and positions become visible in order).

Standard library only. Usage:
    CONTINUUM_TOKEN=... python3 scripts/consume_feed.py --url http://127.0.0.1:8000 \
        --checkpoint billing.position [--types SessionAttended,Discharged] [--once]

Remember: what you receive is protected by 42 CFR part 2 (see the notice on every response).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any


def read_checkpoint(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except FileNotFoundError:
        return 0


def save_checkpoint(path: Path, position: int) -> None:
    # Write then rename: a crash leaves the old position or the new one, never half a number.
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(f"{position}\n")
    os.replace(temporary, path)


def fetch_page(args: argparse.Namespace, after: int) -> dict[str, Any]:
    query = {"after": after, "limit": args.limit}
    if args.types:
        query["types"] = args.types
    if args.program_id:
        query["program_id"] = args.program_id
    request = urllib.request.Request(
        f"{args.url.rstrip('/')}/v1/events?{urllib.parse.urlencode(query)}",
        headers={"Authorization": f"Bearer {args.token}", "Accept": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        page: dict[str, Any] = json.load(response)
    return page


# What to do about each refusal the feed can answer with (one line, the fix included).
FIXES = {
    401: "the token was refused (expired, or signed with another key): mint a new one with "
    "`continuum token --role integrator --sub YOUR-ID` and pass it as --token",
    403: "this token's role may not read the feed: it needs the integrator, auditor or admin role",
    422: "the server rejected a parameter (see its detail above): check --types and --program-id",
}


class FeedUnavailable(Exception):
    """The feed could not be read: one line saying why and what to do."""


def fetch_or_explain(args: argparse.Namespace, after: int) -> dict[str, Any]:
    """fetch_page, with each HTTP refusal or network failure turned into FeedUnavailable."""
    try:
        return fetch_page(args, after)
    except urllib.error.HTTPError as error:
        detail = ""
        with contextlib.suppress(ValueError, AttributeError):
            detail = str(json.load(error).get("detail", ""))
        fix = FIXES.get(error.code, "see the server's log for the request id")
        said = f" ({detail})" if detail else ""
        raise FeedUnavailable(f"HTTP {error.code}{said}: {fix}") from None
    except urllib.error.URLError as error:
        raise FeedUnavailable(
            f"cannot reach {args.url} ({error.reason}): is `continuum serve` running, and "
            "--url right?"
        ) from None


def handle(event: dict[str, Any]) -> None:
    """Replace with your processing; it must tolerate seeing an event id again after a crash."""
    print(
        f"{event['position']}\t{event['time']}\t{event['type']}\t{event['subject']}\t{event['id']}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("CONTINUUM_URL", "http://127.0.0.1:8000"),
        help="the service (CONTINUUM_URL)",
    )
    parser.add_argument(
        "--token", help="a bearer token (default: CONTINUUM_TOKEN from the environment)"
    )
    parser.add_argument(
        "--checkpoint", type=Path, default=Path("feed.position"), help="the position file"
    )
    parser.add_argument("--limit", type=int, default=1000, help="events per page")
    parser.add_argument("--types", help="comma-separated event types")
    parser.add_argument("--program-id", help="one program's events only")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds to wait when caught up")
    parser.add_argument("--once", action="store_true", help="exit once caught up")
    args = parser.parse_args()
    args.token = args.token or os.environ.get("CONTINUUM_TOKEN")
    if not args.token:
        parser.error("a token is required: --token or CONTINUUM_TOKEN")

    after = read_checkpoint(args.checkpoint)
    while True:
        page = fetch_or_explain(args, after)
        for event in page["events"]:
            handle(event)
        if page["next_after"] != after:
            after = page["next_after"]
            save_checkpoint(args.checkpoint, after)
            continue  # more may follow at once
        if args.once:
            return 0
        time.sleep(args.poll)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
    except FeedUnavailable as failure:
        print(f"consume-feed: {failure}", file=sys.stderr)
        sys.exit(1)
