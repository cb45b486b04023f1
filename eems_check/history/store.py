"""The history file: one SQLite database (standard library `sqlite3`) holding every recorded run of an organisation.

What it does: opens or creates the file (WAL journal, a busy timeout, foreign keys), checks that it is ours
(`PRAGMA application_id`) and not from a newer eems-check (`PRAGMA user_version` above `SCHEMA_VERSION`), applies
the migrations it lacks, appends a run in one transaction, reads runs back and prunes them.

What it must not do: evaluate, render or print. Every problem with the file is one `HistoryError` line naming it.

Layout (schema 1): `org`, `run` (one row per recorded run, with its counts), `server` (one row per server name of
an organisation), and per server and run one `server_run` row: its build (interned in `build`), worst severity, the
verdicts of the run's overview rules, which EEMS rule keeps it from receiving mitigations, the collection status,
its present findings (FAIL or UNKNOWN, interned in `finding` and `finding_set`) and the computed fix (`fix`: what to do,
NULL when nothing is needed). Interning keeps a year of weekly runs of 1,000 servers to a few megabytes.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import InputError
from ..model import (
    BuildInfo,
    Finding,
    Inventory,
    OrgInfo,
    Report,
    RunInfo,
    ServerRecord,
    ServerReport,
    Severity,
    Verdict,
)
from ..names import server_key

APPLICATION_ID = 0x45454D53  # "EEMS": marks a file as an eems-check history (`PRAGMA application_id`)
SCHEMA_VERSION = 1  # = len(MIGRATIONS); a new version appends its statements there
BUSY_TIMEOUT_S = 30.0  # another run holding the write lock: wait this long before giving up
PRESENT = (Verdict.FAIL, Verdict.UNKNOWN)

# One entry per schema version: the statements that bring a file from the version before to this one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE org (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,              -- the name, stripped and case-folded
            name TEXT NOT NULL)""",
        """CREATE TABLE run (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES org(id),
            generated_at TEXT NOT NULL,            -- UTC, YYYY-MM-DDTHH:MM:SSZ
            evaluated_on TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            origin TEXT NOT NULL,                  -- scan, evaluate or import
            source TEXT,                           -- the imported report, or the inventory's source
            tool_version TEXT NOT NULL,
            rules_version TEXT NOT NULL,
            rules_as_of TEXT NOT NULL,
            overview_rules TEXT NOT NULL,          -- JSON [[rule_id, label, is_eems], ...]
            servers INTEGER NOT NULL,
            cannot_receive INTEGER NOT NULL,
            by_reason TEXT NOT NULL,               -- JSON {rule_id: servers that cannot receive for it}
            undecided INTEGER NOT NULL,
            worst TEXT NOT NULL,
            UNIQUE (org_id, generated_at))""",
        """CREATE TABLE server (
            id INTEGER PRIMARY KEY,
            org_id INTEGER NOT NULL REFERENCES org(id),
            key TEXT NOT NULL,
            name TEXT NOT NULL,
            UNIQUE (org_id, key))""",
        """CREATE TABLE build (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL,                  -- '' when unknown
            name TEXT NOT NULL,
            precision TEXT NOT NULL,
            UNIQUE (number, name, precision))""",
        """CREATE TABLE finding (
            id INTEGER PRIMARY KEY,
            rule_id TEXT NOT NULL,
            category TEXT NOT NULL,
            title TEXT NOT NULL,
            verdict TEXT NOT NULL,
            severity TEXT NOT NULL,
            message TEXT NOT NULL,
            UNIQUE (rule_id, category, title, verdict, severity, message))""",
        """CREATE TABLE finding_set (
            id INTEGER PRIMARY KEY,
            members TEXT NOT NULL UNIQUE)          -- finding ids in report order, space-separated""",
        """CREATE TABLE server_run (
            run_id INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,
            server_id INTEGER NOT NULL REFERENCES server(id),
            build_id INTEGER NOT NULL REFERENCES build(id),
            worst TEXT NOT NULL,
            verdicts TEXT NOT NULL,                -- the overview rules' verdicts in run.overview_rules order
            blocked_by TEXT,                       -- the first EEMS rule that FAILs: cannot receive mitigations
            undecided INTEGER NOT NULL,            -- 1: no EEMS rule FAILs but one is UNKNOWN
            collection TEXT NOT NULL,
            findings INTEGER NOT NULL REFERENCES finding_set(id),
            fix TEXT,                              -- the computed fix (what to do), NULL when none is needed
            -- Carried from the server's previous row (times: Unix seconds of a run's generated_at):
            first_seen INTEGER NOT NULL,           -- its first recorded run
            stretch_since INTEGER,                 -- blocked: the first run of its present stretch of such runs
            stretch_runs INTEGER NOT NULL,         -- runs in that stretch (runs that could not decide: skipped)
            build_changed INTEGER,                 -- the run in which its build last changed (NULL: never seen to)
            PRIMARY KEY (run_id, server_id)) WITHOUT ROWID""",
        "CREATE INDEX server_run_by_server ON server_run (server_id, run_id)",
        "CREATE INDEX run_by_org ON run (org_id, generated_at)",
    ),
)


