"""Uploading a converted machine's images into Glance, all or nothing.

For each image, boot image first (Glance image API v2):

1. create the record (``POST /v2/images`` with the fields of its JSON file):
   status ``queued``;
2. send the file: interoperable import when the cloud offers
   ``glance-direct`` (``PUT /v2/images/{id}/stage``, then
   ``POST /v2/images/{id}/import``, then wait until ``active``), else the
   plain upload (``PUT /v2/images/{id}/file``); a progress event per 8 MiB;
3. read the record back and check it against what was written: status
   ``active``, ``size``, ``checksum`` (MD5), ``os_hash_value`` (SHA-512, or
   whatever ``os_hash_algo`` the cloud uses), every field and property.

If anything fails (Glance refuses the data with 415, a quota answers 413,
the connection drops, a check fails, Ctrl-C), every image this run created
is deleted again before the error is raised: nothing half-created stays.
"""

from __future__ import annotations

import enum
import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ovfconverter.errors import CloudError, OVFConverterError
from ovfconverter.glance.cloud import CloudOptions, cloud_error, http_error, image_proxy, quote
from ovfconverter.model.openstack import GlanceImage, ImageStatus
from ovfconverter.parameters import Parameter
from ovfconverter.progress import Meter, ProgressCallback

if TYPE_CHECKING:  # pragma: no cover
    from openstack.connection import Connection
    from openstack.image.v2._proxy import Proxy
    from openstack.image.v2.image import Image

GLANCE_DIRECT = "glance-direct"
#: How often an import's status is polled, in seconds.
POLL_INTERVAL = 0.2
_READ_SIZE = 1 << 20


class UploadMethod(enum.Enum):
    """How the data goes to Glance: ``auto`` (interoperable import when the
    cloud offers ``glance-direct``, else a plain upload), ``import``, or
    ``put`` (``PUT /file``)."""

    AUTO = "auto"
    IMPORT = "import"
    PUT = "put"


@dataclass(frozen=True)
class UploadedImage:
    """An image now active in Glance.

    :ivar id: Glance's image id.
    :ivar method: ``glance-direct`` or ``put``.
    :ivar checksum: MD5 hex, as Glance computed it (equal to ours).
    :ivar os_hash_algo: the algorithm of ``os_hash_value``.
    """

    name: str
    id: str
    status: str
    size: int
    checksum: str
    os_hash_algo: str
    os_hash_value: str
    method: str
    disk_index: int


class _ProgressReader:
    """A file object for the HTTP body: reads ``path`` in 1 MiB blocks,
    reports progress, and has a length (so the request carries
    ``Content-Length``)."""

    def __init__(self, path: str, size: int, meter: Meter) -> None:
        self._file = open(path, "rb")
        self._size = size
        self._meter = meter

    def __len__(self) -> int:
        return self._size - self._meter.done

    def read(self, amount: int = -1) -> bytes:
        block = self._file.read(max(amount, _READ_SIZE))
        self._meter.advance(len(block))
        return block

    def close(self) -> None:
        self._file.close()


