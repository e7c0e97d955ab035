"""What the caller of an import may say, in Ganeti's terms.

Every field is optional; what is given overrides the package **per key**
(``-B vcpus=2`` changes the CPU count and keeps the package's memory), unlike
Ganeti's own converter, which replaces whole sections.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ImportOptions:
    """Options of :func:`ovfconverter.import_package`.

    :ivar name: instance name (``-n/--name``); default: the VirtualSystem's
        Name, else its ``ovf:id``.
    :ivar os_type: Ganeti OS (``-o/--os-type``); default: the Ganeti section's.
    :ivar os_parameters: ``-O`` values, merged per key; a ``None`` value
        removes the key.
    :ivar backend_parameters: ``-B`` values (``vcpus``, ``maxmem``, ``minmem``,
        ``memory``, ``auto_balance``...), merged per key; sizes may carry a
        unit (``512``, ``2G``: MiB by default).
    :ivar hypervisor: ``-H`` name, or ``None`` to keep the package's.
    :ivar hypervisor_parameters: ``-H NAME:k=v`` values, merged per key.
    :ivar disk_template: ``-t/--disk-template``.
    :ivar disks: ``--disk N:size=VAL``: disk index -> size in bytes of a new
        empty disk that replaces or adds disk N.
    :ivar nics: ``--net N:k=v``: NIC index -> values (``mode``, ``link``,
        ``mac``, ``ip``, ``network``, ``name``, ``vlan``), merged per key; a
        ``None`` value removes the key.  An index past the package's NICs
        adds a NIC.
    :ivar no_nics: ``--no-nics``: drop every NIC.
    :ivar tags: ``--tags``: replaces the package's tags when not ``None``.
    :ivar deployment_option: ``--deployment-option``: the DeploymentOptionSection
        profile to use instead of the default.
    :ivar virtual_system: ``--virtual-system``: the VirtualSystem ``ovf:id``
        to import from a VirtualSystemCollection.
    :ivar output_dir: where ``<name>/`` is created; default: Ganeti's export
        folder (``/var/lib/ganeti/export``) when it exists, else the current
        folder.
    :ivar force: replace an existing ``<output_dir>/<name>/``.
    :ivar verify_manifest: check the manifest before converting (default);
        turning it off is for benchmarking only.
    :ivar allow_hardlinks: ``--allow-hardlinks``: accept files of a folder
        package with several hard links (refused by default: such a file
        may be a link to a secret elsewhere on the same file system).
    """

    name: str | None = None
    os_type: str | None = None
    os_parameters: dict[str, str | None] = field(default_factory=dict)
    backend_parameters: dict[str, str | None] = field(default_factory=dict)
    hypervisor: str | None = None
    hypervisor_parameters: dict[str, str | None] = field(default_factory=dict)
    disk_template: str | None = None
    disks: dict[int, int] = field(default_factory=dict)
    nics: dict[int, dict[str, str | None]] = field(default_factory=dict)
    no_nics: bool = False
    tags: list[str] | None = None
    deployment_option: str | None = None
    virtual_system: str | None = None
    output_dir: str | None = None
    force: bool = False
    verify_manifest: bool = True
    allow_hardlinks: bool = False
