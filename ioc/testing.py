"""The conformance suite every connector passes, built-in or a plugin's: inherit it in a test class.

A plugin's tests say which connector they test, set up a source of their own holding good records
and one malformed record, and inherit every check::

    import pytest
    from ioc.testing import ConformanceCase, ConnectorConformance

    class TestHello(ConnectorConformance):
        name = "hello"  # the entry-point name in the ioc.connectors group

        @pytest.fixture
        def case(self, tmp_path, request):
            source = start_a_fake_source(tmp_path)  # one good record and one malformed one
            request.addfinalizer(source.close)
            return ConformanceCase({"url": source.url}, good=1, bad="ma_dvhc", personal=("0912345678",))

The checks: the connector is an installed entry point; a bad setting or an unknown key is refused
naming ``connectors.<name>.<key>`` (a connector whose records carry unit codes has the ``coding``
settings of :class:`ioc.connector.Coding`, and refuses a bad one); ``check()`` reaches the source
and says what it found; a read yields the good records in the feed's schema and turns the
malformed one into a dead letter with its reason; the cursor round-trips (a second read from it
reads nothing again); through the runner, the records land in the feed's stream with the feed's
schema, the cursor and health are kept, and nothing personal the source sent is stored anywhere
in Redis, dead letters included.

A connector the source pushes to (a webhook) sets ``pushed = True`` and overrides :meth:`push`.
The fixtures ``connector_units``, ``connector_redis`` and ``connector_secrets`` have defaults (the
units counted: the project's pre-2025 ones; a private ``redis-server`` per class; no secrets) a test
may override: the connector's ``Context`` carries the units the deployment counts in, and a
record's unit code is checked in its own scheme against them (docs/coding.md).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, cast

import httpx
import pytest
import redis

from ioc import keys
from ioc.config import PROJECT_ROOT, ConfigError
from ioc.connector import Batch, Connector, Context, configure, discover
from ioc.feeds import FEED_SPECS
from ioc.redis_server import EmbeddedRedis
from ioc.runner import ConnectorRunner
from ioc.streams import FIELD_BATCH, decode_frame, read_cursor
from ioc.units import UnitTable

SOURCE = "ioc.toml"  # the file the configuration errors name
Entries = list[tuple[bytes, dict[bytes, bytes]]]


@dataclass(frozen=True)
class ConformanceCase:
    """A connector's table pointing at a source set up for the test, and what a read must give."""

    table: dict[str, Any]  # the ``[connectors.<name>]`` table
    good: int  # records the first read yields
    bad: str  # a fragment of the malformed record's dead-letter reason
    personal: tuple[str, ...] = ()  # personal values the source sent: stored nowhere
    extra: dict[str, Any] = field(default_factory=dict)  # anything a push needs (a body, headers)
    # the connector's clock, for a source whose answers depend on the date (None: the real one)
    clock: Callable[[], datetime] | None = None


