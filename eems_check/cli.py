"""The command line: parses arguments, wires the stages together, prints, and chooses the exit code.

Exit codes: 0 nothing at or above --fail-on; 1 findings at or above it; 2 bad usage or input; 3 the run failed;
4 the report was written but could not be mailed. Errors print as one line (a traceback only with --debug).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .builds import parse_build
from .conditions import KINDS
from .display import visible, visible_json
from .errors import EemsCheckError, InputError, MailError, ScanInterrupted
from .evaluate import evaluate, evaluate_server
from .inventory import read_inventory
from .logmask import MaskingFormatter, Secrets
from .mail import MailSettings, add_mail_arguments, deliver, mail_settings_from_args, send_saved_report
from .model import BuildSource, CollectionStatus, Inventory, OrgInfo, Report, ServerRecord, Severity, Verdict
from .outputs import OutputPlan, check_outputs, is_stdout, org_slug, write_reports
from .ruleset import RuleSet, load_ruleset, validate_file

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
FAIL_ON = {"critical": Severity.CRITICAL, "error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO}
BUILD_KINDS = (
    "eems_min_update",
    "eems_available",
    "product_support",
    "branch_serviced",
    "latest_update",
    "build_known",
    "build_precision",
)
log = logging.getLogger("eems_check")


class _Parser(argparse.ArgumentParser):
    """Exact flags only: with abbreviations `--pass=…` became `--password-env`'s value or an "ambiguous option"
    error that echoed the password. Unrecognised arguments are named without their values, for the same reason."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{self.prog}: {_without_values(message)}")


def _without_values(message: str) -> str:
    head, found, rest = message.partition("unrecognized arguments: ")
    if not found:
        return message
    flags = [word.split("=", 1)[0] for word in rest.split() if word.startswith("-")]
    hidden = len(rest.split()) - len(flags) + sum("=" in word for word in rest.split() if word.startswith("-"))
    shown = ", ".join(dict.fromkeys(flags)) or "values"
    tail = f" ({hidden} value(s) not shown: they may be secrets)" if hidden else ""
    return f"{head}unrecognized arguments: {shown}{tail}"


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    p.add_argument("-v", "--verbose", action="store_true", help="more detail on stderr")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def _add_rules(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rules",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="extra rules file merged over the bundled rules (repeatable)",
    )


