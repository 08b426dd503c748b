"""The HTTP bench counts the load generator's connections per server worker from `ss`."""

from __future__ import annotations

from api.bench.connections import per_process

SS_OUTPUT = """\
0 0 127.0.0.1:41000 127.0.0.1:50001 users:(("python",pid=101,fd=21))
0 0 127.0.0.1:41000 127.0.0.1:50002 users:(("python",pid=102,fd=20))
0 0 127.0.0.1:41000 127.0.0.1:50003 users:(("python",pid=101,fd=22))
0 0 127.0.0.1:41000 127.0.0.1:50004 users:(("python",pid=101,fd=23))
0 0 127.0.0.1:41000 127.0.0.1:50005
"""


def test_connections_are_counted_per_process_largest_first() -> None:
    """Three connections on one worker and one on the other read as [3, 1]; a line without
    a process (not ours to see) is not counted."""
    assert per_process(SS_OUTPUT) == [3, 1]


def test_no_connections_is_an_empty_split() -> None:
    assert per_process("") == []