class ConnectorConformance:
    """The checks every connector passes; a subclass sets ``name`` and a ``case`` fixture."""

    name: ClassVar[str] = ""
    pushed: ClassVar[bool] = False  # records arrive through ``listen``, not ``poll``

    # ---- fixtures a subclass provides or may override ------------------------------------

    @pytest.fixture
    def case(self) -> ConformanceCase:
        raise NotImplementedError("a conformance test class defines a `case` fixture")

    @pytest.fixture
    def connector_units(self) -> UnitTable:
        return UnitTable.load(PROJECT_ROOT / "geodata", "pre2025")

    @pytest.fixture
    def connector_secrets(self) -> Mapping[str, str]:
        return {}

    @pytest.fixture(scope="class")
    def _private_redis(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedRedis]:
        with EmbeddedRedis(tmp_path_factory.mktemp("conformance-redis"), aof=False) as server:
            yield server

    @pytest.fixture
    def connector_redis(self, _private_redis: EmbeddedRedis) -> Iterator[redis.Redis]:
        client = redis.Redis.from_url(_private_redis.url)
        client.flushdb()
        yield client
        client.close()

    @pytest.fixture
    def connector(
        self, case: ConformanceCase, connector_units: UnitTable, connector_secrets: Mapping[str, str]
    ) -> Iterator[Connector]:
        registry = discover()
        config = configure(self.name, case.table, source=SOURCE, registry=registry)
        with httpx.Client() as http:
            context = Context(units=connector_units, http=http, secrets=connector_secrets, name=self.name)
            if case.clock is not None:
                context.clock = case.clock
            yield registry[self.name](config, context=context)

    # ---- how records reach the connector --------------------------------------------------

    def push(self, connector: Any, case: ConformanceCase, accept: Any) -> None:
        """Have the source push its records to ``connector.listen(accept)``: a pushed connector's
        test class says how (a signed POST, ...)."""
        raise NotImplementedError("a pushed connector's test class defines push()")

    def read(self, connector: Any, case: ConformanceCase) -> Batch:
        """The first batch the connector yields: a poll, or what one push delivers."""
        if not self.pushed:
            batch: Batch = connector.poll(None)
            return batch
        batches: list[Batch] = []
        self.push(connector, case, batches.append)
        assert len(batches) == 1, f"one push delivered {len(batches)} batches"
        return batches[0]

    def run(self, connector: Any, case: ConformanceCase, client: redis.Redis) -> ConnectorRunner:
        """The connector under the real runner against ``client``: one poll, or one push."""
        runner = ConnectorRunner(client, connector, interval_s=1, name=self.name)
        if self.pushed:
            self.push(connector, case, runner.publish_pushed)
        else:
            runner.run_once()
        return runner

    # ---- the checks ------------------------------------------------------------------------

    def test_is_an_installed_entry_point(self) -> None:
        assert self.name in discover(), f"{self.name!r} is not in the ioc.connectors entry points"

    def test_a_bad_value_is_refused_naming_its_key(self, case: ConformanceCase) -> None:
        """``interval_s`` (the runner's pause between polls) must be positive."""
        with pytest.raises(ConfigError, match=rf"^{SOURCE}: connectors\.{self.name}\.interval_s: "):
            configure(self.name, {**case.table, "interval_s": -1}, source=SOURCE, registry=discover())

    def test_an_unknown_key_is_refused_naming_it(self, case: ConformanceCase) -> None:
        """A misspelt key is an error, not a setting silently left at its default."""
        table = {**case.table, "no_such_setting": 1}
        with pytest.raises(ConfigError, match=rf"^{SOURCE}: connectors\.{self.name}\.no_such_setting: "):
            configure(self.name, table, source=SOURCE, registry=discover())

    def test_a_bad_coding_is_refused_naming_its_key(self, case: ConformanceCase) -> None:
        """A connector of a feed with unit codes says in which scheme its source codes them."""
        config = discover()[self.name].Config
        if "coding" not in config.model_fields:
            pytest.skip(f"{self.name}: its records carry no unit codes")
        with pytest.raises(ConfigError, match=rf"^{SOURCE}: connectors\.{self.name}\.coding: "):
            configure(self.name, {**case.table, "coding": "1999"}, source=SOURCE, registry=discover())

    def test_check_reaches_the_source_and_says_what_it_found(self, connector: Connector) -> None:
        said = connector.check()
        assert isinstance(said, str) and said.strip(), f"check() said {said!r}"

    def test_a_read_gives_the_good_records_and_dead_letters_the_bad(
        self, connector: Connector, case: ConformanceCase
    ) -> None:
        batch = self.read(connector, case)
        assert batch.records.height == case.good
        assert batch.records.schema == FEED_SPECS[connector.feed].schema
        reasons = [d.reason for d in batch.dead_letters]
        assert any(case.bad in reason for reason in reasons), reasons

    def test_the_cursor_round_trips(self, connector: Connector, case: ConformanceCase) -> None:
        """A second poll from the cursor reads nothing again (a pushed connector's poll is only a
        heartbeat that reads no source)."""
        batch = self.read(connector, case)
        again = connector.poll(batch.cursor)
        assert again.records.height == 0
        if self.pushed:
            assert not again.reached_source
        else:
            assert again.cursor is not None

    def test_records_land_in_the_feeds_stream_with_its_schema(
        self, connector: Connector, case: ConformanceCase, connector_redis: redis.Redis
    ) -> None:
        runner = self.run(connector, case, connector_redis)
        feed = connector.feed
        entries = cast(Entries, connector_redis.xrange(keys.raw_stream(feed)))
        frames = [decode_frame(fields[FIELD_BATCH]) for _id, fields in entries]
        assert sum(f.height for f in frames) == case.good
        assert all(f.schema == FEED_SPECS[feed].schema for f in frames)
        health = cast(dict[bytes, bytes], connector_redis.hgetall(keys.connector_health(feed, runner.name)))
        assert health[b"records"] == str(case.good).encode() and b"last_success_at" in health
        if not self.pushed:
            assert read_cursor(connector_redis, feed, runner.name) is not None

    def test_bad_records_are_dead_letters_and_nothing_personal_is_stored(
        self, connector: Connector, case: ConformanceCase, connector_redis: redis.Redis
    ) -> None:
        self.run(connector, case, connector_redis)
        letters = cast(Entries, connector_redis.xrange(keys.dead_letters(connector.feed)))
        reasons = [fields[b"reason"].decode() for _id, fields in letters]
        assert any(case.bad in reason for reason in reasons), reasons
        stored = everything(connector_redis)
        kept = [value for value in case.personal if value in stored]
        assert kept == [], f"personal data stored in Redis: {kept}"


# ---- what Redis holds, as text ----------------------------------------------------------------


def _text(value: Any) -> str:
    if value.startswith((b"ARROW1", b"\xff\xff\xff\xff")):  # Arrow IPC, file or stream format
        frame = decode_frame(value)
        # and every byte of its buffers, uncompressed: a filtered frame's string buffers can still
        # hold the values of the rows removed, which the rows themselves no longer show
        raw = io.BytesIO()
        frame.write_ipc_stream(raw)
        return frame.write_csv() + raw.getvalue().decode("utf-8", errors="replace")
    return str(value.decode("utf-8", errors="replace"))


def text_of(client: Any, key: bytes) -> str:
    """One key's name and content as text (Arrow IPC blobs, which LZ4 compresses, decoded)."""
    kind = client.type(key).decode()
    parts = [key.decode()]
    if kind == "string":
        parts.append(_text(client.get(key)))
    elif kind == "hash":
        parts += [_text(k) + "=" + _text(v) for k, v in client.hgetall(key).items()]
    elif kind == "stream":
        for _id, fields in client.xrange(key):
            parts += [_text(k) + "=" + _text(v) for k, v in fields.items()]
    elif kind == "zset":
        parts += [_text(m) for m in client.zrange(key, 0, -1)]
    elif kind in ("list", "set"):
        members = client.lrange(key, 0, -1) if kind == "list" else client.smembers(key)
        parts += [_text(m) for m in members]
    return "\n".join(parts)


def everything(client: Any) -> str:
    """Everything a Redis database holds, as text: what privacy checks search for personal data."""
    return "\n".join(text_of(client, key) for key in client.scan_iter("*", count=1000))


__all__ = ["ConformanceCase", "ConnectorConformance", "everything", "text_of"]
