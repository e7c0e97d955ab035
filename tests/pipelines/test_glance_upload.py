"""Uploading into a real Glance (``../shared/tools/glance-local``): images
read back active with our checksums and every property; Glance's own
format inspection and metadefs agree with what we write; every failure
(Glance's 415, a quota's 413, a dropped connection, Ctrl-C) leaves no image
behind.  Faults Glance cannot be configured for here come from a small
fault-injecting proxy in front of it."""

from __future__ import annotations

import http.client
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from builders import LocalGlance, make_raw_disk

from ovfconverter.errors import CloudError, Interrupted, MissingToolError
from ovfconverter.glance.cloud import CloudOptions, connect
from ovfconverter.glance.upload import UploadMethod, upload_images
from ovfconverter.model.openstack import DiskFormat, GlanceImage, HwDiskBus, HwScsiModel, HwVifModel, OsType
from ovfconverter.parameters import Parameter
from ovfconverter.progress import ProgressEvent
from ovfconverter.targets.openstack import describe_file

MIB = 1 << 20


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A raw disk with data and the same disk as qcow2 (made by qemu-img)."""
    folder = tmp_path_factory.mktemp("glance-images")
    raw = make_raw_disk(folder / "disk.raw", 8 * MIB)
    qcow2 = folder / "disk.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(qcow2)], check=True)
    return {"raw": raw, "qcow2": qcow2}


def record(path: Path, fmt: DiskFormat, name: str = "web1", **changes: object) -> GlanceImage:
    image = GlanceImage(
        name=name,
        disk_format=fmt,
        min_disk=1,
        min_ram=512,
        architecture="x86_64",
        os_type=OsType.LINUX,
        os_distro="debian",
        os_version="12",
        hw_machine_type="pc",
        hw_disk_bus=HwDiskBus.SCSI,
        hw_scsi_model=HwScsiModel.VIRTIO_SCSI,
        hw_vif_model=HwVifModel.VIRTIO,
        hw_qemu_guest_agent=True,
        data=describe_file(str(path), path.name, 8 * MIB),
    )
    return replace(image, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", [UploadMethod.AUTO, UploadMethod.IMPORT, UploadMethod.PUT])
@pytest.mark.parametrize("fmt", [DiskFormat.QCOW2, DiskFormat.RAW])
def test_upload_reads_back_active_with_our_checksums_and_properties(
    glance: LocalGlance, images: dict[str, Path], method: UploadMethod, fmt: DiskFormat
) -> None:
    path = images[fmt.value]
    image = record(path, fmt)
    events: list[ProgressEvent] = []
    (done,) = upload_images(glance.connection(), [(image, str(path))], method=method, progress=events.append)
    assert done.method == ("put" if method is UploadMethod.PUT else "glance-direct")
    assert events[-1] == ProgressEvent("upload", "web1", path.stat().st_size, path.stat().st_size)
    # Read back through a connection of its own, by id.
    stored = glance.connection().image.get_image(done.id)
    assert stored.status == "active"
    assert stored.checksum == image.data.checksum == done.checksum  # type: ignore[union-attr]
    assert (stored.hash_algo, stored.hash_value) == ("sha512", image.data.os_hash_value)  # type: ignore[union-attr]
    assert stored.size == path.stat().st_size
    # Glance's own inspection of the data (for raw it may leave it unset).
    assert stored.virtual_size == 8 * MIB or (fmt is DiskFormat.RAW and stored.virtual_size is None)
    raw = glance.connection().image.get(f"/images/{done.id}").json()
    for key, value in image.create_fields().items():
        assert str(raw[key]) == str(value), key


def test_all_disks_of_a_machine_in_order(glance: LocalGlance, images: dict[str, Path]) -> None:
    boot = record(images["qcow2"], DiskFormat.QCOW2, "two-disks")
    data = GlanceImage(
        name="two-disks-disk1",
        disk_format=DiskFormat.RAW,
        min_disk=1,
        hw_disk_bus=HwDiskBus.SCSI,
        disk_index=1,
        data=describe_file(str(images["raw"]), "disk.raw", 8 * MIB),
    )
    done = upload_images(glance.connection(), [(boot, str(images["qcow2"])), (data, str(images["raw"]))])
    assert [d.name for d in done] == ["two-disks", "two-disks-disk1"]
    assert [d.disk_index for d in done] == [0, 1]
    assert all(glance.connection().image.get_image(d.id).status == "active" for d in done)


@pytest.mark.parametrize("method", [UploadMethod.PUT, UploadMethod.IMPORT])
def test_content_not_matching_disk_format_is_refused_and_nothing_is_left(
    glance: LocalGlance, images: dict[str, Path], method: UploadMethod
) -> None:
    before = glance.image_ids()
    good = record(images["qcow2"], DiskFormat.QCOW2, "good")
    lying = record(images["qcow2"], DiskFormat.VMDK, "lying")
    with pytest.raises(CloudError) as info:
        upload_images(glance.connection(), [(good, str(images["qcow2"])), (lying, str(images["qcow2"]))], method=method)
    message = str(info.value)
    assert message.startswith("lying: ") and "\n" not in message
    if method is UploadMethod.PUT:
        assert "does not match stream data qcow2 (HTTP 415)" in message
    else:
        assert "glance-direct import failed" in message
    assert glance.image_ids() == before  # the good image went too


def test_unsafe_image_is_refused(glance: LocalGlance, images: dict[str, Path], tmp_path: Path) -> None:
    backed = tmp_path / "backed.qcow2"
    subprocess.run(
        ["qemu-img", "create", "-f", "qcow2", "-F", "raw", "-b", str(images["raw"]), str(backed)],
        check=True,
        capture_output=True,
    )
    before = glance.image_ids()
    with pytest.raises(CloudError, match="safety checks.*HTTP 415"):
        upload_images(glance.connection(), [(record(backed, DiskFormat.QCOW2), str(backed))], method=UploadMethod.PUT)
    assert glance.image_ids() == before


def test_interrupt_during_upload_leaves_nothing(glance: LocalGlance, images: dict[str, Path]) -> None:
    before = glance.image_ids()

    def interrupt(event: ProgressEvent) -> None:
        raise Interrupted(2)

    with pytest.raises(Interrupted):
        upload_images(
            glance.connection(), [(record(images["raw"], DiskFormat.RAW), str(images["raw"]))], progress=interrupt
        )
    assert glance.image_ids() == before


def test_changed_file_is_refused_before_anything_is_created(
    glance: LocalGlance, images: dict[str, Path], tmp_path: Path
) -> None:
    copy = tmp_path / "copy.raw"
    copy.write_bytes(images["raw"].read_bytes())
    image = record(copy, DiskFormat.RAW)
    with open(copy, "ab") as stream:
        stream.write(b"more")
    before = glance.image_ids()
    with pytest.raises(CloudError, match="changed since it was written"):
        upload_images(glance.connection(), [(image, str(copy))])
    assert glance.image_ids() == before


class _FaultProxy(http.server.ThreadingHTTPServer):
    """Forwards requests to Glance, except that image data requests (PUT
    ``/file`` or ``/stage``) get ``fault``: ``"quota"`` answers 413 as
    Glance's storage quota does, ``"drop"`` closes the connection halfway
    through the body."""

    daemon_threads = True

    def __init__(self, target: str, fault: str) -> None:
        self.target = urlsplit(target)
        self.fault = fault
        super().__init__(("127.0.0.1", 0), _FaultHandler)


class _FaultHandler(http.server.BaseHTTPRequestHandler):
    server: _FaultProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        data_request = self.command == "PUT" and self.path.endswith(("/file", "/stage"))
        if data_request and self.server.fault == "drop":
            self.rfile.read(length // 2)
            self.connection.shutdown(2)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else None
        if data_request and self.server.fault == "quota":
            text = b"413 Request Entity Too Large\n\nDenying attempt to upload image because it exceeds the quota: 1024"
            self.send_response(413)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
            return
        target = http.client.HTTPConnection(self.server.target.hostname, self.server.target.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        target.request(self.command, self.path, body=body, headers=headers)
        response = target.getresponse()
        payload = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        target.close()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward


@pytest.fixture
def faulty(glance: LocalGlance, request: pytest.FixtureRequest) -> Iterator[str]:
    proxy = _FaultProxy(glance.url, request.param)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        proxy.server_close()


def _connection_to(url: str):  # type: ignore[no-untyped-def]
    import openstack

    return openstack.connect(
        auth_type="none",
        auth={"endpoint": url},
        image_endpoint_override=url,
        load_yaml_config=False,
        load_envvars=False,
    )


@pytest.mark.parametrize("faulty", ["quota"], indirect=True)
def test_quota_refusal_is_one_line_and_nothing_is_left(
    glance: LocalGlance, images: dict[str, Path], faulty: str
) -> None:
    before = glance.image_ids()
    with pytest.raises(CloudError) as info:
        upload_images(_connection_to(faulty), [(record(images["raw"], DiskFormat.RAW), str(images["raw"]))])
    assert str(info.value) == (
        "web1: over the cloud's quota: Denying attempt to upload image because it exceeds the quota: 1024 (HTTP 413)"
    )
    assert info.value.status == 413
    assert glance.image_ids() == before


@pytest.mark.parametrize("faulty", ["drop"], indirect=True)
def test_dropped_connection_leaves_nothing(glance: LocalGlance, images: dict[str, Path], faulty: str) -> None:
    before = glance.image_ids()
    with pytest.raises(CloudError) as info:
        upload_images(_connection_to(faulty), [(record(images["raw"], DiskFormat.RAW), str(images["raw"]))])
    assert str(info.value).startswith("web1: ") and "\n" not in str(info.value)
    assert glance.image_ids() == before


def test_connect_by_clouds_yaml_and_by_environment(
    glance: LocalGlance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(
        f"clouds:\n  local:\n    auth_type: none\n    auth:\n      endpoint: {glance.url}\n"
        f"    image_endpoint_override: {glance.url}\n"
    )
    for key in [k for k in os.environ if k.startswith("OS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    assert connect(CloudOptions(cloud="local")).image.get_import_info() is not None
    with pytest.raises(CloudError, match="nowhere"):
        connect(CloudOptions(cloud="nowhere"))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "absent.yaml"))
    with pytest.raises(CloudError, match="name a cloud of clouds.yaml with cloud, ") as caught:
        connect(CloudOptions())
    assert caught.value.parameters == (Parameter("cloud"),)
    for key, value in glance.env.items():
        monkeypatch.setenv(key, value)
    assert connect(CloudOptions()).image.get_import_info() is not None


def test_unreachable_cloud_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"  # nobody listens once closed
    for key, value in {"OS_AUTH_TYPE": "none", "OS_ENDPOINT": url, "OS_IMAGE_ENDPOINT_OVERRIDE": url}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OS_CLOUD", raising=False)
    with pytest.raises(CloudError, match="cannot reach the cloud"):
        connect(CloudOptions())


def test_without_openstacksdk_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['openstack'] = None\n"
        "from ovfconverter.glance.cloud import CloudOptions, connect\n"
        "connect(CloudOptions())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert MissingToolError.__name__ in proc.stderr
    assert "pip install 'ovfconverter[openstack]'" in proc.stderr


#: Properties Nova reads that Glance's metadefs do not define, with where
#: Nova defines them (checked there by hand, not by this test).
NOT_IN_METADEFS = {"os_secure_boot": "nova/objects/image_meta.py ImageMetaProps: SecureBootField"}


def _mapped_images() -> list[GlanceImage]:
    """Images from the OpenStack mapping across every bus, controller, NIC,
    firmware and guest the mapping can spell."""
    from ovfconverter.hub import openstack as mapping
    from ovfconverter.model.machine import (
        Architecture,
        Chipset,
        Disk,
        Firmware,
        GanetiSettings,
        GuestOS,
        Machine,
        Memory,
        OsFamily,
        frozen_map,
    )

    class Storage:
        def __init__(self, bus, model=None):  # type: ignore[no-untyped-def]
            self.bus, self.model = bus, model

    class Devices:
        def __init__(self, disks, nics, firmware=Firmware.BIOS, chipset=Chipset.I440FX, secure=False):  # type: ignore[no-untyped-def]
            self.disks, self.nics, self.firmware, self.chipset, self.secure_boot = (
                disks,
                nics,
                firmware,
                chipset,
                secure,
            )

    guests = [
        GuestOS(family=OsFamily.LINUX, distribution="debian", version="12", architecture=Architecture.X86_64),
        GuestOS(family=OsFamily.WINDOWS, distribution="windows", version="2019", architecture=Architecture.X86_64),
    ]
    storages = [Storage(bus) for bus in mapping.DISK_BUSES] + [
        Storage(mapping.Bus.SCSI, model) for model in mapping.SCSI_MODELS
    ]
    ganeti = GanetiSettings(hypervisor_parameters=frozen_map({"use_guest_agent": "True"}))
    images = []
    for number, storage in enumerate(storages):
        nic = list(mapping.VIF_MODELS)[number % len(mapping.VIF_MODELS)]
        machine = Machine(
            name=f"vm{number}",
            os=guests[number % 2],
            memory=Memory(512 << 20),
            disks=(Disk(capacity=1 << 30), Disk(capacity=1 << 30)),
            ganeti=ganeti,
        )
        firmware = Firmware.EFI if number % 2 else Firmware.BIOS
        devices = Devices(
            (storage, storage), (nic,), firmware, list(mapping.MACHINE_TYPES)[number % 2], bool(number % 2)
        )
        images.extend(mapping.glance_images(machine, devices).images)  # type: ignore[arg-type]
    return images


def test_every_property_we_write_is_defined_by_glance_metadefs(glance: LocalGlance) -> None:
    """Load the metadata definitions Glance ships into the running Glance,
    then check every property name and value the mapping writes against
    them (``architecture`` lives in a namespace with no resource type)."""
    venv, run = glance.home / "venv", glance.home / "run"
    manage, definitions = venv / "bin" / "glance-manage", venv / "etc" / "glance" / "metadefs"
    if not manage.exists() or not definitions.is_dir():
        pytest.skip(f"glance-local's layout has changed: no {manage} or {definitions}")
    subprocess.run(
        [str(manage), "--config-file", str(run / "etc" / "glance-api.conf"), "db_load_metadefs", str(definitions)],
        env={**os.environ, "OS_GLANCE_CONFIG_DIR": str(run / "etc")},
        check=True,
        capture_output=True,
    )
    proxy = glance.connection().image
    defined: dict[str, set[str] | None] = {}  # property -> allowed values (None: any string)
    for namespace in proxy.metadef_namespaces():
        for prop in proxy.metadef_properties(namespace.namespace):
            known = defined.get(prop.name, set())
            defined[prop.name] = None if known is None or not prop.enum else known | set(prop.enum)
    assert {"hw_disk_bus", "hw_vif_model", "os_distro", "architecture"} <= set(defined)
    seen: dict[str, set[str]] = {}
    for image in _mapped_images():
        for key, value in image.properties().items():
            seen.setdefault(key, set()).add(value)
    assert set(seen) >= {"hw_disk_bus", "hw_scsi_model", "hw_vif_model", "hw_firmware_type", "hw_qemu_guest_agent"}
    for key, values in seen.items():
        if key in NOT_IN_METADEFS:
            continue
        assert key in defined, f"{key} is not a property Glance's metadefs define"
        allowed = defined[key]
        if allowed is not None:
            assert values <= allowed, f"{key}: {values - allowed} not in {allowed}"
