"""Exchange-shaped CLIXML objects (psrpcore PSObjects) for the simulated cmdlets.

What it does: builds ``Get-ExchangeServer`` and ``Get-OrganizationConfig`` objects in the shape real Exchange
servers give them (the Export-Clixml captures of Microsoft's Health Checker test data, E16 and E19): every
property those objects carry, in their order, in ``<Props>`` (adapted), a ``<ToString>``, the type names as the
server writes them (no ``Deserialized.`` prefix: that is what a client adds when it reads them),
``ServerVersion``/``ADObjectId``/``ExchangeObjectVersion``/``LocalLongFullPath``/``EnhancedTimeSpan`` sub-objects,
enums with their text, multi-valued properties as ``<Obj>`` holding an ``<LST>`` (``Nil`` when Exchange writes
Nil for an empty one: ``MitigationsApplied``, ``MitigationsBlocked``), lists of objects whose later items refer to
the type names of the first (``NetworkAddress``, ``<TNRef>``), and ``Id`` as a ``<Ref>`` to ``Identity``.
psrpcore's serializer writes them, so type-name and object references come out as PowerShell writes them.

What it must not do: decide which objects a cmdlet returns (``cmdlets``) or invent data that is not in the org
spec other than fixed, deterministic AD plumbing (GUIDs and dates derive from names).
"""

from __future__ import annotations

import datetime as dt
import uuid
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from psrpcore.types import (
    PSCustomObject,
    PSDateTime,
    PSEnumBase,
    PSFlagBase,
    PSGuid,
    PSInt,
    PSList,
    PSNoteProperty,
    PSObject,
    PSType,
    PSUInt,
    PSUri,
)

from eems_check.lab.orgfile import LabOrgSpec, ServerSpec

__all__ = [
    "exchange_server",
    "note_object",
    "organization_config",
]

_NS = uuid.UUID("6b0f1c1e-4c7e-4d5c-9b0e-0e1ab0e1ab00")
_ADMIN_GROUP = "Exchange Administrative Group (FYDIBOHF23SPDLT)"
_STRING = "System.String, mscorlib, Version=4.0.0.0, Culture=neutral, PublicKeyToken=b77a5c561934e089"
_EXCHANGE_DATA = "Microsoft.Exchange.Data, Version=15.0.0.0, Culture=neutral, PublicKeyToken=31bf3856ad364e35"
_CREATED = dt.datetime(2019, 12, 3, 22, 44, 44, tzinfo=dt.timezone.utc)


def _tn(*names: str) -> list[str]:
    return [*names, "System.Object"]


def adapted(type_names: list[str], props: list[tuple[str, Any]], to_string: str | None) -> PSObject:
    """A PSObject whose properties are adapted (``<Props>``) with the given type names and ToString."""
    obj = PSObject()
    obj.PSObject.type_names = list(type_names)
    for name, value in props:
        obj.PSObject.adapted_properties.append(PSNoteProperty(name, value))
    if to_string is not None:
        obj.PSObject.to_string = to_string
    return obj


def note_object(props: list[tuple[str, Any]], type_names: list[str] | None = None) -> PSObject:
    """A PSCustomObject with note properties (``<MS>``), as Select-Object/[PSCustomObject] produce."""
    obj = PSCustomObject()
    if type_names:
        obj.PSObject.type_names = [*type_names, *obj.PSObject.type_names]
    for name, value in props:
        obj.PSObject.extended_properties.append(PSNoteProperty(name, value))
    return obj


def _multi_valued(values: list[Any], element: str = _STRING, *, nil_when_empty: bool = True) -> PSList | None:
    """MultiValuedProperty<T> as ``<Obj><TN/><LST/></Obj>``; ``None`` (Nil) when empty, where Exchange does so."""
    if not values and nil_when_empty:
        return None
    lst = PSList(values)
    lst.PSObject.type_names = _tn(
        f"Microsoft.Exchange.Data.MultiValuedProperty`1[[{element}]]",
        "Microsoft.Exchange.Data.MultiValuedPropertyBase",
    )
    return lst