def _file_digest(path: str, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        while block := stream.read(_READ_SIZE):
            digest.update(block)
    return digest.hexdigest()


def _send(
    images: Proxy,
    image: Image,
    path: str,
    record: GlanceImage,
    direct: bool,
    progress: ProgressCallback | None,
) -> None:
    """Stage or upload the file of ``record`` into ``image``."""
    from openstack import exceptions

    assert record.data is not None
    meter = Meter(progress, "upload", record.name, record.data.size)
    reader = _ProgressReader(path, record.data.size, meter)
    try:
        if direct:
            images.stage_image(image, data=reader, size=record.data.size)
        else:
            exceptions.raise_from_response(image.upload(images, data=reader, size=record.data.size))
    finally:
        reader.close()
    meter.finish()
    if direct:
        exceptions.raise_from_response(images.import_image(image, method=GLANCE_DIRECT))


def _wait_active(images: Proxy, image: Image, options: CloudOptions) -> Image:
    """Poll until an import finishes: the image ``active``, or its
    ``os_glance_failed_import`` naming a store."""
    deadline = time.monotonic() + options.timeout
    while True:
        current = images.get_image(image.id)
        failed = (current.properties or {}).get("os_glance_failed_import")
        if current.status == ImageStatus.ACTIVE.value:
            return current
        if failed or current.status in (ImageStatus.KILLED.value, ImageStatus.DELETED.value):
            message = _task_message(images, image)
            raise CloudError(
                f"Glance's glance-direct import failed ({message or 'image ' + quote(str(current.status))}); "
                "the reason is in Glance's log (it checks the data against disk_format and its safety rules)"
            )
        if time.monotonic() > deadline:
            raise CloudError(f"Glance's import did not finish within {options.timeout:.0f} s")
        time.sleep(POLL_INTERVAL)


def _task_message(images: Proxy, image: Image) -> str:
    try:
        for task in images.image_tasks(image):
            if task.status == "failure":
                return quote(str(task.message or ""))
    except Exception:  # the message is a courtesy: never mask the failure
        pass
    return ""


def _check(current: Image, record: GlanceImage, path: str) -> tuple[str, str]:
    """Compare what Glance reports with what was written.

    :returns: ``(os_hash_algo, os_hash_value)`` as Glance reports them.
    :raises CloudError: any difference.
    """
    data = record.data
    assert data is not None
    if current.status != ImageStatus.ACTIVE.value:
        raise CloudError(f"the image is {quote(str(current.status))} after the upload, not active")
    if current.size != data.size:
        raise CloudError(f"Glance stored {current.size} bytes, the file has {data.size}")
    if current.checksum != data.checksum:
        raise CloudError(f"Glance's checksum {quote(str(current.checksum))} is not the file's MD5 {data.checksum}")
    algorithm = current.hash_algo or ""
    if algorithm == data.os_hash_algo:
        expected = data.os_hash_value
    elif algorithm in hashlib.algorithms_available:
        expected = _file_digest(path, algorithm)
    else:
        raise CloudError(f"Glance's os_hash_algo {quote(algorithm)} is not one hashlib knows")
    if current.hash_value != expected:
        raise CloudError(f"Glance's os_hash_value is not the file's {algorithm}")
    stored = _stored_fields(current)
    for key, value in record.create_fields().items():
        if str(stored.get(key)) != str(value):
            raise CloudError(f"Glance stored {key} = {quote(str(stored.get(key)))}, not {quote(str(value))}")
    return algorithm, expected


def _stored_fields(current: Image) -> dict[str, Any]:
    """The image's fields and properties by their Glance names."""
    fields: dict[str, Any] = dict(current.properties or {})
    for key in ("name", "disk_format", "container_format", "min_disk", "min_ram"):
        fields[key] = getattr(current, key)
    for key, value in current.to_dict(computed=False, ignore_none=True).items():
        if key.startswith(("hw_", "os_")) or key == "architecture":
            fields.setdefault(key, value)
    return fields


def _upload_one(
    images: Proxy,
    record: GlanceImage,
    path: str,
    method: UploadMethod,
    options: CloudOptions,
    created: list[str],
    progress: ProgressCallback | None,
) -> UploadedImage:
    from openstack.image.v2.image import Image

    assert record.data is not None
    image = Image.new(**record.create_fields()).create(images)
    created.append(image.id)
    offered = GLANCE_DIRECT in (image.image_import_methods or [])
    if method is UploadMethod.IMPORT and not offered:
        raise CloudError(
            (
                "the cloud does not offer glance-direct interoperable import (use ",
                Parameter("method", value=UploadMethod.PUT.value),
                ")",
            )
        )
    direct = offered and method is not UploadMethod.PUT
    _send(images, image, path, record, direct, progress)
    current = _wait_active(images, image, options) if direct else images.get_image(image.id)
    algorithm, value = _check(current, record, path)
    return UploadedImage(
        name=record.name,
        id=image.id,
        status=str(current.status),
        size=record.data.size,
        checksum=record.data.checksum,
        os_hash_algo=algorithm,
        os_hash_value=value,
        method=GLANCE_DIRECT if direct else "put",
        disk_index=record.disk_index,
    )


def _delete_all(images: Proxy, ids: Sequence[str]) -> list[str]:
    """Delete the images ``ids``; return the ones that could not be."""
    left = []
    for image_id in reversed(ids):
        try:
            images.delete_image(image_id, ignore_missing=True)
        except Exception:
            left.append(image_id)
    return left


def upload_images(
    connection: Connection,
    records: Sequence[tuple[GlanceImage, str]],
    *,
    options: CloudOptions = CloudOptions(),
    method: UploadMethod = UploadMethod.AUTO,
    progress: ProgressCallback | None = None,
) -> list[UploadedImage]:
    """Create and upload ``records`` (each an image with its
    :attr:`~GlanceImage.data` and the path of its file), in order.

    :param connection: from :func:`~ovfconverter.glance.cloud.connect`.
    :returns: one :class:`UploadedImage` per image, same order.
    :raises CloudError: a refusal or failure, after deleting every image
        this call created (the message names any it could not delete).
    :raises OVFConverterError: a file changed under us, an interruption.
    """
    images = image_proxy(connection)
    for record, path in records:
        if record.data is None:
            raise ValueError(f"{record.name}: the image has no data to upload")
        if os.path.getsize(path) != record.data.size:
            raise CloudError(f"the file has changed since it was written: {os.path.getsize(path)} bytes", path)
    created: list[str] = []
    done: list[UploadedImage] = []
    try:
        for record, path in records:
            try:
                done.append(_upload_one(images, record, path, method, options, created, progress))
            except CloudError as exc:
                if exc.subject:
                    raise
                raise CloudError(exc.parts, record.name, exc.status) from exc
            except OVFConverterError:
                raise
            except Exception as exc:
                raise _as_cloud_error(exc, record.name) from exc
    except BaseException as exc:
        left = _delete_all(images, created)
        if left and isinstance(exc, CloudError):
            raise CloudError(
                (*exc.parts, f"; these images could not be deleted: {', '.join(left)}"), exc.subject, exc.status
            ) from exc
        raise
    return done


def _as_cloud_error(exc: Exception, subject: str) -> CloudError:
    status = getattr(exc, "status_code", None)
    if isinstance(status, int) and getattr(exc, "response", None) is not None:
        return http_error(exc, subject)
    return cloud_error(exc, subject)
