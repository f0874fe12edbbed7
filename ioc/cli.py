"""Command line: ``ioc run`` (everything), or one component: web, aggregate, connector, simulate.

``uv run app.py`` is ``ioc run``. A configuration mistake prints one clear message and exits 2.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis

from ioc.config import ConfigError, Settings, SimulatorSettings, load_settings
from ioc.connector import (
    Connector,
    Context,
    SourceError,
    configure,
    connector_names,
    connector_tables,
    connector_type,
    discover,
)
from ioc.privacy import RedactingFilter
from ioc.registry import FEEDS, Simulator, load, simulated
from ioc.store import connect, connect_async
from ioc.units import UnitTable

log = logging.getLogger("ioc")


def _redis_url(settings: Settings) -> str:
    if not settings.redis.url:
        raise ConfigError("redis.url: not set (only `ioc run` starts an embedded Redis)")
    return settings.redis.url


def _client(settings: Settings) -> redis.Redis:
    return connect(settings.redis)


def _on_stop(close: Callable[[], None]) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: close())


def _units(settings: Settings) -> UnitTable:
    return UnitTable.configured(settings.boundaries)


def _secrets(settings: Settings) -> dict[str, str]:
    """What connectors may ask for by name: the environment (a connector's `token_env` or
    `webhook_secret_env` names a variable of its own; each webhook has IOC_WEBHOOK_SECRET_<NAME>)."""
    found = {"IOC_PSEUDONYM_KEY": settings.pseudonym_key, "IOC_WEBHOOK_SECRET": settings.webhook_secret}
    return dict(os.environ) | {k: v.get_secret_value() for k, v in found.items() if v is not None}


def _connector(settings: Settings, name: str, source: str) -> tuple[Connector, Any]:
    registry = discover()
    tables = connector_tables(settings)
    if name not in tables:
        raise ConfigError(f"{source}: connectors.{name}: not configured")
    config = configure(name, tables[name], source=source, registry=registry)
    context = Context(  # each connector checks its records' codes against the units counted
        units=_units(settings),
        http=httpx.Client(),
        geodata=settings.boundaries.directory,
        secrets=_secrets(settings),
        name=name,
    )
    kind = connector_type(name, tables[name])
    return registry[kind](config, context=context), config


def cmd_run(settings: Settings, args: argparse.Namespace) -> int:
    from ioc.supervisor import Supervisor

    Supervisor(settings, config_path=args.config).run()
    return 0


def cmd_web(settings: Settings, args: argparse.Namespace) -> int:
    from ioc.web import create_app
    from ioc.webserver import serve

    serve(settings, lambda: create_app(settings, _client(settings)))
    return 0


def cmd_aggregate(settings: Settings, args: argparse.Namespace) -> int:
    from ioc.aggregate import Aggregator
    from ioc.alerts import Alerts
    from ioc.feeds import FEED_SPECS
    from ioc.history import HistoryWriter

    if args.feed not in FEED_SPECS:
        raise ConfigError(f"no aggregator for feed {args.feed!r}; feeds: {', '.join(FEED_SPECS)}")
    units = _units(settings)
    from ioc.alert_rules import RuleBook
    from ioc.silences import Silences

    rules = {name: rule for name, rule in settings.alerts.items() if rule.feed == args.feed}
    client = _client(settings)
    book = RuleBook(client, settings.alerts, units)  # and the rules saved on the rules page
    silences = Silences(client, units)
    worker = Aggregator(
        client,
        FEED_SPECS[args.feed],
        units,
        settings.aggregator,
        dead_maxlen=settings.redis.dead_letter_maxlen,
        alerts=Alerts(
            args.feed,
            rules,
            units,
            connector_names(settings).get(args.feed, []),
            book=book,
            silences=silences,
        ),
        history=HistoryWriter(
            settings.history.folder(settings.data_dir),
            args.feed,
            settings.history.hourly_days,
            settings.history.daily_days,
        )
        if settings.history.enabled
        else None,
    )
    _on_stop(worker.close)
    try:
        worker.run()
    finally:
        worker.release()
    return 0


def cmd_connector(settings: Settings, args: argparse.Namespace) -> int:
    from ioc.runner import ConnectorRunner

    connector, config = _connector(settings, args.name, args.config or "environment")
    runner = ConnectorRunner(
        _client(settings),
        connector,
        interval_s=config.interval_s,
        maxlen=settings.redis.stream_maxlen,
        dead_maxlen=settings.redis.dead_letter_maxlen,
        name=args.name,
    )
    _on_stop(runner.close)
    runner.run()
    return 0


def secret_key(settings: Settings) -> str:
    if settings.secret_key is None:
        raise ConfigError(
            "IOC_SECRET_KEY: not set; the relay's tokens need a secret (only the demo makes one)"
        )
    return settings.secret_key.get_secret_value()


def cmd_deliver(settings: Settings, args: argparse.Namespace) -> int:
    """Send the alerts to the contact points of ``[delivery]`` until stopped."""
    import threading

    from ioc.alert_rules import RuleBook
    from ioc.deliver import Delivery
    from ioc.senders import senders_of
    from ioc.silences import Silences
    from layouts.alert_messages import compose

    wanted = settings.delivery
    if not wanted.routes:
        raise ConfigError("deliver: no [delivery.routes]: nothing to send (see the README, 'Alert delivery')")
    environment = dict(os.environ)
    needed = [wanted.secret_name(n) for n, p in wanted.contact_points.items() if p.kind == "webhook"]
    if wanted.smtp is not None and wanted.smtp.username:
        needed.append(wanted.smtp.password_env)
    for name in needed:
        if not environment.get(name):
            raise ConfigError(f"{name}: not set; alert delivery needs it (see [delivery])")
    units, client = _units(settings), _client(settings)
    worker = Delivery(
        client,
        wanted,
        units,
        RuleBook(client, settings.alerts, units),
        senders_of(wanted, environment),
        feeds=sorted(set(connector_names(settings)) | {r.feed for r in settings.alerts.values()}),
        k=settings.public.k,
        compose=compose,  # the words: the pages' own (layouts), handed in
        silences=Silences(client, units),
    )
    worker.ensure_groups()
    stop = threading.Event()
    _on_stop(stop.set)
    log.info("delivering alerts to %s", ", ".join(sorted(wanted.contact_points)))
    while not stop.is_set():
        worker.step()
    return 0


def cmd_brief(settings: Settings, args: argparse.Namespace) -> int:
    """Make the morning briefings: each day's at ``briefing.at``, and those asked for."""
    from ioc.briefings import briefer

    worker = briefer(settings, _client(settings))
    if args.unit:
        made = worker.make(args.unit, datetime.now(UTC), "asked", "cli")
        print(worker.archive.file(made, "pdf"))
        return 0
    stop = threading.Event()
    _on_stop(stop.set)
    wanted = settings.briefing
    printer = worker.printer.chromium
    log.info("briefings at %s (%s), printed by %s", wanted.at, ", ".join(wanted.levels), printer)
    worker.run(stop)
    return 0