@PSType(["Microsoft.Exchange.Data.ServerEditionType"], rehydrate=False)
class ServerEditionType(PSEnumBase):
    """``Microsoft.Exchange.Data.ServerEditionType`` (ToString = edition name, value Int32)."""

    Unknown = 0
    Standard = 1
    StandardEvaluation = 2
    Enterprise = 3
    EnterpriseEvaluation = 4
    Coexistence = 5


@PSType(["Microsoft.Exchange.Data.Directory.SystemConfiguration.ServerRole"], rehydrate=False)
class ServerRole(PSFlagBase):
    """``ServerRole`` flags (a Mailbox server shows ``Mailbox`` = 2, an Edge server ``Edge`` = 64)."""

    none = 0
    Mailbox = 2
    ClientAccess = 4
    UnifiedMessaging = 16
    HubTransport = 32
    Edge = 64


@PSType(["Microsoft.Exchange.Data.ObjectState"], rehydrate=False)
class ObjectState(PSEnumBase):
    """``Microsoft.Exchange.Data.ObjectState`` (an object read from AD is ``Unchanged``)."""

    New = 0
    Unchanged = 1
    Changed = 2
    Deleted = 3


def _guid(*parts: str) -> PSGuid:
    return PSGuid(str(uuid.uuid5(_NS, "/".join(p.lower() for p in parts))))


def _dc_parts(domain: str) -> str:
    return ",".join(f"DC={p}" for p in domain.split("."))


def ad_object_id(*, name: str, dn: str, parent: str, depth: int, domain: str, to_string: str) -> PSObject:
    """``Microsoft.Exchange.Data.Directory.ADObjectId`` with ToString and Props incl. ``Name``."""
    return adapted(
        _tn("Microsoft.Exchange.Data.Directory.ADObjectId", "Microsoft.Exchange.Data.ObjectId"),
        [
            ("OrgHierarchyToIgnore", None),
            ("IsDeleted", False),
            ("Rdn", dn.split(",", 1)[0]),
            ("Parent", parent),
            ("Depth", depth),
            ("DistinguishedName", dn),
            ("IsRelativeDn", False),
            ("DomainId", domain),
            ("PartitionGuid", _guid("partition", domain)),
            ("PartitionFQDN", domain),
            ("ObjectGuid", _guid("object", dn)),
            ("Name", name),
        ],
        to_string,
    )


def server_version(build: tuple[int, int, int, int]) -> PSObject:
    """``ServerVersion`` (AdminDisplayVersion): ToString ``Version 15.2 (Build 1118.7)``."""
    major, minor, b, rev = build
    return adapted(
        _tn("Microsoft.Exchange.Data.ServerVersion"),
        [
            ("Major", major),
            ("Minor", minor),
            ("Build", b),
            ("Revision", rev),
            ("FilePatchLevelDescription", None),
        ],
        f"Version {major}.{minor} (Build {b}.{rev})",
    )


def _exchange_object_version(major: int = 0, minor: int = 1, build: str = "8.0.535.0") -> PSObject:
    return adapted(
        _tn("Microsoft.Exchange.Data.ExchangeObjectVersion"),
        [
            ("NextMajorVersion", f"{major + 1}.0 (0.0.0.0)"),
            ("NextMinorVersion", f"{major}.{minor + 1} (0.0.0.0)"),
            ("Major", major),
            ("Minor", minor),
            ("ExchangeBuild", build),
        ],
        f"{major}.{minor} ({build})",
    )


def _long_path(path: str) -> PSObject:
    return adapted(
        _tn("Microsoft.Exchange.Data.LocalLongFullPath", "Microsoft.Exchange.Data.LongPath"),
        [("PathName", path), ("IsLocalFull", True), ("IsUnc", False), ("DriveName", path[:2])],
        path,
    )


