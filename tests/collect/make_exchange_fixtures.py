"""Write the Exchange object fixtures under `fixtures/exchange/` from the demo organisation, in the two forms real
answers come in: the compact wire form (one `<Obj>` per PSRP message, as the lab sends it) and the Export-Clixml
form (one `<Objs>` file, two-space indentation, a byte-order mark, type-name and object references shared across
objects), the form of Health Checker's captured test data and of `Export-EemsInventory.ps1 -Capture`.

Run after a change to the lab's objects: `.venv/bin/python -m tests.collect.make_exchange_fixtures`. The tests
compare what is read from these files with values typed by hand in `expected-facts.yaml`, never with the org file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from psrpcore.types import serialize, serialize_clixml

from eems_check.lab import load_org
from eems_check.lab.objects import exchange_server, organization_config

HERE = Path(__file__).parent / "fixtures" / "exchange"
DEMO = Path(__file__).parents[2] / "eems_check" / "lab" / "orgs" / "demo.yaml"


def _export_clixml(objects: list[object]) -> str:
    ET.register_namespace("", "http://schemas.microsoft.com/powershell/2004/04")  # a default namespace, as PowerShell
    root = ET.fromstring(serialize_clixml(objects, None))
    ET.indent(root, space="  ")
    return "\ufeff" + ET.tostring(root, encoding="unicode") + "\n"


def main() -> None:
    org = load_org(DEMO)
    servers = [exchange_server(s, org) for s in org.servers]
    wire = HERE / "wire"
    wire.mkdir(parents=True, exist_ok=True)
    for spec, obj in zip(org.servers, servers, strict=True):
        (wire / f"{spec.name}.xml").write_text(ET.tostring(serialize(obj, None), encoding="unicode"), "utf-8")
    (wire / "organization-config.xml").write_text(
        ET.tostring(serialize(organization_config(org), None), encoding="unicode"), "utf-8"
    )
    (HERE / "GetExchangeServer.xml").write_text(_export_clixml(servers), "utf-8")
    (HERE / "GetOrganizationConfig.xml").write_text(_export_clixml([organization_config(org)]), "utf-8")


if __name__ == "__main__":
    main()
