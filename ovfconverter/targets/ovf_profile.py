"""The publishing profile an OVF or OVA target applies (``--for``): its
checks on the options, and the machine as the product will see it.

``--for virtualbox|vmware|generic`` makes the profile's rules binding: an
option the product does not import is refused.  Without ``--for`` the
``generic`` rules still choose devices and defaults, and an option against
them is only a warning (a qcow2 package for OpenStack or Ganeti is fine).
The rules and the facts behind them: :mod:`ovfconverter.hub.publishing`,
``doc/publishing.rst``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ovfconverter.diagnostics import Code, Diagnostic
from ovfconverter.errors import OptionError
from ovfconverter.hub.devices import choose_devices
from ovfconverter.hub.publishing import (
    PROFILES,
    Product,
    PublishingProfile,
    SeedAttachment,
    attach_seed,
    place_devices,
    profile_problems,
)
from ovfconverter.model.machine import Firmware, Machine
from ovfconverter.model.nocloud import SEED_EXTENSION
from ovfconverter.model.units import MIB
from ovfconverter.parameters import Parameter
from ovfconverter.pipelines.seed import SeedFiles, seed_volume


def profile_for(product: str | None) -> PublishingProfile:
    """The profile of ``--for PRODUCT`` (``None``: ``generic``).

    :raises OptionError: an unknown product.
    """
    try:
        return PROFILES[Product(product or Product.GENERIC.value)]
    except ValueError:
        raise OptionError((Parameter("product"), f" {product!r} is not one of {', '.join(Product.values())}")) from None


def option_problems(product: str | None, choices: dict[str, str]) -> tuple[list[str], list[str]]:
    """The options ``product``'s profile refuses: ``(refusals, warnings)``;
    with ``--for`` given every problem refuses, without it each only
    warns."""
    problems = profile_problems(profile_for(product), choices)
    return (problems, []) if product is not None else ([], problems)


@dataclass
class Published:
    """The machine as the package will describe it, and what goes with it.

    :ivar machine: devices placed by the profile's device policy, the seed
        attached.
    :ivar system_types: the ``vssd:VirtualSystemType`` words.
    :ivar vmware_config: ``vmw:Config`` pairs (``firmware``).
    :ivar iso_as_disk: a CD-ROM's ISO is a DiskSection Disk (VirtualBox's
        form) rather than a plain File.
    :ivar environment: ``ovf:transport`` is written (the product hands the
        guest an OVF environment).
    :ivar seed: the seed volume's bytes, ``None`` without ``--cloud-init``.
    :ivar seed_href: its file name in the package.
    :ivar seed_on_cdrom: it is a CD-ROM's image (else a hard disk's).
    """

    machine: Machine
    system_types: tuple[str, ...]
    vmware_config: tuple[tuple[str, str], ...] = ()
    iso_as_disk: bool = True
    environment: bool = True
    seed: bytes | None = None
    seed_href: str | None = None
    seed_on_cdrom: bool = False
    warnings: list[str] = field(default_factory=list)


def publish(
    machine: Machine,
    product: str | None,
    name: str,
    system_type: str | None,
    seed_files: SeedFiles | None,
) -> Published:
    """Apply the profile of ``product`` to ``machine`` (named ``name`` in
    the package): attach the seed the profile's way, choose and place
    devices, pick the VirtualSystemType (``system_type`` when given) and
    the firmware setting.  Pure."""
    profile = profile_for(product)
    warnings: list[str] = []
    seed = seed_href = None
    on_cdrom = profile.seed is not SeedAttachment.HARD_DISK
    if seed_files is not None:
        _, seed = seed_volume(seed_files, name)
        if not on_cdrom:  # a hard disk of whole MiB, as every product sizes them
            seed += bytes(-len(seed) % MIB)
        seed_href = f"{name}-cidata.{SEED_EXTENSION}"
        machine = attach_seed(machine, seed_href, len(seed), profile.seed)
        warnings.extend(seed_files.notes)
    plan = choose_devices(machine, profile.devices)
    machine, moved = place_devices(machine, plan)
    warnings.extend(plan.notes)
    warnings.extend(moved)
    config: tuple[tuple[str, str], ...] = ()
    if plan.firmware is Firmware.EFI:
        config = (("firmware", "efi"),)
        if plan.secure_boot:  # what vSphere writes and reads for secure boot
            config += (("bootOptions.efiSecureBootEnabled", "true"),)
        if profile.product is Product.VIRTUALBOX:
            warnings.append(
                "the guest boots with UEFI, which VirtualBox's OVF import cannot set: enable EFI in the "
                "virtual machine's settings after importing it"
            )
    if not profile.environment and machine.environment_transports and any(p.properties for p in machine.products):
        text = (
            f"{profile.label} hands the guest no OVF environment ({'/'.join(machine.environment_transports)} "
            "transport): the values of the package's properties do not reach it"
        )
        hint = () if seed_files is not None else ("; give the guest its configuration with ", Parameter("cloud_init"))
        warnings.append(Diagnostic((text, *hint), code=Code.PLAN))
    return Published(
        machine=machine,
        system_types=tuple(system_type.split()) if system_type else profile.system_types,
        vmware_config=config,
        iso_as_disk=profile.seed is SeedAttachment.CDROM_DISK,
        environment=profile.environment,
        seed=seed,
        seed_href=seed_href,
        seed_on_cdrom=seed is not None and on_cdrom,
        warnings=warnings,
    )