def _enhanced_time_span(days: int = 0) -> PSObject:
    text = f"{days}.00:00:00" if days else "00:00:00"
    ticks = days * 864_000_000_000
    props: list[tuple[str, Any]] = [
        ("Days", days), ("Hours", 0), ("Milliseconds", 0), ("Minutes", 0), ("Seconds", 0), ("Ticks", ticks),
        ("TotalDays", float(days)), ("TotalHours", days * 24.0), ("TotalMilliseconds", ticks / 10_000.0),
        ("TotalMinutes", days * 1440.0), ("TotalSeconds", ticks / 10_000_000.0), ("Sign", 1 if days else 0),
    ]
    return adapted(_tn("Microsoft.Exchange.Data.EnhancedTimeSpan", "System.ValueType"), props, text)


def _organization_id() -> PSObject:
    props: list[tuple[str, Any]] = [
        ("OrganizationalUnit", None), ("ConfigurationUnit", None), ("IsConsumerOrganization", False),
        ("IdForEventLog", ""),
    ]
    return adapted(_tn("Microsoft.Exchange.Data.Directory.OrganizationId"), props, "")


def _network_addresses(server: ServerSpec) -> PSList:
    """``NetworkAddress``: a collection of address objects, every one after the first naming the first one's
    type names by reference, as a real server writes them."""
    short = server.name.upper()
    pairs = [
        ("ncacn_vns_spp", short), ("netbios", short), ("ncacn_np", short), ("ncacn_spx", short),
        ("ncacn_ip_tcp", server.fqdn), ("ncalrpc", short),
    ]
    items = [
        adapted(
            _tn(
                "Microsoft.Exchange.Data.CustomNetworkAddress",
                "Microsoft.Exchange.Data.NetworkAddress",
                "Microsoft.Exchange.Data.ProtocolAddress",
            ),
            [("ProtocolType", protocol), ("AddressString", address)],
            f"{protocol}:{address}",
        )
        for protocol, address in pairs
    ]
    collection = PSList(items)
    element = f"Microsoft.Exchange.Data.NetworkAddress, {_EXCHANGE_DATA}"
    collection.PSObject.type_names = _tn(
        "Microsoft.Exchange.Data.NetworkAddressCollection",
        f"Microsoft.Exchange.Data.ProtocolAddressCollection`1[[{element}]]",
        f"Microsoft.Exchange.Data.MultiValuedProperty`1[[{element}]]",
        "Microsoft.Exchange.Data.MultiValuedPropertyBase",
    )
    return collection


def _uri(value: str | None) -> PSUri | None:
    if value is None:
        return None
    parts = urlsplit(value)
    text = value if parts.path else value + "/"
    return PSUri(text)


def _server_dn(org: LabOrgSpec, name: str) -> str:
    return (
        f"CN={name},CN=Servers,CN={_ADMIN_GROUP},CN=Administrative Groups,CN={org.name},"
        f"CN=Microsoft Exchange,CN=Services,CN=Configuration,{_dc_parts(org.domain)}"
    )


def _when(seed: str) -> PSDateTime:
    """A deterministic AD timestamp for an object (changed some days after the forest was built)."""
    offset = uuid.uuid5(_NS, seed).int % 1000
    return PSDateTime(_CREATED + dt.timedelta(days=offset, seconds=offset * 37))


def _schema_category(org: LabOrgSpec, name: str) -> PSObject:
    return ad_object_id(
        name=name,
        dn=f"CN={name},CN=Schema,CN=Configuration,{_dc_parts(org.domain)}",
        parent=f"{org.domain}/Configuration/Schema",
        depth=4,
        domain=org.domain,
        to_string=f"{org.domain}/Configuration/Schema/{name}",
    )


def _ad_tail(org: LabOrgSpec, identity: PSObject, dn: str, category: str, classes: list[str]) -> list[tuple[str, Any]]:
    """The properties every AD-backed Exchange object ends with, in Exchange's order."""
    created = _when(dn + "/created")
    changed = _when(dn)
    return [
        ("IsValid", True),
        ("ExchangeVersion", _exchange_object_version()),
        ("DistinguishedName", dn),
        ("Guid", _guid("object", dn)),
        ("ObjectCategory", _schema_category(org, category)),
        ("ObjectClass", _multi_valued(classes)),
        ("WhenChanged", changed),
        ("WhenCreated", created),
        ("WhenChangedUTC", changed),
        ("WhenCreatedUTC", created),
        ("OrganizationId", _organization_id()),
        ("Id", identity),  # the same object as Identity: PowerShell writes it as a <Ref>
        ("OriginatingServer", org.domain_controller),
        ("ObjectState", ObjectState.Unchanged),
    ]