class HistoryError(InputError):
    """The history file cannot be used: not SQLite, not ours, from a newer eems-check, locked or unwritable."""


def org_key(name: str) -> str:
    return name.strip().casefold()


def utc_text(stamp: dt.datetime) -> str:
    if stamp.tzinfo is not None:
        stamp = stamp.astimezone(dt.timezone.utc)
    return stamp.replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def parse_utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.removesuffix("Z")).replace(tzinfo=dt.timezone.utc)


def eems_rules(report: Report) -> tuple[str, ...]:
    """The overview rules that decide whether EEMS can receive mitigations (as the mail summary decides them)."""
    return tuple(rule_id for rule_id, _ in report.eems_overview_rules)


def blocked_by(server: ServerReport, rules: Sequence[str]) -> str | None:
    """The first of `rules` that FAILs for `server`: the reason it cannot receive mitigations (None: it can, or
    the data does not decide)."""
    for rule_id in rules:
        f = server.finding(rule_id)
        if f is not None and f.verdict is Verdict.FAIL:
            return rule_id
    return None


def undecided(server: ServerReport, rules: Sequence[str]) -> bool:
    """Whether one of `rules` is UNKNOWN for `server` (the data does not decide whether it can receive)."""
    return any((f := server.finding(r)) is not None and f.verdict is Verdict.UNKNOWN for r in rules)


@dataclass(frozen=True)
class RunRow:
    """One recorded run, as `runs` returns it."""

    id: int
    org: str
    generated_at: dt.datetime
    evaluated_on: str
    origin: str
    source: str | None
    tool_version: str
    rules_version: str
    overview_rules: tuple[tuple[str, str, bool], ...]
    servers: int
    cannot_receive: int
    by_reason: dict[str, int]
    undecided: int
    worst: str

    @property
    def reasons(self) -> tuple[tuple[str, str], ...]:
        """(rule id, label) of the EEMS rules of this run, in overview order."""
        return tuple((r, label) for r, label, eems in self.overview_rules if eems)


class ServerFacts(NamedTuple):
    """One server in one run, with what its earlier rows say of it (times: Unix seconds)."""

    server_id: int
    name: str
    build_id: int
    blocked_by: str | None
    first_seen: int
    stretch_since: int | None  # set when it cannot receive mitigations in this run
    stretch_runs: int
    build_changed: int | None


@dataclass(frozen=True)
class BuildRow:
    number: str | None
    name: str
    precision: str | None

    @property
    def text(self) -> str:
        return self.name + (f" ({self.number})" if self.number and self.number not in self.name else "")


_RUN_COLUMNS = (
    "run.id, org.name, generated_at, evaluated_on, origin, source, tool_version, rules_version, overview_rules, "
    "servers, cannot_receive, by_reason, undecided, worst"
)


def _run_row(row: Sequence[Any]) -> RunRow:
    rules = tuple((str(r), str(label), bool(eems)) for r, label, eems in json.loads(row[8]))
    run_id, org, stamp, evaluated_on, origin, source, tool, rules_version = row[:8]
    servers, cannot, by_reason, unsure, worst = row[9:]
    return RunRow(run_id, org, parse_utc(stamp), evaluated_on, origin, source, tool, rules_version, rules, servers,
                  cannot, json.loads(by_reason), unsure, worst)  # fmt: skip


def epoch(stamp: dt.datetime) -> int:
    return int(stamp.timestamp())


def from_epoch(seconds: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc)


def same_build(a: BuildRow, b: BuildRow) -> bool | None:
    """Whether two builds are the same, at the precision both know (None: one of them is unknown)."""
    if a.number is None or b.number is None:
        return None
    x, y = a.number.split("."), b.number.split(".")
    if "cu" in (a.precision, b.precision):
        x, y = x[:3], y[:3]
    return x == y


