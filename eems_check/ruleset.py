"""Load, validate and merge rule sets: the bundled one plus any `--rules` overrides.

A rule set is YAML with `schema_version`, `rules_version`, `as_of`, sources, products, ESU periods, CU-line
servicing facts, the build catalogue and the rules. Overrides merge into the bundled set: rules by `id`, builds by
`build`, products by `id`, branches by `product` + `cu`, ESU periods by `name`. Every problem is reported as one
line naming the file and line. This module only reads files; it judges nothing.
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .builds import Branch, BuildEntry, Catalogue, Product, parse_build, parse_date
from .conditions import COMMON_FACTS, KINDS, EsuPeriod
from .errors import BuildParseError, RulesError
from .inputfile import YAML_LIMIT, read_regular, shown
from .model import Remediation, Severity
from .yamlload import LDict, LList, YamlSyntaxError, load_located

SCHEMA_VERSION = 1
BUNDLED_NAME = "rules.yaml"


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    category: str
    severity: Severity
    kind: str
    params: Mapping[str, Any]
    message: str
    remediation: Remediation | None
    overview: str | None
    problem: str | None  # the check named as a problem, shown instead of `title` when it fails
    unknown_severity: Severity
    enabled: bool
    sources: tuple[str, ...]
    origin: str  # file:line where it was (last) defined


@dataclass(frozen=True)
class Source:
    key: str
    title: str
    url: str | None


@dataclass(frozen=True)
class RuleSet:
    schema_version: int
    rules_version: str
    as_of: dt.date
    sources: tuple[Source, ...]
    catalogue: Catalogue
    esu_periods: tuple[EsuPeriod, ...]
    rules: tuple[Rule, ...]
    files: tuple[str, ...]

    @property
    def active_rules(self) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if r.enabled)

    @property
    def build_count(self) -> int:
        return sum(len(b.builds) for b in self.catalogue.branches)


_TOP_KEYS = {
    "schema_version",
    "rules_version",
    "as_of",
    "sources",
    "products",
    "esu_periods",
    "branches",
    "builds",
    "rules",
}
_PRODUCT_KEYS = {
    "id",
    "name",
    "short_name",
    "version",
    "lifecycle",
    "mainstream_end",
    "extended_support_end",
    "eems_from",
    "legacy",
}
_BUILD_KEYS = {"product", "label", "build", "released", "kind", "verified", "conflict", "kb", "release_post"}
_BRANCH_KEYS = {"product", "cu", "serviced_until"}
_ESU_KEYS = {"name", "start", "end", "branches"}
_SOURCE_KEYS = {"key", "title", "url"}
_RULE_KEYS = {
    "id",
    "title",
    "category",
    "severity",
    "overview",
    "condition",
    "message",
    "problem",
    "remediation",
    "unknown_severity",
    "enabled",
    "sources",
}
_KINDS_OF_BUILD = {"RTM", "CU", "SU", "HU"}
_SEVERITIES = {s.value for s in Severity if s is not Severity.OK}


class _Checker:
    """Small helpers that raise RulesError('file:line: problem')."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, line: int, problem: str) -> RulesError:
        return RulesError(f"{self.file}:{line}: {problem}")

    def mapping(self, value: Any, line: int, where: str) -> LDict:
        if not isinstance(value, LDict):
            raise self.fail(line, f"{where} must be a mapping, not {_typename(value)}")
        return value

    def sequence(self, value: Any, line: int, where: str) -> LList:
        if not isinstance(value, LList):
            raise self.fail(line, f"{where} must be a list, not {_typename(value)}")
        return value

    def keys(self, d: LDict, where: str, allowed: set[str], required: set[str]) -> None:
        for key in d:
            if key not in allowed:
                raise self.fail(
                    d.line_of(key), f"unknown key {shown(key)} in {where} (allowed: {', '.join(sorted(allowed))})"
                )
        for key in sorted(required):
            if key not in d:
                raise self.fail(d.line, f"{where} is missing the required key {shown(key)}")

    def present(self, d: LDict, key: str, where: str, nullable: bool = False) -> Any:
        """The value of `key`, None when absent; a key left empty (`message:`, `enabled: null`) is an error,
        because evaluation would read it as a value (an empty `enabled:` silently switched a rule off)."""
        value = d.get(key)
        if value is None and key in d and not nullable:
            raise self.fail(d.line_of(key), f"{where}.{key} is empty: give it a value or leave the key out")
        return value

    def text(self, d: LDict, key: str, where: str, nullable: bool = False) -> str | None:
        value = self.present(d, key, where, nullable)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(d.line_of(key), f"{where}.{key} must be non-empty text, not {_typename(value)}")
        return value

    def date(self, d: LDict, key: str, where: str, month_ok: bool = False, nullable: bool = False) -> str | None:
        value = self.text(d, key, where, nullable)
        if value is None:
            return None
        try:
            _, approx = parse_date(value)
        except ValueError:
            raise self.fail(d.line_of(key), f"{where}.{key} must be a date YYYY-MM-DD, not {shown(value)}") from None
        if approx and not month_ok:
            raise self.fail(d.line_of(key), f"{where}.{key} must be a full date YYYY-MM-DD, not {shown(value)}")
        return value

    def boolean(self, d: LDict, key: str, where: str) -> bool | None:
        value = self.present(d, key, where)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise self.fail(d.line_of(key), f"{where}.{key} must be true or false, not {_typename(value)}")
        return value

    def severity(self, d: LDict, key: str, where: str) -> str | None:
        value = self.text(d, key, where)
        if value is not None and value not in _SEVERITIES:
            raise self.fail(
                d.line_of(key), f"{where}.{key} must be one of {', '.join(sorted(_SEVERITIES))}, not {shown(value)}"
            )
        return value


