"""Layer 4: looking at a package without converting it (``info``,
``verify``)."""

from ovfconverter.info.model import PackageInfo, VerifyReport, to_json
from ovfconverter.info.read import read_package, verify_package

__all__ = ["PackageInfo", "VerifyReport", "read_package", "to_json", "verify_package"]