class _Carried(NamedTuple):
    """What a server's row carries over from its previous row."""

    build_id: int
    blocked_by: str | None
    undecided: int
    first_seen: int
    stretch_since: int | None
    stretch_runs: int
    build_changed: int | None


class History:
    """An open history file. Use as a context manager; every write is one transaction."""

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _fail(self, exc: sqlite3.Error, doing: str) -> HistoryError:
        return HistoryError(f"{self.path}: cannot {doing}: {exc}")

    # --- writing ---------------------------------------------------------------------------------------------

    def append(self, report: Report, *, origin: str, source: str | None = None) -> RunRow | None:
        """Record `report` as a run of its organisation; None when a run of that organisation with the same
        generation time is already recorded (an import of the same report twice)."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                run_id = self._append(report, origin, source)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise self._fail(exc, "record the run") from None
        return None if run_id is None else self.run(run_id)

    def _append(self, report: Report, origin: str, source: str | None) -> int | None:
        db = self._db
        org = report.inventory.org.name
        db.execute("INSERT OR IGNORE INTO org (key, name) VALUES (?, ?)", (org_key(org), org))
        db.execute("UPDATE org SET name = ? WHERE key = ?", (org, org_key(org)))
        (org_id,) = db.execute("SELECT id FROM org WHERE key = ?", (org_key(org),)).fetchone()
        stamp = utc_text(report.run.generated_at)
        if db.execute("SELECT 1 FROM run WHERE org_id = ? AND generated_at = ?", (org_id, stamp)).fetchone():
            return None
        rules = eems_rules(report)
        overview = [[r, label, r in rules] for r, label in report.run.overview_rules]
        reasons = [blocked_by(s, rules) for s in report.servers]
        unsure = [r is None and undecided(s, rules) for s, r in zip(report.servers, reasons, strict=True)]
        by_reason = {r: reasons.count(r) for r in dict.fromkeys(x for x in reasons if x is not None)}
        run = report.run
        cur = db.execute(
            "INSERT INTO run (org_id, generated_at, evaluated_on, recorded_at, origin, source, tool_version, "
            "rules_version, rules_as_of, overview_rules, servers, cannot_receive, by_reason, undecided, worst) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                org_id,
                stamp,
                run.evaluated_on.isoformat(),
                utc_text(dt.datetime.now(dt.timezone.utc)),
                origin,
                source if source is not None else report.inventory.source,
                run.tool_version,
                run.rules_version,
                run.rules_as_of,
                json.dumps(overview, ensure_ascii=False),
                len(report.servers),
                sum(r is not None for r in reasons),
                json.dumps(by_reason),
                sum(unsure),
                report.worst.value,
            ),
        )
        run_id = int(cur.lastrowid or 0)  # an INSERT into a rowid table always sets it
        server_ids = self._server_ids(org_id, report)
        interned = _Interner(db)
        overview_ids = [r for r, _ in run.overview_rules]
        rows = []
        for s, reason, unknown in zip(report.servers, reasons, unsure, strict=True):
            verdicts = " ".join(
                (f.verdict.value if (f := s.finding(r)) is not None else "-").replace(" ", "") for r in overview_ids
            )
            rows.append(
                (
                    run_id,
                    server_ids[server_key(s.server.name)],
                    interned.build(s),
                    s.worst.value,
                    verdicts,
                    reason,
                    int(unknown),
                    s.server.collection.status.value,
                    interned.finding_set(s),
                    s.fix.summary if s.fix.needed else None,
                )
            )
        db.executemany(
            "INSERT OR REPLACE INTO server_run (run_id, server_id, build_id, worst, verdicts, blocked_by, undecided, "
            "collection, findings, fix, first_seen, stretch_runs) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0)",
            rows,
        )
        later = db.execute(
            "SELECT id, generated_at FROM run WHERE org_id = ? AND generated_at >= ? ORDER BY generated_at",
            (org_id, stamp),
        ).fetchall()
        builds = self.builds()
        for later_id, later_stamp in later:  # this run, and every later one when an earlier report is imported
            self._carry(org_id, later_id, parse_utc(later_stamp), builds)
        return run_id

    def _previous_rows(self, org_id: int, stamp: dt.datetime, server_ids: list[int]) -> dict[int, _Carried]:
        """Each server's newest row in a run of the organisation before `stamp`."""
        db, text = self._db, utc_text(stamp)
        columns = "sr.server_id, sr.build_id, sr.blocked_by, sr.undecided, sr.first_seen, sr.stretch_since, " \
                  "sr.stretch_runs, sr.build_changed"  # fmt: skip
        before = db.execute(
            "SELECT id FROM run WHERE org_id = ? AND generated_at < ? ORDER BY generated_at DESC LIMIT 1",
            (org_id, text),
        ).fetchone()
        if before is None:
            return {}
        found = {
            row[0]: _Carried(*row[1:])
            for row in db.execute(f"SELECT {columns} FROM server_run sr WHERE sr.run_id = ?", (before[0],))
        }
        for server_id in server_ids:  # servers the previous run did not list (a --server scan, say)
            if server_id not in found:
                row = db.execute(
                    f"SELECT {columns} FROM server_run sr JOIN run r ON r.id = sr.run_id WHERE sr.server_id = ? "
                    "AND r.generated_at < ? ORDER BY r.generated_at DESC LIMIT 1",
                    (server_id, text),
                ).fetchone()
                if row is not None:
                    found[server_id] = _Carried(*row[1:])
        return found

    def _carry(self, org_id: int, run_id: int, stamp: dt.datetime, builds: dict[int, BuildRow]) -> None:
        """Fill the carried columns of run `run_id` from each server's previous row."""
        db, now = self._db, epoch(stamp)
        rows = db.execute(
            "SELECT server_id, build_id, blocked_by, undecided FROM server_run WHERE run_id = ?", (run_id,)
        ).fetchall()
        previous = self._previous_rows(org_id, stamp, [r[0] for r in rows])
        updates = []
        for server_id, build_id, reason, unsure in rows:
            p = previous.get(server_id)
            since: int | None
            if reason is not None:  # cannot receive: the stretch goes on, past runs that could not decide
                since, runs = (p.stretch_since, p.stretch_runs + 1) if p and p.stretch_since else (now, 1)
            elif unsure:  # cannot decide: neither counts nor breaks the stretch
                since, runs = (p.stretch_since, p.stretch_runs) if p else (None, 0)
            else:
                since, runs = None, 0
            # A change is seen against the previous row only, at the precision both know: exact -> CU only ->
            # another exact SU of the same CU is not seen as a change (rare: a scan that lost ExSetup.exe once).
            changed = p.build_changed if p else None
            if p and p.build_id != build_id and same_build(builds[p.build_id], builds[build_id]) is False:
                changed = now
            updates.append((p.first_seen if p else now, since, runs, changed, run_id, server_id))
        db.executemany(
            "UPDATE server_run SET first_seen = ?, stretch_since = ?, stretch_runs = ?, build_changed = ? "
            "WHERE run_id = ? AND server_id = ?",
            updates,
        )

    def _server_ids(self, org_id: int, report: Report) -> dict[str, int]:
        db = self._db
        known = dict(db.execute("SELECT key, id FROM server WHERE org_id = ?", (org_id,)).fetchall())
        keyed = {server_key(s.server.name): s.server.name for s in report.servers}
        new = {k: n for k, n in keyed.items() if k not in known}
        db.executemany(
            "INSERT INTO server (org_id, key, name) VALUES (?, ?, ?)", [(org_id, k, n) for k, n in new.items()]
        )
        if new:
            known = dict(db.execute("SELECT key, id FROM server WHERE org_id = ?", (org_id,)).fetchall())
        db.executemany(  # the newest spelling of a name is the one shown
            "UPDATE server SET name = ? WHERE id = ? AND name != ?",
            [(s.server.name, known[server_key(s.server.name)], s.server.name) for s in report.servers],
        )
        return known

    def prune(self, *, keep: int | None = None, older_than: dt.datetime | None = None) -> int:
        """Delete, per organisation, every run but the newest `keep`, and/or every run generated before
        `older_than`; then drop what no run refers to any more and compact the file. Returns the runs deleted."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                deleted = 0
                if keep is not None:
                    deleted += self._db.execute(
                        "DELETE FROM run WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER "
                        "(PARTITION BY org_id ORDER BY generated_at DESC) AS n FROM run) WHERE n > ?)",
                        (keep,),
                    ).rowcount
                if older_than is not None:
                    deleted += self._db.execute(
                        "DELETE FROM run WHERE generated_at < ?", (utc_text(older_than),)
                    ).rowcount
                for statement in (
                    "DELETE FROM server WHERE id NOT IN (SELECT server_id FROM server_run)",
                    "DELETE FROM build WHERE id NOT IN (SELECT build_id FROM server_run)",
                    "DELETE FROM finding_set WHERE id NOT IN (SELECT findings FROM server_run)",
                    "DELETE FROM org WHERE id NOT IN (SELECT org_id FROM run)",
                ):
                    self._db.execute(statement)
                sets = self._db.execute("SELECT members FROM finding_set").fetchall()
                used = {int(i) for (members,) in sets for i in members.split()}
                stale = [(i,) for (i,) in self._db.execute("SELECT id FROM finding") if i not in used]
                self._db.executemany("DELETE FROM finding WHERE id = ?", stale)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            if deleted:
                self._db.execute("VACUUM")
        except sqlite3.Error as exc:
            raise self._fail(exc, "prune") from None
        return deleted

    # --- reading ---------------------------------------------------------------------------------------------

    def orgs(self) -> list[str]:
        return [name for (name,) in self._query("SELECT name FROM org ORDER BY name COLLATE NOCASE")]

    def runs(
        self, org: str | None = None, *, limit: int | None = None, before: dt.datetime | None = None
    ) -> list[RunRow]:
        """Runs oldest first: all of them, or of `org`, the newest `limit`, generated before `before`."""
        sql = f"SELECT {_RUN_COLUMNS} FROM run JOIN org ON org.id = run.org_id WHERE 1"
        params: list[Any] = []
        if org is not None:
            sql += " AND org.key = ?"
            params.append(org_key(org))
        if before is not None:
            sql += " AND generated_at < ?"
            params.append(utc_text(before))
        sql += " ORDER BY generated_at DESC, run.id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_run_row(r) for r in reversed(self._query(sql, params))]

    def count_runs(self, org: str) -> int:
        return int(self._query("SELECT count(*) FROM run JOIN org ON org.id = run.org_id WHERE org.key = ?",
                               [org_key(org)])[0][0])  # fmt: skip

    def run(self, run_id: int) -> RunRow:
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM run JOIN org ON org.id = run.org_id WHERE run.id = ?", [run_id])
        return _run_row(rows[0])

    def server_facts(self, run: RunRow) -> list[ServerFacts]:
        """The servers of `run`, in the order they were first recorded."""
        rows = self._query(
            "SELECT sr.server_id, s.name, sr.build_id, sr.blocked_by, sr.first_seen, sr.stretch_since, "
            "sr.stretch_runs, sr.build_changed FROM server_run sr JOIN server s ON s.id = sr.server_id "
            "WHERE sr.run_id = ? ORDER BY sr.server_id",
            [run.id],
        )
        return list(map(ServerFacts._make, rows))

    def builds(self) -> dict[int, BuildRow]:
        return {
            i: BuildRow(number or None, name, precision or None)
            for i, number, name, precision in self._query("SELECT id, number, name, precision FROM build")
        }

    def run_report(self, run: RunRow) -> Report:
        """The run as the `Report` that `eems_check.diff.compare` reads: its servers, builds and findings (the
        history keeps no inventory beyond the organisation's name)."""
        findings = {
            str(fid): Finding(
                rule_id=r, title=t, category=c, verdict=Verdict(v), severity=Severity(sev), message=m
            )
            for fid, r, c, t, v, sev, m in self._query(
                "SELECT id, rule_id, category, title, verdict, severity, message FROM finding"
            )
        }
        servers = tuple(
            ServerReport(
                server=ServerRecord(name=name),
                build=BuildInfo(
                    text=None, source=None, number=number or None, name=build_name, product=None, cu=None,
                    update=None, released=None, age_days=None, precision=precision or "unknown", status="",
                ),
                findings=tuple(findings[i] for i in members.split()),
                eems_state="",
            )
            for name, number, build_name, precision, members in self._query(
                "SELECT s.name, b.number, b.name, b.precision, fs.members FROM server_run sr "
                "JOIN server s ON s.id = sr.server_id JOIN build b ON b.id = sr.build_id "
                "JOIN finding_set fs ON fs.id = sr.findings WHERE sr.run_id = ? ORDER BY s.id",
                [run.id],
            )
        )
        info = RunInfo(
            tool_version=run.tool_version,
            rules_version=run.rules_version,
            rules_as_of="",
            evaluated_on=run.generated_at.date(),
            generated_at=run.generated_at,
            overview_rules=tuple((r, label) for r, label, _ in run.overview_rules),
        )
        inventory = Inventory(org=OrgInfo(name=run.org), servers=tuple(s.server for s in servers))
        return Report(run=info, inventory=inventory, servers=servers)

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc, "read it") from None