def _typename(value: Any) -> str:
    if value is None:
        return "empty"
    return {
        LDict: "a mapping",
        LList: "a list",
        str: "text",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _read_text(path: Path) -> str:
    raw = read_regular(path, limit=YAML_LIMIT, error=RulesError)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulesError(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def parse_document(text: str, file: str, *, bundled: bool = False) -> LDict:
    """Parse and validate one rules document on its own (an override may hold any subset of sections)."""
    check = _Checker(file)
    try:
        doc = load_located(text)
    except YamlSyntaxError as exc:
        raise check.fail(exc.line, f"invalid YAML: {exc.problem}") from None
    if doc is None:
        raise check.fail(1, "the file is empty")
    doc = check.mapping(doc, 1, "the document")
    check.keys(doc, "the document", _TOP_KEYS, {"schema_version"} | ({"rules_version", "as_of"} if bundled else set()))
    if doc["schema_version"] != SCHEMA_VERSION or isinstance(doc["schema_version"], bool):
        raise check.fail(
            doc.line_of("schema_version"),
            f"schema_version {shown(doc['schema_version'])} is not supported (this version reads {SCHEMA_VERSION})",
        )
    check.text(doc, "rules_version", "the document")
    check.date(doc, "as_of", "the document")
    for section, validate in (
        ("sources", _check_source),
        ("products", _check_product),
        ("esu_periods", _check_esu),
        ("branches", _check_branch),
        ("builds", _check_build),
        ("rules", _check_rule),
    ):
        if section not in doc:
            continue
        items = check.sequence(doc[section], doc.line_of(section), section)
        seen: dict[Any, int] = {}
        for index, item in enumerate(items):
            line = items.line_of(index)
            entry = check.mapping(item, line, f"{section}[{index}]")
            key = validate(check, entry, f"{section}[{index}]")
            if key in seen:
                raise check.fail(
                    line, f"duplicate {section[:-1].replace('_', ' ')} {_show_key(key)} (first at line {seen[key]})"
                )
            seen[key] = line
    return doc


def _show_key(key: Any) -> str:
    return " ".join(str(k) for k in key) if isinstance(key, tuple) else shown(key)


def _check_source(check: _Checker, d: LDict, where: str) -> Any:
    check.keys(d, where, _SOURCE_KEYS, {"key", "title"})
    for key in _SOURCE_KEYS:
        check.text(d, key, where)
    return d["key"]


def _check_product(check: _Checker, d: LDict, where: str) -> Any:
    check.keys(d, where, _PRODUCT_KEYS, {"id"})
    for key in ("id", "name", "short_name", "version", "eems_from"):
        check.text(d, key, where)
    if "version" in d and not re.fullmatch(r"\d{1,2}(\.\d{1,2})?", d["version"], re.ASCII):
        raise check.fail(d.line_of("version"), f"{where}.version must look like 15.2, not {shown(d['version'])}")
    if d.get("lifecycle") not in (None, "fixed", "modern"):
        raise check.fail(d.line_of("lifecycle"), f"{where}.lifecycle must be fixed or modern")
    check.date(d, "mainstream_end", where)
    check.date(d, "extended_support_end", where)
    check.boolean(d, "legacy", where)
    return d["id"]


def _check_esu(check: _Checker, d: LDict, where: str) -> Any:
    check.keys(d, where, _ESU_KEYS, _ESU_KEYS)
    check.text(d, "name", where)
    check.date(d, "start", where)
    check.date(d, "end", where)
    branches = check.sequence(d["branches"], d.line_of("branches"), f"{where}.branches")
    for i, b in enumerate(branches):
        if not isinstance(b, str) or len(b.split()) != 2:
            raise check.fail(branches.line_of(i), f'{where}.branches[{i}] must be like "2019 CU15", not {shown(b)}')
    return d["name"]


def _check_branch(check: _Checker, d: LDict, where: str) -> Any:
    check.keys(d, where, _BRANCH_KEYS, {"product", "cu", "serviced_until"})
    check.text(d, "product", where)
    check.text(d, "cu", where)
    check.date(d, "serviced_until", where, nullable=True)  # null: serviced with no announced end
    return (d["product"], d["cu"])


def _check_build(check: _Checker, d: LDict, where: str) -> Any:
    check.keys(d, where, _BUILD_KEYS, {"product", "label", "build", "released", "kind"})
    for key in ("product", "label", "build", "conflict"):
        check.text(d, key, where)
    kb = check.text(d, "kb", where)
    if kb is not None and not re.fullmatch(r"KB\d{6,8}", kb):
        raise check.fail(d.line_of("kb"), f"{where}.kb must look like KB5094139, not {kb!r}")
    post = check.text(d, "release_post", where)
    if post is not None and not re.fullmatch(r"https://[^\s\"'<>]+", post):
        raise check.fail(d.line_of("release_post"), f"{where}.release_post must be an https:// address, not {post!r}")
    check.date(d, "released", where, month_ok=True)
    check.boolean(d, "verified", where)
    check.text(d, "kind", where)
    if d["kind"] not in _KINDS_OF_BUILD:
        raise check.fail(d.line_of("kind"), f"{where}.kind must be one of RTM, CU, SU, HU, not {shown(d['kind'])}")
    try:
        parsed = parse_build(d["build"])
    except BuildParseError as exc:
        raise check.fail(d.line_of("build"), f"{where}.build: {exc}") from None
    if len(parsed.parts) != 4 or parsed.spelling == "admin_display_version":
        raise check.fail(
            d.line_of("build"), f"{where}.build must have four parts like 15.2.1118.26, not {shown(d['build'])}"
        )
    label = d["label"].split()
    if d["kind"] in ("RTM", "CU") and len(label) != 1:
        raise check.fail(d.line_of("label"), f"{where}.label of a {d['kind']} row is the CU alone (e.g. CU15)")
    if d["kind"] in ("SU", "HU") and len(label) != 2:
        raise check.fail(
            d.line_of("label"), f'{where}.label of an {d["kind"]} row is "<CU> <update>" (e.g. CU15 Feb26SU)'
        )
    return parsed.version


def _check_rule(check: _Checker, d: LDict, where: str) -> Any:
    check.keys(d, where, _RULE_KEYS, {"id"})
    for key in ("id", "title", "category", "overview", "message", "problem"):
        check.text(d, key, where)
    check.severity(d, "severity", where)
    check.severity(d, "unknown_severity", where)
    check.boolean(d, "enabled", where)
    if "sources" in d:
        srcs = check.sequence(d["sources"], d.line_of("sources"), f"{where}.sources")
        for i, s in enumerate(srcs):
            if not isinstance(s, str):
                raise check.fail(srcs.line_of(i), f"{where}.sources[{i}] must be text")
    if "remediation" in d:
        rem = check.mapping(d["remediation"], d.line_of("remediation"), f"{where}.remediation")
        check.keys(rem, f"{where}.remediation", {"text", "url"}, {"text"})
        check.text(rem, "text", f"{where}.remediation")
        url = check.text(rem, "url", f"{where}.remediation")
        if url is not None and not _is_web_link(url):
            raise check.fail(
                rem.line_of("url"), f"{where}.remediation.url must be an https:// or http:// link, not {shown(url)}"
            )
    if "condition" in d:
        cond = check.mapping(d["condition"], d.line_of("condition"), f"{where}.condition")
        check.keys(cond, f"{where}.condition", {"kind", "params"}, {"kind"})
        kind = check.text(cond, "kind", f"{where}.condition")
        if kind not in KINDS:
            raise check.fail(
                cond.line_of("kind"), f"{where}.condition.kind {shown(kind)} is not one of: {', '.join(sorted(KINDS))}"
            )
        spec = KINDS[kind]
        params = cond.get("params") or LDict()
        params = check.mapping(params, cond.line_of("params"), f"{where}.condition.params")
        check.keys(
            params,
            f"{where}.condition.params ({kind})",
            set(spec.params),
            {n for n, p in spec.params.items() if p.required},
        )
        for name, value in params.items():
            param = spec.params[name]
            if not _is_a(value, param.type):
                raise check.fail(
                    params.line_of(name),
                    f"{where}.condition.params.{name} must be {_typename(param.type())}, not {_typename(value)}",
                )
            if param.item is not None:
                for i, item in enumerate(value):
                    if not _is_a(item, param.item) or (isinstance(item, str) and not item.strip()):
                        raise check.fail(
                            value.line_of(i),
                            f"{where}.condition.params.{name}[{i}] must be {_typename(param.item())}"
                            f"{' (non-empty)' if param.item is str else ''}, not {_typename(item)} {shown(item)}",
                        )
        if kind == "eems_min_update":
            check.date(params, "since", f"{where}.condition.params")
        if kind == "mitigation_stands_in":
            check.date(params, "fixed_since", f"{where}.condition.params")
        for name in ("esu_severity", "partial_severity"):
            if name in params:
                check.severity(params, name, f"{where}.condition.params")
    return d["id"]


def _is_a(value: Any, want: type) -> bool:
    return isinstance(value, want) and not (want is int and isinstance(value, bool))


def _is_web_link(url: str) -> bool:
    """Only http(s) links reach a report or a mail: `javascript:` or `data:` would run in the reader's browser."""
    parts = urlsplit(url.strip())
    return parts.scheme.lower() in ("https", "http") and bool(parts.netloc) and not any(c.isspace() for c in url)


def _check_message_fields(check: _Checker, d: LDict, where: str, kind: str) -> None:
    """Messages may quote facts as plain `{fact}`; each is formatted once here with placeholder facts, exactly as
    evaluation formats it, so that a file `rules validate` passes cannot fail after a whole scan."""
    allowed = set(COMMON_FACTS) | set(KINDS[kind].facts)
    placeholders = dict.fromkeys(allowed, "x")
    texts = [(name, d.get(name), d.line_of(name)) for name in ("message", "problem")]
    rem = d.get("remediation")
    if isinstance(rem, LDict):
        texts.append(("remediation.text", rem.get("text"), rem.line_of("text")))
    for name, text, line in texts:
        if not isinstance(text, str):
            continue
        try:
            parts = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise check.fail(line, f"{where}.{name}: bad braces: {exc}") from None
        for _, field, spec, conversion in parts:
            if field is None:
                continue
            if field not in allowed and field.split(".")[0].split("[")[0] not in allowed:
                raise check.fail(
                    line,
                    f"{where}.{name} uses {{{shown(field, 40)[1:-1]}}}, which condition {kind} does not provide "
                    f"(available: {', '.join(sorted(allowed))})",
                )
            if field not in allowed or spec or conversion:
                written = shown(f"{{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}", 40)
                raise check.fail(
                    line,
                    f"{where}.{name} uses {written[1:-1]}: only a plain {{fact}} is allowed, "
                    "without attributes, indexes or format specs",
                )
        try:
            text.format_map(placeholders)
        except (KeyError, ValueError, AttributeError, IndexError, TypeError) as exc:
            raise check.fail(line, f"{where}.{name} cannot be formatted: {shown(str(exc), 80)}") from None


def bundled_path() -> Path:
    return Path(str(resources.files("eems_check") / "data" / BUNDLED_NAME))


def _merge_list(base: list[tuple[Any, LDict, str]], items: LList | None, keyf: Any, file: str, whole: bool) -> None:
    if not items:
        return
    index = {key: i for i, (key, _, _) in enumerate(base)}
    for pos, item in enumerate(items):
        key = keyf(item)
        origin = f"{file}:{items.line_of(pos)}"
        if key in index and not whole:
            _, old, _ = base[index[key]]
            merged = LDict(old)
            merged.line, merged.lines = old.line, {**old.lines, **item.lines}
            merged.update(item)
            base[index[key]] = (key, merged, origin)
        elif key in index:
            base[index[key]] = (key, item, origin)
        else:
            index[key] = len(base)
            base.append((key, item, origin))


@cache
def _bundled_document() -> tuple[str, LDict]:
    """The package's own rules, parsed once per process (merging copies what it changes, never this)."""
    path = bundled_path()
    return str(path), parse_document(_read_text(path), str(path), bundled=True)


def load_ruleset(overrides: list[Path] | tuple[Path, ...] = (), *, bundled: Path | None = None) -> RuleSet:
    """The bundled rule set with `overrides` merged in order; raises RulesError naming file and line."""
    if bundled is None:
        docs = [_bundled_document()]
    else:
        docs = [(str(bundled), parse_document(_read_text(bundled), str(bundled), bundled=True))]
    for path in overrides:
        docs.append((str(path), parse_document(_read_text(path), str(path))))
    return _build(docs)


def _build(docs: list[tuple[str, LDict]]) -> RuleSet:
    sections: dict[str, list[tuple[Any, LDict, str]]] = {
        k: [] for k in ("sources", "products", "esu_periods", "branches", "builds", "rules")
    }
    keyfs = {
        "sources": lambda d: d["key"],
        "products": lambda d: d["id"],
        "esu_periods": lambda d: d["name"],
        "branches": lambda d: (d["product"], d["cu"]),
        "builds": lambda d: parse_build(d["build"]).version,
        "rules": lambda d: d["id"],
    }
    rules_version, as_of = "", dt.date.min
    for file, doc in docs:
        for section, keyf in keyfs.items():
            _merge_list(
                sections[section], doc.get(section), keyf, file, whole=section in ("builds", "sources", "esu_periods")
            )
        if "rules_version" in doc:
            rules_version = doc["rules_version"] if not rules_version else f"{rules_version}+{doc['rules_version']}"
        if "as_of" in doc:
            as_of = max(as_of, dt.date.fromisoformat(doc["as_of"]))
    files = tuple(f for f, _ in docs)
    return RuleSet(
        schema_version=SCHEMA_VERSION,
        rules_version=rules_version,
        as_of=as_of,
        sources=tuple(Source(d["key"], d["title"], d.get("url")) for _, d, _ in sections["sources"]),
        catalogue=_catalogue(sections),
        esu_periods=tuple(
            EsuPeriod(
                d["name"], dt.date.fromisoformat(d["start"]), dt.date.fromisoformat(d["end"]), tuple(d["branches"])
            )
            for _, d, _ in sections["esu_periods"]
        ),
        rules=tuple(_rule(d, origin) for _, d, origin in sections["rules"]),
        files=files,
    )


def _origin_fail(origin: str, problem: str) -> RulesError:
    return RulesError(f"{origin}: {problem}")


def _catalogue(sections: dict[str, list[tuple[Any, LDict, str]]]) -> Catalogue:
    products: dict[str, Product] = {}
    for _, d, origin in sections["products"]:
        for key in ("name", "version"):
            if key not in d:
                raise _origin_fail(origin, f"product {shown(d['id'])} is missing the required key {shown(key)}")
        products[d["id"]] = Product(
            id=d["id"],
            name=d["name"],
            short_name=d.get("short_name") or d["name"].replace("Exchange Server", "Exchange"),
            version=tuple(int(p) for p in d["version"].split(".")),
            lifecycle=d.get("lifecycle", "fixed"),
            mainstream_end=_opt_date(d.get("mainstream_end")),
            extended_support_end=_opt_date(d.get("extended_support_end")),
            eems_from=d.get("eems_from"),
            legacy=bool(d.get("legacy", False)),
        )
    entries: dict[tuple[str, str], list[BuildEntry]] = {}
    for _, d, origin in sections["builds"]:
        if d["product"] not in products:
            raise _origin_fail(origin, f"build {d['build']} names an unknown product {shown(d['product'])}")
        product = products[d["product"]]
        parsed = parse_build(d["build"])
        if parsed.parts[: len(product.version)] != product.version:
            raise _origin_fail(
                origin,
                f"build {d['build']} does not belong to {product.name} (version {'.'.join(map(str, product.version))})",
            )
        released, approx = parse_date(d["released"])
        entry = BuildEntry(
            product.id,
            d["label"],
            parsed.version,
            released,
            approx,
            d["kind"],
            bool(d.get("verified", True)),
            d.get("conflict"),
            d.get("kb"),
            d.get("release_post"),
        )
        entries.setdefault((product.id, entry.cu), []).append(entry)
    servicing = {(d["product"], d["cu"]): d.get("serviced_until") for _, d, _ in sections["branches"]}
    branches: list[Branch] = []
    for (pid, cu), rows in entries.items():
        rows.sort(key=lambda e: e.version)
        heads = [e for e in rows if e.kind in ("RTM", "CU")]
        if len(heads) != 1 or rows[0] is not heads[0]:
            raise RulesError(f"rules: CU line {pid} {cu} needs exactly one RTM/CU row, and it must be its lowest build")
        keys = {e.line_key for e in rows}
        if len(keys) != 1:
            raise RulesError(
                f"rules: the builds of {pid} {cu} do not share one CU build number "
                f"({', '.join(sorted('.'.join(map(str, k)) for k in keys))})"
            )
        open_ended = (pid, cu) in servicing and servicing[(pid, cu)] is None
        until = _opt_date(servicing.get((pid, cu)))
        branches.append(Branch(products[pid], cu, tuple(rows), until, open_ended))
    by_key: dict[tuple[int, int, int], Branch] = {}
    for b in branches:
        if b.line_key in by_key:
            raise RulesError(
                f"rules: {b.name} and {by_key[b.line_key].name} share CU build {'.'.join(map(str, b.line_key))}"
            )
        by_key[b.line_key] = b
    for (pid, cu), _ in servicing.items():
        if not any(b.product.id == pid and b.cu == cu for b in branches):
            raise RulesError(f"rules: branches names {pid} {cu}, which has no builds")
    return Catalogue(tuple(products.values()), tuple(sorted(branches, key=lambda b: b.line_key)))


def _opt_date(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _rule(d: LDict, origin: str) -> Rule:
    check = _Checker(origin.rsplit(":", 1)[0])
    where = f"rule {shown(d['id'])}"
    for key in ("title", "severity", "condition", "message"):
        if key not in d:
            raise _origin_fail(origin, f"{where} is missing the required key {shown(key)}")
    kind = d["condition"]["kind"]
    _check_message_fields(check, d, where, kind)
    rem = d.get("remediation")
    return Rule(
        id=d["id"],
        title=d["title"],
        category=d.get("category", "General"),
        severity=Severity(d["severity"]),
        kind=kind,
        params=dict(d["condition"].get("params") or {}),
        message=d["message"],
        remediation=Remediation(rem["text"], rem.get("url")) if rem else None,
        overview=d.get("overview"),
        problem=d.get("problem"),
        unknown_severity=Severity(d.get("unknown_severity", "warning")),
        enabled=bool(d.get("enabled", True)),
        sources=tuple(d.get("sources") or ()),
        origin=origin,
    )


def validate_file(path: Path) -> RuleSet:
    """Validate one override file on its own and merged over the bundled rules."""
    return load_ruleset([path])