def cmd_relay(settings: Settings, args: argparse.Namespace) -> int:
    import asyncio

    from ioc.realtime import Relay

    _redis_url(settings)

    async def main() -> None:
        client = connect_async(settings.redis)
        relay = Relay(
            client,
            connector_names(settings),
            set(_units(settings).codes),
            secret_key(settings),
            settings.realtime,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, relay.close)
        try:
            await relay.run(host=settings.realtime.host, port=settings.realtime.port)
        finally:
            await client.aclose()

    asyncio.run(main())
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    connector, _config = _connector(settings, args.name, args.config or "environment")
    try:
        print(f"{args.name}: ok: {connector.check()}")
    except SourceError as exc:
        print(f"{args.name}: cannot read the source: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_connectors(settings: Settings, args: argparse.Namespace) -> int:
    """Installed plugins, then the configured instances and the feed each one feeds."""
    print("installed (entry-point group ioc.connectors):")
    for name, cls in sorted(discover().items()):
        print(f"  {name}\tfeed={cls.feed or '(configured)'}\t{cls.__module__}.{cls.__qualname__}")
    print("configured:")
    for feed, names in connector_names(settings).items():
        for name in names:
            kind = connector_type(name, connector_tables(settings)[name])
            print(f"  {name}\ttype={kind}\tfeed={feed}")
    return 0


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> int:
    from ioc.simulators.http import SimulatorServer

    simulator = FEEDS[args.feed].simulator if args.feed in FEEDS else None
    if simulator is None:
        raise ConfigError(f"no simulator for feed {args.feed!r}; simulators: {', '.join(simulated())}")
    sim = settings.simulators.get(args.feed) or SimulatorSettings()
    if simulator.folder:
        return _simulate_files(settings, sim, simulator, args)
    anchor = datetime.fromisoformat(args.anchor) if args.anchor else None
    world = _simulated_source(settings, sim, simulator, anchor=anchor)
    server = SimulatorServer({simulator.path: world}, host=sim.host, port=args.port or sim.port)
    closers: list[Callable[[], None]] = [lambda: server.httpd.shutdown()]
    if args.push_url:
        from ioc.signatures import webhook_secret
        from ioc.simulators.vaccination import Pusher

        # It pushes to the feed's own connector, and signs with that connector's own secret.
        hook = settings.connectors.get(args.feed, {}).get("webhook_secret_env")
        secret = webhook_secret(args.feed, hook, _secrets(settings))
        pusher = Pusher(world, args.push_url, secret, interval_s=sim.push_s)
        closers.append(pusher.start().close)
        log.info("simulator %s pushing to %s every %.0f s", args.feed, args.push_url, sim.push_s)

    # shutdown() waits for serve_forever(), which runs in this (the signal-handling) thread.
    def stop() -> None:
        for close in closers:
            threading.Thread(target=close, daemon=True).start()

    _on_stop(stop)
    log.info("simulator %s serving %s%s", args.feed, server.url, simulator.path)
    print(server.url, flush=True)
    server.run()
    return 0


def _simulated_source(
    settings: Settings,
    sim: SimulatorSettings,
    simulator: Simulator,
    *,
    anchor: datetime | None = None,
    directory: Path | None = None,
) -> Any:
    """The simulated source ``simulator`` describes, with its ``[simulators.<feed>]`` settings."""
    # The simulated sources draw from the units counted: pre-2025 codes with the pre-2025 units
    # (FEEDS.md), by date with the 2025 ones, as the demo's connectors read them (demo_connector).
    given = {
        "units": _units(settings),
        "geodata": settings.boundaries.directory,
        "anchor": anchor,
        "directory": directory,
    }
    arguments = {
        name: given[what] if what in given else getattr(sim, what)
        for name, what in simulator.arguments.items()
    }
    return load(simulator.source)(**arguments)


def _simulate_files(
    settings: Settings, sim: SimulatorSettings, simulator: Simulator, args: argparse.Namespace
) -> int:
    if not args.dir:
        raise ConfigError(f"simulate {args.feed}: --dir (the drop folder to write into) is required")
    writer = _simulated_source(settings, sim, simulator, directory=Path(args.dir))
    _on_stop(writer.close)
    log.info("simulator %s writing into %s", args.feed, args.dir)
    writer.run()
    return 0


def cmd_user(settings: Settings, args: argparse.Namespace) -> int:
    """Add, replace or remove a local account; the password is asked for (or read from stdin).
    Replacing or removing one ends its sessions (web and relay) when Redis is configured."""
    import getpass

    from ioc import accounts

    path = Path(args.file or settings.auth.users_file or "")
    if not str(path) or str(path) == ".":
        raise ConfigError(
            f"user {args.action}: which file? --file FILE, or auth.users_file in the configuration"
        )
    if args.action == "remove":
        if not accounts.remove(path, args.login):
            raise ConfigError(f"user remove: {path}: no account {args.login!r}")
        print(f"{path}: {args.login} removed; {_end_sessions(settings, args.login, 'account_removed')}")
        return 0
    if args.role is None:
        raise ConfigError("user add: --role is required (leader, officer or admin)")
    table = _units(settings)
    try:
        new = not accounts.exists(path, args.login)
        accounts.check(args.login, args.role, args.unit or [], args.name or "", table, new=new)
    except accounts.AccountError as exc:
        flag = {"login": "LOGIN", "units": "--unit"}.get(exc.field, f"--{exc.field}")
        raise ConfigError(f"user add: {flag}: {str(exc).partition(': ')[2]}") from None
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Mật khẩu: ")
    try:
        existed = accounts.add(
            path,
            table,
            args.login,
            role=args.role,
            units=args.unit or [],
            name=args.name or "",
            password=password,
        )
    except accounts.AccountError as exc:
        raise ConfigError(f"user add: {exc}") from None
    ended = f"; {_end_sessions(settings, args.login, 'account_replaced')}" if existed else ""
    print(f"{path}: {args.login} ({args.role}) saved{ended}")
    return 0


def _end_sessions(settings: Settings, login: str, action: str) -> str:
    """End every session of a removed or replaced account, and record it; says what it did."""
    from ioc import audit, sessions

    if not settings.redis.url:  # the demo's embedded Redis: the web app ends them at their next request
        return "its sessions end at their next request (redis.url is not set, so not at once)"
    client = _client(settings)
    try:
        count = sessions.end_all(client, login)
        audit.record(
            client, settings.auth.audit_maxlen, action, "cli", "-", account=login, sessions=str(count)
        )
    finally:
        client.close()
    return f"{count} session(s) ended"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ioc", description="Tây Ninh IOC")
    p.add_argument("--config", help="TOML configuration file (default: $IOC_CONFIG, else the demo)")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="run everything (the demo without --config)").set_defaults(func=cmd_run)
    sub.add_parser("web", help="run the web app and KPI API").set_defaults(func=cmd_web)
    agg = sub.add_parser("aggregate", help="run the aggregator of one feed")
    agg.add_argument("feed")
    agg.set_defaults(func=cmd_aggregate)
    con = sub.add_parser("connector", help="run one configured connector alone")
    con.add_argument("name")
    con.set_defaults(func=cmd_connector)
    chk = sub.add_parser("check", help="reach a configured connector's source once")
    chk.add_argument("name")
    chk.set_defaults(func=cmd_check)
    sub.add_parser("connectors", help="list installed connectors").set_defaults(func=cmd_connectors)
    sub.add_parser("relay", help="run the realtime websocket relay").set_defaults(func=cmd_relay)
    brief = sub.add_parser("brief", help="make the morning briefings (daily, and those asked for)")
    brief.add_argument("--unit", help="make this unit's briefing now, print its PDF's path and stop")
    brief.set_defaults(func=cmd_brief)
    sub.add_parser("deliver", help="send alerts to the contact points of [delivery]").set_defaults(
        func=cmd_deliver
    )
    user = sub.add_parser(
        "user", help="local accounts: `user add LOGIN --role ROLE [--unit CODE]`, `user remove LOGIN`"
    )
    user.add_argument("action", choices=["add", "remove"])
    user.add_argument("login")
    user.add_argument("--role", choices=["leader", "officer", "admin"], help="add: the account's role")
    user.add_argument("--unit", action="append", help="officer: a district (or commune) code; repeatable")
    user.add_argument("--name", help="the person's name, as acknowledgements show it")
    user.add_argument("--file", help="the user file (default: auth.users_file)")
    user.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    user.set_defaults(func=cmd_user)
    sim = sub.add_parser("simulate", help="serve a simulated source")
    sim.add_argument("feed")
    sim.add_argument("--port", type=int, default=0)
    sim.add_argument("--anchor", help="ISO time the simulated world is drawn from (default: now)")
    sim.add_argument("--push-url", help="a pushing source (vaccination): also POST new records, signed, here")
    sim.add_argument("--dir", help="a source of files (mobile_data): the drop folder to write them into")
    sim.set_defaults(func=cmd_simulate)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command is None:
        args = parser().parse_args([*(argv or sys.argv[1:]), "run"])
    try:
        settings = load_settings(args.config)
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s [%(process)d]: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    try:
        return int(args.func(settings, args))
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
