"""Exchange-shaped CLIXML objects (psrpcore PSObjects) for the simulated cmdlets.

What it does: builds ``Get-ExchangeServer`` and ``Get-OrganizationConfig`` objects the way real
Exchange sends them over remote PowerShell (reference remoting.md §8.6/§9, CSS-Exchange Health Checker
captures): properties in ``<Props>`` (adapted), a ``<ToString>``, ``Deserialized.``-prefixed type
names, ``ServerVersion``/``ADObjectId``/``ExchangeObjectVersion`` sub-objects, enums with their text,
multi-valued properties as ``<LST>`` (``Nil`` when empty), ``InternetWebProxy`` as a ``<URI>``.

What it must not do: decide which objects a cmdlet returns (``cmdlets``) or invent data that is not
in the org spec other than fixed, deterministic AD plumbing (GUIDs derive from names).
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from psrpcore.types import (
    PSCustomObject,
    PSEnumBase,
    PSFlagBase,
    PSGuid,
    PSList,
    PSNoteProperty,
    PSObject,
    PSType,
    PSUri,
)

from eems_check.lab.orgfile import LabOrgSpec, ServerSpec

__all__ = [
    "DESERIALIZED",
    "exchange_server",
    "note_object",
    "organization_config",
]

# Prefix of every type name the lab sends (see the brief; real captures are Export-Clixml on the
# server, which shows the names without it).
DESERIALIZED = "Deserialized."
_NS = uuid.UUID("6b0f1c1e-4c7e-4d5c-9b0e-0e1ab0e1ab00")
_ADMIN_GROUP = "Exchange Administrative Group (FYDIBOHF23SPDLT)"


def _tn(*names: str) -> list[str]:
    return [DESERIALIZED + n for n in (*names, "System.Object")]


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


def _multi_valued(values: tuple[str, ...], element: str = "System.String") -> PSList | None:
    """MultiValuedProperty<T> as ``<Obj><TN/><LST/></Obj>``; ``None`` (Nil) when empty, as Exchange does."""
    if not values:
        return None
    lst = PSList(values)
    lst.PSObject.type_names = _tn(
        f"Microsoft.Exchange.Data.MultiValuedProperty`1[[{element}, mscorlib, Version=4.0.0.0, "
        "Culture=neutral, PublicKeyToken=b77a5c561934e089]]",
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


def _deserialized_enum_names(cls: type) -> None:
    names = [DESERIALIZED + n for n in cls.PSObject.type_names]  # type: ignore[attr-defined]
    cls.PSObject.type_names = names  # type: ignore[attr-defined]
    for member in cls:  # type: ignore[attr-defined]
        member.PSObject.type_names = list(names)


_deserialized_enum_names(ServerEditionType)
_deserialized_enum_names(ServerRole)


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


def _exchange_object_version() -> PSObject:
    return adapted(
        _tn("Microsoft.Exchange.Data.ExchangeObjectVersion"),
        [
            ("NextMajorVersion", "1.0 (0.0.0.0)"),
            ("NextMinorVersion", "0.2 (0.0.0.0)"),
            ("Major", 0),
            ("Minor", 1),
            ("ExchangeBuild", "8.0.535.0"),
        ],
        "0.1 (8.0.535.0)",
    )


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


_SERVER_OBJECTS: dict[tuple[int, str], tuple[LabOrgSpec, PSObject]] = {}


def exchange_server(server: ServerSpec, org: LabOrgSpec) -> PSObject:
    """One ``Get-ExchangeServer`` result object. Specs are frozen, so it is built (and serialised) once per
    org and server and then shared: nothing in the lab changes an object it has emitted."""
    key = (id(org), server.name)
    hit = _SERVER_OBJECTS.get(key)
    if hit is not None and hit[0] is org:
        return hit[1]
    obj = _exchange_server(server, org)
    if len(_SERVER_OBJECTS) >= 20000:
        _SERVER_OBJECTS.clear()
    _SERVER_OBJECTS[key] = (org, obj)
    return obj


def _exchange_server(server: ServerSpec, org: LabOrgSpec) -> PSObject:
    roles = ServerRole.none
    for role in server.roles:
        roles |= ServerRole[role]
    site_dn = f"CN={server.site},CN=Sites,CN=Configuration,{_dc_parts(org.domain)}"
    site = ad_object_id(
        name=server.site,
        dn=site_dn,
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
    props: list[tuple[str, Any]] = [
        ("Name", server.name),
        ("Domain", org.domain),
        ("Edition", ServerEditionType[server.edition]),
        ("ExchangeLegacyDN", legacy_dn),
        ("ExchangeLegacyServerRole", 0),
        ("Fqdn", server.fqdn),
        ("CustomerFeedbackEnabled", None),
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
        ("OrganizationalUnit", f"{org.domain}/{server.name}"),
        ("AdminDisplayVersion", server_version(server.cu_build)),
        ("Site", site),
        ("ServerRole", roles),
        ("ErrorReportingEnabled", None),
        ("MitigationsEnabled", server.eems.enabled),
        ("MitigationsApplied", _multi_valued(server.eems.applied)),
        ("MitigationsBlocked", _multi_valued(server.eems.blocked)),
        ("DataCollectionEnabled", server.eems.data_collection_enabled),
        ("Identity", identity),
        ("IsValid", True),
        ("ExchangeVersion", _exchange_object_version()),
        ("DistinguishedName", dn),
        ("Guid", _guid("server", server.name)),
        ("OriginatingServer", org.domain_controller),
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


def organization_config(org: LabOrgSpec) -> PSObject:
    """The ``Get-OrganizationConfig`` object (MitigationsEnabled Nil when the org says null)."""
    dn = f"CN={org.name},CN=Microsoft Exchange,CN=Services,CN=Configuration,{_dc_parts(org.domain)}"
    identity = ad_object_id(
        name=org.name, dn=dn, parent="Microsoft Exchange", depth=5, domain=org.domain, to_string=org.name
    )
    props: list[tuple[str, Any]] = [
        ("Name", org.name),
        ("Identity", identity),
        ("Guid", _guid("org", org.name)),
        ("ObjectVersion", 16759),
        ("MitigationsEnabled", org.mitigations_enabled),
        ("CustomerFeedbackEnabled", None),
        ("IsValid", True),
        ("ExchangeVersion", _exchange_object_version()),
        ("DistinguishedName", dn),
        ("OriginatingServer", org.domain_controller),
    ]
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
