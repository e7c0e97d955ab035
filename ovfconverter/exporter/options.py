"""What the caller of an export may choose."""

from __future__ import annotations

from dataclasses import dataclass

DIGESTS = ("sha1", "sha256", "sha512")
OVF_VERSIONS = ("1.0", "2.0")


@dataclass
class ExportOptions:
    """Options of :func:`ovfconverter.export_instance`.

    :ivar format: disk format: ``vmdk`` (default), ``raw``, ``qcow2`` (or
        Ganeti's name for it, ``cow``), ``vdi``, ``vhd``, ``vhdx``.
    :ivar vmdk_subformat: ``streamOptimized`` (default: what VMware and
        VirtualBox import from an OVA) or ``monolithicSparse``.
    :ivar compress: gzip each disk file and mark it ``ovf:compression="gzip"``.
    :ivar compression_level: deflate level 1-9 of VMDK grains and of
        ``compress`` (default ``None``: 1, ISA-L, six times qemu-img's speed
        for a few per cent more size; 4 and up: zlib-ng, within 1-3 % of
        qemu-img's size at about twice level 1's time).
    :ivar threads: compression threads per disk (default ``None``: the
        number of CPUs).
    :ivar ova: write one ``.ova`` file instead of a folder.
    :ivar external: leave the Ganeti section out (for other hypervisors);
        the instance's hypervisor and OS are then not required.
    :ivar name: the virtual system's name (default: the instance name).
    :ivar output_dir: where the result goes (default: the current folder;
        not config.ini's, which is Ganeti's export folder, whose contents
        ``gnt-backup remove`` deletes).
    :ivar force: replace an existing result.
    :ivar digest: manifest algorithm: ``sha256`` (default), ``sha1`` (older
        VMware products), ``sha512``.
    :ivar ovf_version: ``1.0`` (default; VMware's desktop products refuse
        2.0) or ``2.0``.
    :ivar virtual_system_type: ``vssd:VirtualSystemType`` (default
        ``vmx-07``, which every VMware importer since ESX 4 accepts).
    :ivar allow_hardlinks: ``--allow-hardlinks``: accept a ``config.ini``
        or disk dump with several hard links (refused by default: such a
        file may be a link to a secret elsewhere on the same file system).
    """

    format: str = "vmdk"
    vmdk_subformat: str = "streamOptimized"
    compress: bool = False
    compression_level: int | None = None
    threads: int | None = None
    ova: bool = False
    external: bool = False
    name: str | None = None
    output_dir: str | None = None
    force: bool = False
    digest: str = "sha256"
    ovf_version: str = "1.0"
    virtual_system_type: str = "vmx-07"
    allow_hardlinks: bool = False