def exchange_server(server: ServerSpec, org: LabOrgSpec) -> PSObject:
    """One ``Get-ExchangeServer`` result object, with the 58 properties of a real one, in their order."""
    roles = ServerRole.none
    for role in server.roles:
        roles |= ServerRole[role]
    site = ad_object_id(
        name=server.site,
        dn=f"CN={server.site},CN=Sites,CN=Configuration,{_dc_parts(org.domain)}",
        parent=f"{org.domain}/Configuration/Sites",
        depth=4,
        domain=org.domain,
        to_string=f"{org.domain}/Configuration/Sites/{server.site}",
    )
    dn = _server_dn(org, server.name)
    identity = ad_object_id(
        name=server.name, dn=dn, parent="Servers", depth=9, domain=org.domain, to_string=server.name
    )
    legacy_dn = f"/o={org.name}/ou={_ADMIN_GROUP}/cn=Configuration/cn=Servers/cn={server.name}"
    is_mbx = server.is_mailbox
    controllers = [org.domain_controller]
    advertised = server.fault("fqdn_as")
    props: list[tuple[str, Any]] = [
        ("Name", server.name),
        ("DataPath", _long_path(server.install_path.rstrip("\\") + "\\Mailbox")),
        ("Domain", org.domain),
        ("Edition", ServerEditionType[server.edition]),
        ("ExchangeLegacyDN", legacy_dn),
        ("ExchangeLegacyServerRole", 0),
        ("Fqdn", advertised.fqdn if advertised is not None else server.fqdn),
        ("CustomerFeedbackEnabled", False),
        ("InternetWebProxy", _uri(server.eems.internet_web_proxy)),
        ("InternetWebProxyBypassList", None),
        ("IsHubTransportServer", is_mbx or "HubTransport" in server.roles),
        ("IsClientAccessServer", is_mbx or "ClientAccess" in server.roles),
        ("IsExchange2007OrLater", True),
        ("IsEdgeServer", server.is_edge),
        ("IsMailboxServer", is_mbx),
        ("IsE14OrLater", True),
        ("IsE15OrLater", True),
        ("IsProvisionedServer", False),
        ("IsUnifiedMessagingServer", "UnifiedMessaging" in server.roles),
        ("IsFrontendTransportServer", is_mbx),
        ("NetworkAddress", _network_addresses(server)),
        ("OrganizationalUnit", f"{org.domain}/{server.name}"),
        ("AdminDisplayVersion", server_version(server.cu_build)),
        ("Site", site),
        ("ServerRole", roles),
        ("ErrorReportingEnabled", False),
        ("MitigationsEnabled", server.eems.enabled),
        ("StaticDomainControllers", _multi_valued([], nil_when_empty=False)),
        ("StaticGlobalCatalogs", _multi_valued([], nil_when_empty=False)),
        ("StaticConfigDomainController", ""),
        ("StaticExcludedDomainControllers", _multi_valued([], nil_when_empty=False)),
        ("MonitoringGroup", ""),
        ("CurrentDomainControllers", _multi_valued(controllers)),
        ("CurrentGlobalCatalogs", _multi_valued(controllers)),
        ("CurrentConfigDomainController", org.domain_controller),
        ("ProductID", ""),
        ("IsExchangeTrialEdition", False),
        ("IsExpiredExchangeTrialEdition", False),
        ("MailboxProvisioningAttributes", None),
        ("RemainingTrialPeriod", _enhanced_time_span()),
        ("MitigationsApplied", _multi_valued(list(server.eems.applied))),
        ("MitigationsBlocked", _multi_valued(list(server.eems.blocked))),
        ("DataCollectionEnabled", server.eems.data_collection_enabled),
        ("Identity", identity),
        *_ad_tail(org, identity, dn, "ms-Exch-Exchange-Server", ["top", "server", "msExchExchangeServer"]),
    ]
    return adapted(
        _tn(
            "Microsoft.Exchange.Data.Directory.Management.ExchangeServer",
            "Microsoft.Exchange.Data.Directory.Management.ADPresentationObject",
            "Microsoft.Exchange.Data.Directory.ADObject",
            "Microsoft.Exchange.Data.Directory.ADRawEntry",
            "Microsoft.Exchange.Data.ConfigurableObject",
        ),
        props,
        server.name,
    )


