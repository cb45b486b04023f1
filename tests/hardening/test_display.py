"""What a hostile name can do to the admin's screen: control and bidi characters are shown escaped on the
terminal, in the HTML and CSV reports and in the mail subject, while the JSON data keeps them exactly; one
"same server" rule for every reader; flags are never abbreviated, so a password typed as --pass= is not echoed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eems_check.cli import main
from eems_check.display import visible, visible_json
from eems_check.inventory import read_inventory
from eems_check.mail.summary import summarise
from eems_check.names import server_key

CORPUS = Path(__file__).parent / "corpus"
HOSTILE = CORPUS / "inventories" / "control-and-bidi-name.json"
RAW_NAME = "EX\x1b[2J\x1b]0;owned\x07\u202eFDP.exe"
SHOWN_NAME = r"EX\x1b[2J\x1b]0;owned\x07\u202eFDP.exe"
HIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def test_the_terminal_and_the_html_and_csv_reports_show_hidden_characters_escaped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html, js, cs = tmp_path / "r.html", tmp_path / "r.json", tmp_path / "r.csv"
    code = main(
        [
            "evaluate",
            str(HOSTILE),
            "--html",
            str(html),
            "--json",
            str(js),
            "--csv",
            str(cs),
            "--fail-on",
            "never",
            "--verbose",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert HIDDEN.findall(out + err) == []
    assert r"Con\u202etoso\x1b[31m" in out
    for path in (html, cs):
        text = path.read_text(encoding="utf-8")
        assert HIDDEN.findall(text) == [], path
        assert SHOWN_NAME in text, path
    report = json.loads(js.read_text(encoding="utf-8"))
    assert report["results"][0]["server"] == RAW_NAME  # the data itself is kept exactly


def test_the_mail_subject_and_rows_show_hidden_characters_escaped(ruleset: object) -> None:
    import datetime as dt

    from eems_check.evaluate import evaluate

    stamp = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)
    report = evaluate(read_inventory(HOSTILE), ruleset, today=stamp.date(), generated_at=stamp)  # type: ignore[arg-type]
    subject = summarise(report, 10).subject
    assert HIDDEN.findall(subject) == [] and r"Con\u202etoso\x1b[31m" in subject


def test_diff_json_on_the_terminal_is_the_same_document_with_hidden_characters_escaped() -> None:
    document = {"server": RAW_NAME, "note": "Straße \u2066x\u2069"}
    text = visible_json(json.dumps(document, ensure_ascii=False))
    assert HIDDEN.findall(text) == [] and json.loads(text) == document


VISIBLE = [
    ("escape sequence", "a\x1b[31mb", r"a\x1b[31mb"),
    ("right-to-left override", "EX\u202eFDP.exe", r"EX\u202eFDP.exe"),
    ("isolates and marks", "\u2066a\u2069\u200f", r"\u2066a\u2069\u200f"),
    ("C1 control", "a\x85b", r"a\x85b"),
    ("line break on one line", "a\nb", r"a\x0ab"),
    ("plain accents stay", "Straße Zürich 東京", "Straße Zürich 東京"),
]


@pytest.mark.parametrize(("name", "raw", "shown"), VISIBLE, ids=[v[0] for v in VISIBLE])
def test_visible_writes_hidden_characters_as_escapes(name: str, raw: str, shown: str) -> None:
    assert visible(raw) == shown


SAME = [
    ("case", "EX01", "ex01", True),
    ("sharp s", "STRASSE", "Straße", True),
    ("surrounding spaces", " EX01 ", "EX01", True),
    ("full-width letters are another name", "\uff25\uff38\uff10\uff11", "EX01", False),
    ("different servers", "EX01", "EX02", False),
    ("accent matters", "Zurich", "Zürich", False),
]


@pytest.mark.parametrize(("name", "a", "b", "same"), SAME, ids=[s[0] for s in SAME])
def test_one_rule_decides_whether_two_names_are_one_server(name: str, a: str, b: str, same: bool) -> None:
    assert (server_key(a) == server_key(b)) is same


SECRET = "Secr3t-Passw0rd!"
ABBREVIATED = [
    ["scan", "--discovery-server", "ex01", f"--pass={SECRET}"],
    ["scan", "--discovery-server", "ex01", "--pass", SECRET],
    ["scan", "--discovery-server", "ex01", f"--passw={SECRET}"],
    ["scan", "--discovery-server", "ex01", f"--password-e={SECRET}"],
    ["evaluate", "x.json", f"--smtp-pass={SECRET}"],
    ["send", "x.json", "--smtp-p", SECRET],
]


@pytest.mark.parametrize("argv", ABBREVIATED, ids=[" ".join(a[-1:] if "=" in a[-1] else a[-2:-1]) for a in ABBREVIATED])
def test_an_abbreviated_flag_is_refused_without_echoing_its_value(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert SECRET not in out + err
    assert "unrecognized arguments" in err and "not shown" in err
