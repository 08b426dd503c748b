"""The bench reads wrk's --latency report: requests, rate, errors and percentiles in ms."""

from __future__ import annotations

import pytest

from api.bench.wrk import parse

REPORT = """Running 8s test @ http://127.0.0.1:57001/v1/participants/x/timeline
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    29.93ms    8.70ms    1.20s    81.91%
    Req/Sec   267.90     43.87   370.00     66.88%
  Latency Distribution
     50%  850.00us
     75%   34.28ms
     90%   39.90ms
     99%    1.02s
  4272 requests in 8.01s, 0.95GB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:    533.24
Transfer/sec:    121.02MB
"""


def test_a_report_becomes_the_load_generators_json() -> None:
    assert parse(REPORT, 8.0, 16) == {
        "tool": "wrk", "clients": 16, "seconds": 8.0, "requests": 4272, "errors": 7,
        "requests_per_s": 533.2, "p50_ms": 0.85, "p99_ms": 1020.0,
    }  # fmt: skip


def test_a_report_without_a_rate_is_refused() -> None:
    with pytest.raises(RuntimeError, match="unexpected wrk output"):
        parse("unable to connect to 127.0.0.1:1 Connection refused", 8.0, 16)
