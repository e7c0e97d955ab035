"""The guest OS that VMware's guest id and an OS description say, and what
they add to an OperatingSystemSection's CIM number."""

from __future__ import annotations

import pytest

from ovfconverter.hub.guest_names import guest_from_names, refine_guest
from ovfconverter.hub.ovf import guest_os
from ovfconverter.model.envelope import OperatingSystem
from ovfconverter.model.machine import Architecture, GuestOS, OsFamily


@pytest.mark.parametrize(
    ("os_type", "description", "family", "distribution", "version", "arch"),
    [
        ("debian11_64Guest", None, OsFamily.LINUX, "debian", "11", Architecture.X86_64),
        ("debian10Guest", None, OsFamily.LINUX, "debian", "10", None),
        ("ubuntu64Guest", None, OsFamily.LINUX, "ubuntu", None, Architecture.X86_64),
        ("rhel7_64Guest", None, OsFamily.LINUX, "rhel", "7", Architecture.X86_64),
        ("oracleLinux7_64Guest", None, OsFamily.LINUX, "ol", "7", Architecture.X86_64),
        ("freebsd11_64Guest", None, OsFamily.BSD, "freebsd", "11", Architecture.X86_64),
        ("windows9Server64Guest", None, OsFamily.WINDOWS, "windows", None, Architecture.X86_64),
        ("other26xLinux64Guest", None, OsFamily.LINUX, None, None, Architecture.X86_64),
        (None, "CentOS 7 (64-bit)", OsFamily.LINUX, "centos", "7", Architecture.X86_64),
        (None, "Debian_64", OsFamily.LINUX, "debian", None, Architecture.X86_64),  # VirtualBox's OS type
        (None, "Debian GNU/Linux 12 (bookworm)", OsFamily.LINUX, "debian", "12", None),
        (None, "Microsoft Windows Server 2019", OsFamily.WINDOWS, "windows", None, None),
        ("debian11_64Guest", "Ubuntu 22.04", OsFamily.LINUX, "debian", "11", Architecture.X86_64),  # the id wins
        ("otherGuest", "Cisco IOS-XE Software", None, None, None, None),
        (None, None, None, None, None, None),
    ],
)
def test_guest_from_names(
    os_type: str | None,
    description: str | None,
    family: OsFamily | None,
    distribution: str | None,
    version: str | None,
    arch: Architecture | None,
) -> None:
    guest = guest_from_names(os_type, description)
    assert (guest.family, guest.distribution, guest.version, guest.architecture) == (
        family,
        distribution,
        version,
        arch,
    )


def test_refine_keeps_what_the_number_states() -> None:
    stated = GuestOS(cim_id=94, family=OsFamily.LINUX, distribution="ubuntu", version="20.04")
    refined = refine_guest(stated, guest_from_names("debian11_64Guest", None))
    assert (refined.distribution, refined.version, refined.architecture) == ("ubuntu", "20.04", Architecture.X86_64)
    # A version is taken only for the distribution the guest has.
    other = refine_guest(GuestOS(distribution="ubuntu"), guest_from_names("debian11_64Guest", None))
    assert other.version is None
    # "Other" (CIM 1) gives way to what the name says.
    assert refine_guest(GuestOS(cim_id=1, family=OsFamily.OTHER), guest_from_names("centos7Guest", None)).family is (
        OsFamily.LINUX
    )


def test_operating_system_section_with_a_vmware_id() -> None:
    guest = guest_os(OperatingSystem(id=96, vmware_os_type="debian11_64Guest", description="Debian 11"))
    assert (guest.cim_id, guest.family, guest.distribution, guest.version) == (96, OsFamily.LINUX, "debian", "11")
    assert (guest.vmware_os_type, guest.description) == ("debian11_64Guest", "Debian 11")
    plain = guest_os(OperatingSystem(id=101, vmware_os_type="other26xLinux64Guest"))
    assert (plain.family, plain.distribution, plain.version) == (OsFamily.LINUX, None, None)
