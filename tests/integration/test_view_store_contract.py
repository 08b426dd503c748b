"""The ViewStore contract, run against every backend by subclassing (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from eventsourcing.persistence import IntegrityError

from api.bootstrap import Service, open_service, open_url
from api.settings import Settings
from api.storage.cipher import create_cipher_key
from api.storage.sealed_views import SealedViewStore
from projections.view_store import ViewRow, ViewStore

SEALING_KEY = create_cipher_key()


def row(pid: str, *, program: str = "p1", status: str = "active", level: str = "2.1") -> ViewRow:
    return ViewRow(pid, program, status, level, f'{{"state":"{pid}-{level}"}}')


class ViewStoreContract:
    """What every ViewStore must do; subclasses provide the `store_url` fixture."""

    @pytest.fixture
    def service(self, store_url: str) -> Iterator[Service]:
        with open_url(store_url) as service:
            yield service

    @pytest.fixture
    def store(self, service: Service) -> ViewStore:
        return service.view_store("contract_views")

    @pytest.fixture
    def fresh(self, service: Service) -> ViewStore:
        return service.view_store("contract_views_next")

    def test_starts_empty_at_position_zero(self, store: ViewStore) -> None:
        """Given fresh tables, then the position is 0 and there are no rows."""
        assert store.position() == 0
        assert list(store.all_rows()) == []

    def test_commit_writes_rows_and_position_together(self, store: ViewStore) -> None:
        """When rows are committed at position 5, then both the rows and the position read back."""
        store.commit([row("a"), row("b")], 5)

        assert store.position() == 5
        assert store.get("a") == row("a")
        assert set(store.load(["a", "b", "zz"])) == {"a", "b"}

    def test_commit_upserts_a_row(self, store: ViewStore) -> None:
        """Given a row, when a later commit carries the same participant, then it replaces it."""
        store.commit([row("a")], 1)
        store.commit([row("a", level="1", status="discharged")], 2)

        assert store.get("a") == row("a", level="1", status="discharged")
        assert len(list(store.all_rows())) == 1

    def test_tracking_never_moves_back_and_a_failed_commit_leaves_nothing(
        self, store: ViewStore
    ) -> None:
        """Given position 10, when a commit at 7 (or again at 10) is attempted, then it fails,
        and neither its rows nor its position are stored: rows and tracking are atomic."""
        store.commit([row("a")], 10)

        for stale in (7, 10):
            with pytest.raises(IntegrityError):
                store.commit([row("a", level="3.5"), row("new")], stale)

        assert store.position() == 10
        assert store.get("a") == row("a")
        assert store.get("new") is None

    def test_select_filters_by_program_level_and_status(self, store: ViewStore) -> None:
        """Given rows in two programs, levels and statuses, then select filters on each and
        returns rows in participant-id order."""
        store.commit(
            [
                row("c", program="p1", level="2.1"),
                row("a", program="p1", level="2.5"),
                row("b", program="p2", level="2.1"),
                row("d", program="p1", level="2.1", status="discharged"),
            ],
            4,
        )

        def ids(rows: list[ViewRow]) -> list[str]:
            return [r.participant_id for r in rows]

        assert ids(store.select()) == ["a", "b", "c", "d"]
        assert ids(store.select(program_ids=["p1"])) == ["a", "c", "d"]
        assert ids(store.select(program_ids=["p1", "p2"], level="2.1")) == ["b", "c", "d"]
        assert ids(store.select(status="discharged")) == ["d"]
        assert ids(store.select(program_ids=[])) == []

    def test_digest_is_equal_for_equal_content_and_differs_otherwise(
        self, store: ViewStore
    ) -> None:
        """Given the same rows committed in a different order and batches, then the digest is
        the same; a different row or a different position changes it."""
        store.commit([row("b"), row("a")], 3)
        first = store.digest()
        store.drop_tables()
        store.commit([row("a")], 1)
        store.commit([row("b")], 3)
        assert store.digest() == first

        store.commit([row("b", level="1")], 4)
        assert store.digest() != first

    def test_drop_tables_forgets_rows_and_position(self, store: ViewStore) -> None:
        """When the tables are dropped (a rebuild starts), then position and rows are gone."""
        store.commit([row("a")], 9)
        store.drop_tables()

        assert store.position() == 0
        assert store.get("a") is None

    def test_a_commit_from_a_position_no_longer_tracked_fails(self, store: ViewStore) -> None:
        """Given position 5, when rows folded from position 3 are committed (another runner or
        a switch moved the view meanwhile), then the commit fails and stores nothing."""
        store.commit([row("a")], 5)

        with pytest.raises(IntegrityError):
            store.commit([row("a", level="3.5")], 8, 3)

        assert store.position() == 5 and store.get("a") == row("a")
        store.commit([row("a", level="3.5")], 8, 5)
        assert store.position() == 8

    def test_a_replacement_switches_only_when_it_has_caught_up(
        self, store: ViewStore, fresh: ViewStore
    ) -> None:
        """Given live views at 6 and fresh ones at 4, then replace_with refuses and changes
        nothing; once the fresh ones reach 7, it switches rows and position together, and the
        fresh tables can be made again."""
        store.commit([row("a"), row("old")], 6)
        fresh.commit([row("a", level="1")], 4)

        assert not store.replace_with(fresh)
        assert store.position() == 6 and store.get("old") == row("old")

        fresh.commit([row("a", level="3.5")], 7)
        assert store.replace_with(fresh)

        assert store.position() == 7
        assert list(store.all_rows()) == [row("a", level="3.5")]
        store.commit([row("b")], 9, 7)
        assert store.get("b") == row("b")


class PartitionContract:
    """Partitions of a view: SQL stores (the in-memory one is kept by one process)."""

    def test_a_partitioned_view_is_at_its_lowest_partition_once_all_have_one(
        self, store: ViewStore
    ) -> None:
        """Given partitions 0/2 at 5 (1/2 untracked), then the view is partitioned at 0; once
        1/2 is at 3 the view is at 3; adopting at 5 makes it one view at 5 again."""
        store.partition(0, 2).commit([row("a")], 5)
        assert store.partitioned() and store.position() == 0
        store.partition(1, 2).commit([row("b")], 3)
        assert store.position() == 3
        assert store.partition(1, 2).position() == 3
        assert set(store.partition_positions()) == {"contract_views#0/2", "contract_views#1/2"}

        store.partition(1, 2).commit([], 5)
        store.adopt_partitions(5)

        assert not store.partitioned() and store.position() == 5
        assert store.partition_positions() == {}
        assert [r.participant_id for r in store.all_rows()] == ["a", "b"]

    def test_dropping_the_tables_forgets_the_partitions_too(self, store: ViewStore) -> None:
        store.partition(0, 3).commit([row("a")], 2)
        store.drop_tables()
        assert store.partition_positions() == {} and store.position() == 0


class TestMemoryViewStore(ViewStoreContract):
    @pytest.fixture
    def store_url(self) -> str:
        return "memory://"


class TestSQLiteViewStore(ViewStoreContract, PartitionContract):
    @pytest.fixture
    def store_url(self, sqlite_url: str) -> str:
        return sqlite_url


class TestPostgresViewStore(ViewStoreContract, PartitionContract):
    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        return postgres_url


class SealedContract:
    """The same contract through SealedViewStore: what a keyed store's views are."""

    @pytest.fixture
    def service(self, store_url: str) -> Iterator[Service]:
        with open_service(Settings(database_url=store_url, cipher_key=SEALING_KEY)) as service:
            yield service

    def test_rows_are_sealed_in_the_table(self, store: ViewStore) -> None:
        """A committed row reads back whole, while the table beneath holds only tags and a
        sealed state."""
        assert isinstance(store, SealedViewStore)
        store.commit([row("a", program="harbor-php")], 1)
        raw = store.inner.get("a")
        assert raw is not None and "harbor" not in repr(raw) and "2.1" not in repr(raw)
        assert store.get("a") == row("a", program="harbor-php")


class TestSealedSQLiteViewStore(SealedContract, ViewStoreContract, PartitionContract):
    @pytest.fixture
    def store_url(self, sqlite_url: str) -> str:
        return sqlite_url


class TestSealedPostgresViewStore(SealedContract, ViewStoreContract, PartitionContract):
    @pytest.fixture
    def store_url(self, postgres_url: str) -> str:
        return postgres_url