class _Interner:
    """Row ids of builds, findings and finding sets, inserted on first sight. The evaluation interns findings and
    build facts, so a 1,000-server run asks the database about a few dozen distinct ones."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._by_object: dict[int, int] = {}
        self._sets: dict[tuple[int, ...], int] = {}

    def _row_id(self, table: str, columns: tuple[str, ...], values: tuple[str, ...]) -> int:
        names = ", ".join(columns)
        self._db.execute(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({', '.join('?' * len(values))})", values)
        where = " AND ".join(f"{c} = ?" for c in columns)
        (row_id,) = self._db.execute(f"SELECT id FROM {table} WHERE {where}", values).fetchone()
        return int(row_id)

    def build(self, s: ServerReport) -> int:
        key = id(s.build)
        if key not in self._by_object:
            b = s.build
            self._by_object[key] = self._row_id(
                "build", ("number", "name", "precision"), (b.number or "", b.name, b.precision or "")
            )
        return self._by_object[key]

    def finding_set(self, s: ServerReport) -> int:
        ids = []
        for f in s.findings:
            if f.verdict not in PRESENT:
                continue
            key = id(f)
            if key not in self._by_object:
                self._by_object[key] = self._row_id(
                    "finding",
                    ("rule_id", "category", "title", "verdict", "severity", "message"),
                    (f.rule_id, f.category, f.title, f.verdict.value, f.severity.value, f.message),
                )
            ids.append(self._by_object[key])
        members = tuple(ids)
        if members not in self._sets:
            self._sets[members] = self._row_id("finding_set", ("members",), (" ".join(map(str, members)),))
        return self._sets[members]


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file to SCHEMA_VERSION in one transaction; the version is read again under the write lock, so two
    runs opening a new file at once apply each migration once."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            _check_empty(db, path)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _check_empty(db: sqlite3.Connection, path: Path) -> None:
    if db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
        raise HistoryError(f"{path}: an SQLite database of another program, not an eems-check history")


def journal_mode(path: Path) -> str:
    """WAL, so that readers never block the run that writes; except on a network share, where SQLite cannot keep
    WAL's index in memory shared between processes: a UNC path (\\\\server\\share or //server/share) gets the
    rollback journal, which works through the file's own locks. Either way a run is one atomic transaction. (A
    mapped drive letter looks local: for a report folder on a share, give --history a local file.)"""
    text = str(path).replace("\\", "/")
    return "delete" if text.startswith("//") else "wal"


def open_history(path: Path, *, create: bool = True) -> History:
    """Open (and with `create`, create) the history at `path`, migrated to SCHEMA_VERSION."""
    if not create and not path.is_file():
        raise HistoryError(f"{path}: no such history file")
    if path.is_dir():
        raise HistoryError(f"{path}: is a folder, not a history file")
    if create:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(f"{path}: cannot create its folder: {exc.strerror or exc}") from None
    try:
        db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise HistoryError(f"{path}: cannot open: {exc}") from None
    try:
        _prepare(db, path)
    except HistoryError:
        db.close()
        raise
    except sqlite3.DatabaseError as exc:
        db.close()
        problem = "not an SQLite database" if "not a database" in str(exc) else str(exc)
        raise HistoryError(f"{path}: not an eems-check history ({problem})") from None
    return History(path, db)


def _prepare(db: sqlite3.Connection, path: Path) -> None:
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and version != 0):
        raise HistoryError(f"{path}: an SQLite database of another program, not an eems-check history")
    if app_id == 0:
        _check_empty(db, path)
    if version > SCHEMA_VERSION:
        raise HistoryError(
            f"{path}: history schema {version} is newer than this eems-check reads ({SCHEMA_VERSION}): "
            "upgrade eems-check, or choose another file with --history"
        )
    mode = journal_mode(path)
    if db.execute("PRAGMA journal_mode").fetchone()[0] != mode:
        db.execute(f"PRAGMA journal_mode = {mode}")
    db.execute("PRAGMA foreign_keys = ON")
    if version < SCHEMA_VERSION:
        _migrate(db, path)
