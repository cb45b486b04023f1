"""The eems-check lab: a simulated on-premises Exchange organisation on loopback.

Each simulated server is a real WS-Management + PSRP server (HTTP/HTTPS, Negotiate/NTLM with message
sealing, Basic on HTTPS) that an unmodified pypsrp client talks to as it talks to Windows:
``/PowerShell`` serves ``Microsoft.Exchange`` (NoLanguage, Exchange cmdlets) and ``/wsman`` serves
``Microsoft.PowerShell`` (answers the eems-check collector script). The organisation is described by
an org file (YAML, see ``ORGFILE.md``).

Public API::

    spec = load_org("eems_check/lab/orgs/demo.yaml")
    with LabOrg(spec) as lab:
        lab.address_map(), lab.exchange_port, lab.wsman_port, lab.credentials, lab.discovery_fqdn
"""

from eems_check.lab.orgfile import LabOrgError, LabOrgSpec, load_org, parse_org
from eems_check.lab.server import LabOrg

__all__ = ["LabOrg", "LabOrgError", "LabOrgSpec", "load_org", "parse_org"]
