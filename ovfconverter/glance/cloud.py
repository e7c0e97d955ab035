"""Connecting to an OpenStack cloud's Image service, configured as every
OpenStack tool is, and turning what the cloud answers into one-line errors.

openstacksdk is an optional extra (``pip install 'ovfconverter[openstack]'``):
it is imported only here, only when a connection is asked for.  It reads
``clouds.yaml`` (``--os-cloud NAME``, or ``OS_CLOUD``) and the ``OS_*``
environment (``OS_AUTH_URL``, ``OS_USERNAME``...), handles Keystone, TLS
and endpoint discovery; ovfconverter adds nothing to that configuration.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ovfconverter.errors import CloudError, MissingToolError
from ovfconverter.parameters import Parameter

if TYPE_CHECKING:  # pragma: no cover
    from openstack.connection import Connection
    from openstack.image.v2._proxy import Proxy

INSTALL_HINT = "pip install 'ovfconverter[openstack]'"
#: Server text quoted in a message is cut to this many characters.
MAX_QUOTE = 200
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]+")


@dataclass(frozen=True)
class CloudOptions:
    """Which cloud to talk to.

    :ivar cloud: a cloud of ``clouds.yaml`` (``--os-cloud``); ``None`` uses
        ``OS_CLOUD`` or the ``OS_*`` environment, as the ``openstack``
        command does.
    :ivar timeout: seconds to wait for Glance to finish an interoperable
        import (the upload itself has no time limit).
    """

    cloud: str | None = None
    timeout: float = 3600.0


def quote(text: str) -> str:
    """Server text made safe for a one-line message: printable ASCII only,
    at most :data:`MAX_QUOTE` characters."""
    cleaned = _UNPRINTABLE.sub(" ", text).strip()
    return cleaned if len(cleaned) <= MAX_QUOTE else cleaned[: MAX_QUOTE - 3] + "..."


def connect(options: CloudOptions) -> Connection:
    """An openstacksdk connection to the cloud ``options`` names, checked by
    one request (Glance's import methods) so that a wrong configuration is
    reported before anything is created.

    :raises MissingToolError: openstacksdk is not installed.
    :raises CloudError: no cloud configured, an unknown cloud, no answer, or
        an authentication refusal.
    """
    try:
        import openstack
    except ImportError:
        raise MissingToolError(f"uploading to OpenStack needs openstacksdk: {INSTALL_HINT}") from None
    where = f"cloud {options.cloud}" if options.cloud else "OpenStack"
    try:
        connection = openstack.connect(cloud=options.cloud)
        image_proxy(connection).get_import_info()
    except CloudError:
        raise
    except Exception as exc:
        raise cloud_error(exc, where) from exc
    return connection


def image_proxy(connection: Connection) -> Proxy:
    """The connection's Image API v2 proxy.

    :raises CloudError: the cloud offers only the retired v1 API.
    """
    from openstack.image.v2._proxy import Proxy

    proxy = connection.image
    if not isinstance(proxy, Proxy):
        raise CloudError("the cloud offers only Glance's image API v1, which has no checksums to check")
    return proxy


def cloud_error(exc: BaseException, subject: str) -> CloudError:
    """The one-line :class:`CloudError` for an exception of openstacksdk or
    keystoneauth (unknown ones are named by their class)."""
    from keystoneauth1 import exceptions as ksa
    from openstack import exceptions as sdk

    if isinstance(exc, sdk.HttpException):
        return http_error(exc, subject)
    if isinstance(exc, ksa.MissingRequiredOptions | ksa.NoMatchingPlugin):
        return CloudError(
            (
                f"no usable OpenStack configuration ({quote(str(exc))}): name a cloud of clouds.yaml with ",
                Parameter("cloud"),
                ", or set the OS_* variables (OS_AUTH_URL...)",
            ),
            subject,
        )
    if isinstance(exc, sdk.ConfigException):
        return CloudError(f"OpenStack configuration: {quote(str(exc))}", subject)
    if isinstance(exc, ksa.ConnectFailure | ksa.ConnectTimeout | ksa.SSLError | ksa.DiscoveryFailure):
        return CloudError(f"cannot reach the cloud: {quote(str(exc))}", subject)
    if isinstance(exc, ksa.EndpointNotFound):
        return CloudError("the cloud's catalog has no Image service (Glance) endpoint", subject)
    if isinstance(exc, ksa.Unauthorized | ksa.AuthorizationFailure):
        return CloudError(f"authentication refused: {quote(str(exc))}", subject, 401)
    if isinstance(exc, ksa.ClientException | sdk.SDKException):
        return CloudError(quote(str(exc)) or type(exc).__name__, subject)
    return CloudError(f"{type(exc).__name__}: {quote(str(exc))}", subject)


def _reason(exc: object) -> str:
    """Glance's own explanation: the last line of its error page (e.g.
    ``Image disk_format vmdk does not match stream data qcow2``)."""
    response = getattr(exc, "response", None)
    text = getattr(response, "text", "") or ""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if lines:
        return quote(lines[-1])
    return quote(str(getattr(exc, "details", "") or ""))


def http_error(exc: object, subject: str) -> CloudError:
    """A :class:`CloudError` for an HTTP refusal, Glance's reason quoted:
    415 (content does not match ``disk_format``, or unsafe), 413 (quota or
    size cap), 401/403 (not allowed), anything else with its status."""
    status = getattr(exc, "status_code", None)
    reason = _reason(exc)
    if status == 415:
        message = f"Glance refused the image data: {reason} (HTTP 415)"
    elif status == 413:
        message = f"over the cloud's quota: {reason} (HTTP 413)"
    elif status in (401, 403):
        message = f"not allowed: {reason} (HTTP {status})"
    else:
        message = f"Glance answered HTTP {status}: {reason}"
    return CloudError(message, subject, status if isinstance(status, int) else None)
