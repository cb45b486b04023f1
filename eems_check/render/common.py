"""Helpers shared by the renderers: the words, colours and labels every format agrees on."""

from __future__ import annotations

from ..model import BuildSource, Finding, ServerReport, Severity, Verdict

SEVERITY_COLOURS = {  # background, text: Health Checker's palette, so ops teams read it at a glance
    Severity.CRITICAL: ("#8B0000", "#FFFFFF"),
    Severity.ERROR: ("#FF0000", "#000000"),  # black on red: 5.3:1 contrast (white would be 4.0:1)
    Severity.WARNING: ("#FFE600", "#000000"),
    Severity.INFO: ("#85D4FF", "#000000"),
    Severity.OK: ("#7FFF00", "#000000"),
}
NEUTRAL = ("#E6E6E6", "#000000")

SOURCE_WORDS = {
    BuildSource.EXSETUP: "ExSetup.exe",
    BuildSource.REGISTRY: "ExSetup.exe (via registry)",
    BuildSource.HTTP: "HTTPS (unauthenticated)",
    BuildSource.ADMIN_DISPLAY_VERSION: "AdminDisplayVersion (CU only)",
    BuildSource.INPUT: "input",
}


def verdict_word(finding: Finding | None) -> str:
    """The word shown for a finding: PASS, FAIL (or the severity word), UNKNOWN, N/A."""
    if finding is None:
        return "N/A"
    if finding.verdict is Verdict.FAIL:
        return "FAIL" if finding.severity.rank >= Severity.ERROR.rank else finding.severity.word
    return {Verdict.PASS: "PASS", Verdict.UNKNOWN: "UNKNOWN", Verdict.NOT_APPLICABLE: "N/A"}[finding.verdict]


def finding_colours(finding: Finding | None) -> tuple[str, str]:
    if finding is None or finding.verdict is Verdict.NOT_APPLICABLE:
        return NEUTRAL
    if finding.verdict is Verdict.PASS:
        return SEVERITY_COLOURS[Severity.OK]
    return SEVERITY_COLOURS[finding.severity]


def finding_class(finding: Finding | None) -> str:
    if finding is None or finding.verdict is Verdict.NOT_APPLICABLE:
        return "na"
    if finding.verdict is Verdict.PASS:
        return "ok"
    return finding.severity.value


def severity_colours(severity: Severity) -> tuple[str, str]:
    return SEVERITY_COLOURS[severity]


def source_word(server: ServerReport) -> str:
    src = server.build.source
    return SOURCE_WORDS.get(src, "unknown") if src else "not collected"


def role_text(server: ServerReport) -> str:
    return ", ".join(server.server.roles) or ("Edge" if server.server.is_edge else "")


def finding_style(finding: Finding | None) -> tuple[str, str, str]:
    """(css class, background colour, word) for one status cell, in one call."""
    return finding_class(finding), finding_colours(finding)[0], verdict_word(finding)
