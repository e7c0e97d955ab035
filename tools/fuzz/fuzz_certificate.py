#!/usr/bin/env python3
"""atheris target: an OVF certificate file (``parse_certificate``) and what
``info`` and ``verify`` then read from it (subject, issuer, validity, the
signature check against a fixed manifest).

Expected: a Certificate whose accessors answer, or an OVFConverterError.
Crash: anything else.
"""

from __future__ import annotations

import sys

from _harness import instrumented, main

with instrumented():
    from ovfconverter.formats.certificate import certificate_current, parse_certificate, signature_valid


def one_input(data: bytes) -> None:
    cert = parse_certificate(data, "fuzz.cert")
    assert isinstance(cert.subject, str) and isinstance(cert.issuer, str)
    assert isinstance(cert.self_signed, bool)
    assert isinstance(certificate_current(cert), bool)
    assert isinstance(signature_valid(cert, b"SHA256(x.ovf)= 00\n"), bool)


if __name__ == "__main__":
    main(one_input)
    sys.exit(0)