def _add_outputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("--html", type=Path, metavar="FILE", help="write the HTML report here")
    p.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    p.add_argument("--csv", type=Path, metavar="FILE", help="write the CSV report here")
    p.add_argument(
        "-o",
        "--output-dir",
        type=Path,
        metavar="DIR",
        help="write all three reports here with timestamped names (default when no file is named: .)",
    )
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD", help="evaluate as of this day (default: today)")
    p.add_argument(
        "--compare-to",
        type=Path,
        metavar="PREVIOUS.json",
        help="a previous JSON report: add a 'Changes since' section (servers, builds, findings new and resolved)",
    )
    p.add_argument(
        "--fail-on",
        choices=[*FAIL_ON, "never"],
        default="error",
        help="exit 1 when a server has a finding at or above this severity (default: error)",
    )
    add_mail_arguments(p)
    from .history.command import add_run_arguments

    add_run_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="eems-check",
        description="Find the Exchange servers that the Emergency Mitigation "
        "Service can no longer protect, and what to patch first.",
    )
    parser.add_argument("--version", action="version", version=f"eems-check {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("evaluate", help="evaluate a saved inventory and write the reports")
    p.add_argument(
        "inventory",
        type=Path,
        help="inventory JSON (from scan --save-inventory or Export-EemsInventory.ps1), or a capture folder "
        "(Export-EemsInventory.ps1 -Capture)",
    )
    _add_rules(p)
    _add_outputs(p)
    _add_common(p)

    p = sub.add_parser("scan", help="scan an Exchange organisation over PowerShell Remoting and write the reports")
    from .collect import add_scan_arguments

    add_scan_arguments(p)
    p.add_argument("--save-inventory", type=Path, metavar="FILE", help="also save the collected inventory (JSON)")
    p.set_defaults(default_of=p.get_default)  # a --config scan: section fills only what the flags left at default
    _add_rules(p)
    _add_outputs(p)
    _add_common(p)

    p = sub.add_parser("demo", help="start the simulated organisation on loopback, scan it and write the reports")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("eems-report-demo"), metavar="DIR")
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD", help="evaluate as of this day (default: today)")
    p.add_argument("--offline", action="store_true", help="evaluate the bundled sample inventory instead of scanning")
    _add_rules(p)
    _add_common(p)

    p = sub.add_parser("send", help="mail a saved JSON report (its HTML and CSV are rendered again from it)")
    p.add_argument("report", type=Path, help="JSON report written by evaluate or scan")
    p.add_argument(
        "--fail-on",
        choices=[*FAIL_ON, "never"],
        default="error",
        help="with --alerts-only: mail only when a server has a finding at or above this severity (default: error)",
    )
    p.add_argument("--keep-rendered", action="store_true", help="write the HTML and CSV next to the JSON and keep them")
    add_mail_arguments(p)
    _add_common(p)

    lab = sub.add_parser("lab", help="the simulated Exchange organisation (loopback only)")
    lsub = lab.add_subparsers(dest="lab_command", required=True, parser_class=_Parser)
    p = lsub.add_parser("serve", help="run a simulated organisation until interrupted")
    p.add_argument("--org", type=Path, help="org file (YAML); default: the bundled demo organisation")
    p.add_argument(
        "--replay",
        type=Path,
        metavar="DIR",
        help="serve a capture (scan --capture, Export-EemsInventory.ps1 -Capture): its servers' own answers",
    )
    p.add_argument("--base-address", default="127.0.10.1", help="first loopback address (default 127.0.10.1)")
    p.add_argument("--exchange-port", type=int, default=0, help="port of /PowerShell (default: a free one)")
    p.add_argument("--wsman-port", type=int, default=0, help="port of /wsman (default: a free one)")
    p.add_argument("--http-port", type=int, default=0, help="port of /owa/ and /ecp/ (default: a free one)")
    p.add_argument("--kerberos-keytab", type=Path, metavar="FILE", help="also accept Kerberos with this keytab")
    p.add_argument("--kerberos-only", action="store_true", help="offer Kerberos only (like Exchange's /PowerShell)")
    _add_common(p)

    p = sub.add_parser("scripts", help="where the PowerShell wrappers are, or copy them to a folder")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--path", action="store_true", help="print the folder of the installed wrappers")
    where.add_argument("--copy", type=Path, metavar="DIR", help="copy the wrappers and the collector script to DIR")
    _add_common(p)

    p = sub.add_parser("build", help="explain Exchange build numbers in any spelling")
    p.add_argument(
        "builds", nargs="+", metavar="BUILD", help="e.g. 15.2.1118.26, 15.02.1118.026 or 'Version 15.2 (Build 1118.7)'"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--today", type=_date, metavar="YYYY-MM-DD")
    _add_rules(p)
    _add_common(p)

    from .history import command as history_command

    history_command.add_parser(sub, _add_common, _Parser)

    p = sub.add_parser("diff", help="what changed between two saved JSON reports")
    p.add_argument("old", type=Path, metavar="OLD.json")
    p.add_argument("new", type=Path, metavar="NEW.json")
    p.add_argument("--json", action="store_true", help="print the changes as JSON")
    _add_common(p)

    rules = sub.add_parser("rules", help="show or validate rule sets")
    rsub = rules.add_subparsers(dest="rules_command", required=True, parser_class=_Parser)
    p = rsub.add_parser("validate", help="check a rules file (alone and merged over the bundled rules)")
    p.add_argument("file", type=Path)
    _add_common(p)
    from . import rules_update

    p = rsub.add_parser(
        "update", help="import Microsoft's published build list (a downloaded file) into an override rules file"
    )
    rules_update.add_arguments(p)
    _add_rules(p)
    _add_common(p)
    p = rsub.add_parser("show", help="print the rule set in force")
    _add_rules(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--kinds", action="store_true", help="list the condition kinds and their parameters")
    _add_common(p)
    return parser


# The libraries under the scanner log what they meet with tracebacks and raw protocol text (pypsrp logs every
# read timeout with its traceback). What matters reaches the user as a one-line reason per server; their own
# words only with --debug.
_LIBRARY_LOGGERS = ("pypsrp", "psrpcore", "spnego", "requests", "requests_credssp", "urllib3", "krb5", "gssapi")


def _setup_logging(args: argparse.Namespace) -> None:
    from .debuglog import setup_logging

    setup_logging(debug=args.debug, verbose=args.verbose)
    for name in _LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if args.debug else logging.CRITICAL + 1)


def _show(text: str, *, err: bool = False) -> None:
    """Print to the terminal with control and bidi characters (from names, messages, files) written visibly."""
    print(visible(text, one_line=False), file=sys.stderr if err else sys.stdout)


def _show_json(document: object, **options: object) -> None:
    """JSON for the terminal: hidden characters as \\uXXXX escapes, which decode to the same document."""
    _show(visible_json(json.dumps(document, indent=2, **options)))  # type: ignore[arg-type]


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        # a report written to standard output (`--json -`) keeps stdout to itself
        _show(text, err=getattr(args, "stdout_taken", False))


def _check_outputs(args: argparse.Namespace, mail: MailSettings | None, source: Path | None = None) -> None:
    """Before any work: every named output is absent or a regular file, each has its own, none replaces an input."""
    outputs = {"--html": args.html, "--json": args.json, "--csv": args.csv}
    outputs["--save-inventory"] = getattr(args, "save_inventory", None)
    check_outputs(outputs, {"inventory": source})
    folder = getattr(args, "output_dir", None)
    if folder is not None and (folder.is_symlink() or folder.exists()) and not folder.is_dir():
        raise InputError(f"-o {folder}: is not a folder")
    args.stdout_taken = any(p is not None and is_stdout(p) for p in outputs.values())
    if args.stdout_taken and mail is not None:
        raise InputError("a report written to standard output (-) cannot be attached to the mail: name a file")


# Every log line on stderr and every --debug traceback goes through it; commands register each password they read.
_OUTPUT = Secrets()


def _mask_log_lines() -> None:
    for handler in logging.getLogger().handlers:
        ours = type(handler) is logging.StreamHandler and handler.stream is sys.stderr
        if ours and not isinstance(handler.formatter, MaskingFormatter):
            handler.setFormatter(MaskingFormatter(handler.formatter or logging.Formatter(), _OUTPUT))


def _mail_settings(args: argparse.Namespace) -> MailSettings | None:
    settings = mail_settings_from_args(args, os.environ)
    _OUTPUT.add(settings.password if settings else None)
    return settings


def _print_traceback() -> None:
    print(_OUTPUT.mask(traceback.format_exc()), file=sys.stderr, end="")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _exit_for(report: Report, fail_on: str) -> int:
    if fail_on == "never":
        return EXIT_OK
    threshold = FAIL_ON[fail_on]
    return EXIT_FINDINGS if report.worst.rank >= threshold.rank else EXIT_OK


def _summary_lines(report: Report) -> list[str]:
    lines = [f"{report.inventory.org.name}: {len(report.servers)} server(s); worst {report.worst.word}"]
    for rule_id, label in report.run.overview_rules:
        fails = [s.server.name for s in report.with_verdict(rule_id, Verdict.FAIL)]
        if fails:
            shown = ", ".join(fails[:8]) + (f" and {len(fails) - 8} more" if len(fails) > 8 else "")
            lines.append(f"  {label}: {len(fails)} fail ({shown})")
    return lines


def _report_and_exit(
    args: argparse.Namespace,
    inventory: Inventory,
    ruleset: RuleSet,
    plan_dir: Path | None,
    html: Path | None = None,
    json_path: Path | None = None,
    csv: Path | None = None,
    previous: tuple[Path, Report] | None = None,
    mail: MailSettings | None = None,
) -> int:
    now = _now()
    today = args.today or now.date()
    report = evaluate(inventory, ruleset, today=today, generated_at=now)
    if previous is not None:
        from .diff import compare

        path, before = previous
        changes = compare(before, report, old_label=str(path))
        report = dataclasses.replace(report, changes=changes)
    plan = OutputPlan.build(html=html, json=json_path, csv=csv, output_dir=plan_dir, org=inventory.org.name, stamp=now)
    from .history.command import record

    report, recorded = record(args, report, list(plan.paths.values()))
    written = write_reports(report, plan)
    for line in _summary_lines(report):
        _say(args, line)
    if report.changes is not None:
        from .diff import headline

        _say(args, f"  Changes: {headline(report.changes)}")
    for fmt, path in written.items():
        _say(args, f"{fmt.value.upper()} report: {path.resolve()}")
    if recorded:
        _say(args, recorded)
    fail_on = getattr(args, "fail_on", "error")
    if mail is not None:  # after writing: a mail failure (exit 4) loses nothing
        sent = deliver(report, written, mail, FAIL_ON.get(fail_on))
        _say(args, sent or f"Mail: not sent (--alerts-only and nothing at or above --fail-on {fail_on})")
    return _exit_for(report, fail_on)


def _previous(args: argparse.Namespace) -> tuple[Path, Report] | None:
    """The --compare-to report, read before any scanning so that a bad file fails fast."""
    if not getattr(args, "compare_to", None):
        return None
    from .report_io import read_report

    return args.compare_to, read_report(args.compare_to)


def cmd_evaluate(args: argparse.Namespace) -> int:
    mail = _mail_settings(args)  # first: a bad mail setting fails before any work
    _check_outputs(args, mail, args.inventory)
    ruleset = load_ruleset(args.rules)
    previous = _previous(args)
    from .collect.capture import is_capture, read_capture

    inventory = read_capture(args.inventory) if is_capture(args.inventory) else read_inventory(args.inventory)
    return _report_and_exit(args, inventory, ruleset, args.output_dir, args.html, args.json, args.csv, previous, mail)


def cmd_diff(args: argparse.Namespace) -> int:
    """Exit 0 when nothing got worse, 1 when findings are new or worse, 2 on bad input."""
    from .diff import changes_to_dict, diff_files, format_text

    changes = diff_files(args.old, args.new)
    if args.json:
        _show_json(changes_to_dict(changes), ensure_ascii=False)
    else:
        _show(format_text(changes))
    return EXIT_FINDINGS if changes.counts.worse else EXIT_OK


def _save_inventory(inventory: Inventory, path: Path) -> None:
    from .inventory import inventory_to_document
    from .outputs import write_text_atomic

    write_text_atomic(path, json.dumps(inventory_to_document(inventory), indent=2, ensure_ascii=False) + "\n")


def _progress(args: argparse.Namespace) -> Callable[[int, int, int], None] | None:
    from .collect import ProgressPrinter

    return None if args.quiet else ProgressPrinter()


def cmd_scan(args: argparse.Namespace) -> int:
    from .collect import options_from_args, scan
    from .collect.remoting import AUTH_METHODS
    from .scan_config import apply_scan_config

    apply_scan_config(args, args.default_of, {"auth": AUTH_METHODS, "fail_on": (*FAIL_ON, "never")})
    mail = _mail_settings(args)  # before the scan: a typo must not cost a whole scan
    _check_outputs(args, mail)

    ruleset = load_ruleset(args.rules)
    previous = _previous(args)
    options = options_from_args(args, os.environ)
    _OUTPUT.add(options.password)
    try:
        inventory = scan(options, progress=_progress(args))
    except ScanInterrupted as stop:  # Ctrl+C: keep what was collected, marked incomplete
        partial = stop.inventory
        path = _keep_inventory(args, partial)
        got = sum(s.collection.status is not CollectionStatus.NOT_SCANNED for s in partial.servers)
        _show(
            f"eems-check: interrupted: {got} of {len(partial.servers)} server(s) collected; saved in {path} "
            "(marked incomplete; eems-check evaluate reads it)",
            err=True,
        )
        return EXIT_INTERRUPTED
    if args.save_inventory:
        _save_inventory(inventory, args.save_inventory)
        if not is_stdout(args.save_inventory):
            _say(args, f"Inventory: {args.save_inventory.resolve()}")
    try:
        return _report_and_exit(
            args, inventory, ruleset, args.output_dir, args.html, args.json, args.csv, previous, mail
        )
    except MailError:
        raise  # the reports are written: nothing to rescue
    except BaseException as exc:  # a scan's data is never lost to a later failure
        if args.save_inventory:
            raise
        path = _keep_inventory(args, inventory)
        if isinstance(exc, EemsCheckError):
            exc.args = (f"{exc} (the scan's inventory is saved in {path})",)
        else:
            _show(f"eems-check: the scan's inventory is saved in {path}", err=True)
        raise


def _keep_inventory(args: argparse.Namespace, inventory: Inventory) -> Path:
    """Save `inventory` where the user asked (--save-inventory), else beside the reports with a timestamped name."""
    path = args.save_inventory
    if path is None:
        named = [p for p in (args.html, args.json, args.csv) if p is not None and not is_stdout(p)]
        folder = args.output_dir or (named[0].parent if named else Path("."))
        stamp = _now().strftime("%Y%m%d-%H%M%S")
        path = folder / f"eems-inventory-{org_slug(inventory.org.name)}-{stamp}.json"
    _save_inventory(inventory, path)
    return path if is_stdout(path) else path.resolve()


def _bundled_org() -> Path:
    from importlib import resources

    return Path(str(resources.files("eems_check") / "lab" / "orgs" / "demo.yaml"))


def cmd_demo(args: argparse.Namespace) -> int:
    from importlib import resources

    ruleset = load_ruleset(args.rules)
    if args.offline:
        sample = Path(str(resources.files("eems_check") / "data" / "sample-inventory.json"))
        _say(args, "Evaluating the bundled sample inventory (no Exchange server needed).")
        _report_and_exit(args, read_inventory(sample), ruleset, args.output_dir)
        return EXIT_OK
    from .collect import ScanOptions, scan
    from .lab import LabOrg, load_org

    spec = load_org(_bundled_org())
    with LabOrg(spec) as lab:
        _say(
            args,
            f"Simulated organisation started on loopback ({len(lab.address_map())} servers); scanning it "
            "over WS-Management + PSRP with NTLM and message encryption.",
        )
        options = ScanOptions.for_lab(lab, probe_ocs=True, run_get_mitigations=True, http_check=True)
        inventory = scan(options, progress=_progress(args))
    _save_inventory(inventory, args.output_dir / "inventory.json")
    _report_and_exit(args, inventory, ruleset, args.output_dir)
    return EXIT_OK


def cmd_scripts(args: argparse.Namespace) -> int:
    from .wrappers import copy_scripts, scripts_dir

    if args.path:
        print(scripts_dir())
        return EXIT_OK
    for path in copy_scripts(args.copy):
        print(path)
    return EXIT_OK


def cmd_send(args: argparse.Namespace) -> int:
    settings = _mail_settings(args)
    if settings is None:
        raise InputError("send: no recipient: give --mail-to, or --config FILE with a mail: section")
    sent = send_saved_report(args.report, settings, FAIL_ON.get(args.fail_on), beside=args.keep_rendered)
    _say(args, sent or f"{args.report}: not sent (--alerts-only and nothing at or above --fail-on {args.fail_on})")
    return EXIT_OK


def cmd_lab(args: argparse.Namespace) -> int:
    import time

    from .lab import LabOrg, LabOrgError, load_org

    try:
        if args.replay is not None:
            from .lab.replay import load_replay

            spec = load_replay(args.replay)
        else:
            spec = load_org(args.org or _bundled_org())
    except LabOrgError as exc:
        raise InputError(str(exc)) from None
    with LabOrg(
        spec,
        base_address=args.base_address,
        exchange_port=args.exchange_port,
        wsman_port=args.wsman_port,
        http_port=args.http_port,
        kerberos_keytab=args.kerberos_keytab,
        kerberos_only=args.kerberos_only,
    ) as lab:
        try:  # from the moment the user is told to press Ctrl+C, it stops the lab cleanly
            print(lab.describe(), flush=True)
            print("Press Ctrl+C to stop.", flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return EXIT_OK


def explain_build(text: str, ruleset: RuleSet, today: dt.date) -> dict[str, object]:
    """Everything `eems-check build` says of one build string."""
    parsed = parse_build(text)
    resolved = ruleset.catalogue.resolve(parsed)
    server = ServerRecord(
        name=text.strip(),
        exsetup_version=text,
        admin_display_version=text,
        build_source=BuildSource.ADMIN_DISPLAY_VERSION
        if parsed.spelling == "admin_display_version"
        else BuildSource.INPUT,
    )
    inv = Inventory(org=OrgInfo(name="-", mitigations_enabled=True), servers=(server,))
    report = evaluate_server(server, inv, ruleset, today)
    rules = {r.id: r for r in ruleset.active_rules}
    entry = resolved.released
    return {
        "input": text,
        "build": resolved.number,
        "long": parsed.long,
        "name": resolved.name,
        "resolution": resolved.resolution.value,
        "precision": parsed.precision.value,
        "product": resolved.product.name if resolved.product else None,
        "cu": resolved.branch.cu if resolved.branch else None,
        "released": entry.released_text if entry else None,
        "age_days": resolved.age_days(today),
        "rules": [
            {"id": f.rule_id, "verdict": f.verdict.value, "severity": f.severity.value, "message": f.message}
            for f in report.findings
            if rules[f.rule_id].kind in BUILD_KINDS
        ],
        "fix": {
            "text": report.fix.text,
            "build": report.fix.build.number if report.fix.build else None,
            "kb": report.fix.build.kb if report.fix.build else None,
        },
    }


def cmd_build(args: argparse.Namespace) -> int:
    ruleset = load_ruleset(args.rules)
    today = args.today or _now().date()
    results, bad = [], 0
    for text in args.builds:
        try:
            results.append(explain_build(text, ruleset, today))
        except InputError as exc:
            bad += 1
            _show(f"eems-check: error: {exc}", err=True)
    if args.json:
        _show_json(results)
    else:
        for r in results:
            age = f", {r['age_days']} days old" if r["age_days"] is not None else ""
            released = f"released {r['released']}{age}" if r["released"] else "release date unknown"
            _show(f"{r['input']}: {r['name']} [{r['build']}] {released}")
            for rule in r["rules"]:  # type: ignore[attr-defined]
                word = rule["verdict"].upper() if rule["verdict"] != "fail" else rule["severity"].upper()
                _show(f"  {word:8} {rule['id']}: {rule['message']}")
            _show(f"  Fix: {r['fix']['text']}")  # type: ignore[index]
    return EXIT_USAGE if bad else EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    from .history.command import run

    return run(args)


def cmd_rules(args: argparse.Namespace) -> int:
    if args.rules_command == "update":
        from . import rules_update

        return rules_update.run(args)
    if args.rules_command == "validate":
        rs = validate_file(args.file)
        _say(
            args,
            f"{args.file}: valid ({len(rs.rules)} rules, {rs.build_count} builds after merging over the "
            f"bundled rules; rules version {rs.rules_version}, as of {rs.as_of})",
        )
        return EXIT_OK
    rs = load_ruleset(args.rules)
    if args.kinds:
        for name, spec in sorted(KINDS.items()):
            params = ", ".join(f"{p}{'' if s.required else '?'}: {s.type.__name__}" for p, s in spec.params.items())
            _show(f"{name}({params}) facts: {', '.join(spec.facts) or '-'}")
        return EXIT_OK
    latest = [
        {
            "line": b.name,
            "latest": b.latest.label,
            "build": str(b.latest.version),
            "released": b.latest.released_text,
            "verified": b.latest.verified,
        }
        for b in rs.catalogue.branches
        if b.serviced_open or (b.serviced_until and b.serviced_until.year >= 2025)
    ]
    if args.json:
        _show_json(
            {
                "rules_version": rs.rules_version,
                "as_of": rs.as_of.isoformat(),
                "files": list(rs.files),
                "builds": rs.build_count,
                "latest": latest,
                "rules": [
                    {
                        "id": r.id,
                        "title": r.title,
                        "severity": r.severity.value,
                        "kind": r.kind,
                        "params": dict(r.params),
                        "enabled": r.enabled,
                        "origin": r.origin,
                    }
                    for r in rs.rules
                ],
            },
        )
        return EXIT_OK
    _show(f"Rules version {rs.rules_version}, as of {rs.as_of} (builds newer than this are reported, never guessed)")
    _show(f"Files: {', '.join(rs.files)}")
    _show(f"{rs.build_count} builds in {len(rs.catalogue.branches)} CU lines")
    for item in latest:
        note = "" if item["verified"] else " (unverified)"
        _show(f"  newest {item['line']}: {item['latest']} {item['build']} released {item['released']}{note}")
    _show("Rules:")
    for r in rs.rules:
        state = "" if r.enabled else " (disabled)"
        _show(f"  {r.id:22} {r.severity.value:8} {r.kind:20} {r.title}{state}")
    return EXIT_OK


COMMANDS = {
    "evaluate": cmd_evaluate,
    "scan": cmd_scan,
    "demo": cmd_demo,
    "scripts": cmd_scripts,
    "lab": cmd_lab,
    "build": cmd_build,
    "rules": cmd_rules,
    "diff": cmd_diff,
    "send": cmd_send,
    "history": cmd_history,
}


ERROR_CHARS = 1000  # an error line names a file and a field; it never echoes a whole value


def _bounded(text: str) -> str:
    """One line of at most ERROR_CHARS characters, control and bidi characters written visibly."""
    text = visible(text)
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 40] + f"... ({len(text):,} characters)"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        from .history.command import default_subcommand

        args = build_parser().parse_args(default_subcommand(argv))
        _setup_logging(args)
        _mask_log_lines()
        return COMMANDS[args.command](args)
    except EemsCheckError as exc:
        if debug:
            _print_traceback()
        _show(f"eems-check: error: {_bounded(_OUTPUT.mask(str(exc)))}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("eems-check: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stderr.close()  # the reader went away (e.g. `| head`): not an error of ours
        return EXIT_OK
    except Exception as exc:
        if debug:
            _print_traceback()
        what = _bounded(_OUTPUT.mask(str(exc)))
        _show(f"eems-check: internal error: {type(exc).__name__}: {what} (run with --debug for details)", err=True)
        return EXIT_RUN