@cache
def _organization_config_rows() -> tuple[tuple[str, str], ...]:
    text = (resources.files(__package__) / "organization-config.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in text.splitlines() if line and not line.startswith("#")]
    return tuple((name, kind) for name, kind in rows)


def _filler(kind: str) -> Any:
    """The value of a property the lab has no opinion on, by the kind a real server writes it as."""
    if kind == "B":
        return False
    if kind == "S":
        return ""
    if kind in ("I32", "U32"):
        return PSInt(0) if kind == "I32" else PSUInt(0)
    if kind == "DT":
        return PSDateTime(_CREATED)
    if kind == "list":
        return _multi_valued([], nil_when_empty=False)
    if kind.startswith("enum:"):
        _, type_name, text = kind.split(":", 2)
        return _plain_enum(type_name, text)
    return None  # Nil, and sub-objects the lab does not model (quotas, naming policies): their Nil is read alike


@cache
def _plain_enum(type_name: str, text: str) -> Any:
    members: Any = PSEnumBase(type_name.rsplit(".", 1)[-1], [(text, 0)])  # type: ignore[arg-type]
    return PSType([type_name], rehydrate=False)(members)[text]


def organization_config(org: LabOrgSpec) -> PSObject:
    """The ``Get-OrganizationConfig`` object: every property of a real one (``organization-config.tsv``) in its
    order; MitigationsEnabled Nil when the org says null."""
    dn = f"CN={org.name},CN=Microsoft Exchange,CN=Services,CN=Configuration,{_dc_parts(org.domain)}"
    identity = ad_object_id(
        name=org.name, dn=dn, parent="Microsoft Exchange", depth=5, domain=org.domain, to_string=org.name
    )
    classes = ["top", "container", "msExchOrganizationContainer"]
    tail = dict(_ad_tail(org, identity, dn, "ms-Exch-Organization-Container", classes))
    known: dict[str, Any] = {
        **tail,
        "OrganizationId": _organization_id(),
        "Name": org.name,
        "Identity": identity,
        "Guid": _guid("org", org.name),
        "ObjectVersion": 16759,
        "DefaultPublicFolderDeletedItemRetention": _enhanced_time_span(30),
        "DefaultPublicFolderMovedItemRetention": _enhanced_time_span(7),
        "MitigationsEnabled": org.mitigations_enabled,
        "LegacyExchangeDN": f"/o={org.name}",
        "DisplayName": org.name,
        "AdminDisplayVersion": _exchange_object_version(0, 20, "15.1.0.0"),
        "RBACConfigurationVersion": _exchange_object_version(0, 1, "15.2.986.5"),
        "PreviousAdminDisplayVersion": _exchange_object_version(0, 10, "14.0.100.0"),
        "MicrosoftExchangeRecipientEmailAddresses": _multi_valued(
            [f"SMTP:MicrosoftExchange@{org.domain}", f"smtp:exchange-recipient@{org.domain}"]
        ),
    }
    props = [(name, known[name] if name in known else _filler(kind)) for name, kind in _organization_config_rows()]
    return adapted(
        _tn(
            "Microsoft.Exchange.Data.Directory.Management.OrganizationConfig",
            "Microsoft.Exchange.Data.Directory.Management.ADPresentationObject",
            "Microsoft.Exchange.Data.Directory.ADObject",
            "Microsoft.Exchange.Data.Directory.ADRawEntry",
            "Microsoft.Exchange.Data.ConfigurableObject",
        ),
        props,
        org.name,
    )
