"""OVF manifests (ovfconverter.formats.manifest): lenient reading, exact
writing, refusals."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ovfconverter.errors import ManifestError, UnsafeInputError
from ovfconverter.formats.manifest import MAX_MANIFEST_SIZE, ManifestEntry, format_manifest, parse_manifest

SHA1 = hashlib.sha1(b"disk").hexdigest()
SHA256 = hashlib.sha256(b"disk").hexdigest()
SHA512 = hashlib.sha512(b"disk").hexdigest()
OVF256 = hashlib.sha256(b"ovf").hexdigest()


def parse(text: str | bytes) -> list[ManifestEntry]:
    return parse_manifest(text.encode("utf-8") if isinstance(text, str) else text, "test.mf")


def triples(entries: list[ManifestEntry]) -> list[tuple[str, str, str]]:
    return [(e.algorithm, e.filename, e.digest) for e in entries]


# --------------------------------------------------------------------------
# examples: reading


def test_vmware_manifest() -> None:
    text = f"SHA256(vm.ovf)= {OVF256}\nSHA256(vm-disk1.vmdk)= {SHA256}\n"
    entries = parse(text)
    assert entries == [
        ManifestEntry("sha256", "vm.ovf", OVF256, line=1),
        ManifestEntry("sha256", "vm-disk1.vmdk", SHA256, line=2),
    ]


@pytest.mark.parametrize(
    ("line", "algorithm", "digest"),
    [
        (f"SHA1(disk.vmdk)= {SHA1}", "sha1", SHA1),
        (f"SHA256(disk.vmdk)= {SHA256}", "sha256", SHA256),
        (f"SHA512(disk.vmdk)= {SHA512}", "sha512", SHA512),
        (f"SHA2-256(disk.vmdk)= {SHA256}", "sha256", SHA256),  # OpenSSL 3
        (f"SHA2-512(disk.vmdk)= {SHA512}", "sha512", SHA512),
        (f"SHA-1(disk.vmdk)= {SHA1}", "sha1", SHA1),
        (f"SHA-256(disk.vmdk)= {SHA256}", "sha256", SHA256),
        (f"sha256(disk.vmdk)= {SHA256}", "sha256", SHA256),
        (f"SHA1(disk.vmdk)={SHA1}", "sha1", SHA1),  # no space
        (f"SHA1 (disk.vmdk) = {SHA1}", "sha1", SHA1),  # spaces everywhere
        (f"SHA1( disk.vmdk )= {SHA1}", "sha1", SHA1),
        (f"  SHA1(disk.vmdk)=   {SHA1}  ", "sha1", SHA1),
        (f"SHA1(disk.vmdk)=\t{SHA1}", "sha1", SHA1),
        (f"SHA1(disk.vmdk)= {SHA1.upper()}", "sha1", SHA1),  # upper-case hex
    ],
)
def test_lenient_line_forms(line: str, algorithm: str, digest: str) -> None:
    assert triples(parse(line + "\n")) == [(algorithm, "disk.vmdk", digest)]
    assert triples(parse(line)) == [(algorithm, "disk.vmdk", digest)]  # no final line end


def test_crlf_bom_and_blank_lines() -> None:
    data = b"\xef\xbb\xbf" + f"\r\nSHA1(a.ovf)= {SHA1}\r\n\r\n   \r\nSHA256(b.vmdk)= {SHA256.upper()}\r\n\r\n".encode()
    entries = parse(data)
    assert triples(entries) == [("sha1", "a.ovf", SHA1), ("sha256", "b.vmdk", SHA256)]
    assert [e.line for e in entries] == [2, 5]  # blank lines still count


def test_empty_manifest() -> None:
    assert parse(b"") == []
    assert parse(b"\n\n  \r\n") == []
    assert parse(b"\xef\xbb\xbf") == []


def test_filename_with_spaces_and_parentheses() -> None:
    text = f"SHA256(My VM (copy) disk 1.vmdk)= {SHA256}\nSHA1(sub/dir/x.iso)= {SHA1}\n"
    assert triples(parse(text)) == [("sha256", "My VM (copy) disk 1.vmdk", SHA256), ("sha1", "sub/dir/x.iso", SHA1)]


def test_unicode_filename() -> None:
    assert triples(parse(f"SHA1(dísk-ü€.vmdk)= {SHA1}")) == [("sha1", "dísk-ü€.vmdk", SHA1)]


def test_same_file_twice_same_digest_is_accepted() -> None:
    text = f"SHA1(a.vmdk)= {SHA1}\nSHA1(a.vmdk)= {SHA1.upper()}\n"
    assert triples(parse(text)) == [("sha1", "a.vmdk", SHA1)] * 2


def test_same_file_with_two_algorithms_is_accepted() -> None:
    text = f"SHA1(a.vmdk)= {SHA1}\nSHA256(a.vmdk)= {SHA256}\n"
    assert triples(parse(text)) == [("sha1", "a.vmdk", SHA1), ("sha256", "a.vmdk", SHA256)]


# --------------------------------------------------------------------------
# examples: refusals


@pytest.mark.parametrize(
    "text",
    [
        f"MD5(a.vmdk)= {hashlib.md5(b'x').hexdigest()}",
        f"SHA384(a.vmdk)= {hashlib.sha384(b'x').hexdigest()}",
        f"SHA3-256(a.vmdk)= {SHA256}",
        f"SHA1(a.vmdk)= {SHA256}",  # too long for SHA1
        f"SHA256(a.vmdk)= {SHA1}",  # too short for SHA256
        f"SHA512(a.vmdk)= {SHA256}",
        f"SHA1(a.vmdk)= {SHA1[:-1]}",
        f"SHA1(a.vmdk)= {SHA1}0",
        f"SHA1(a.vmdk) {SHA1}",  # no '='
        f"SHA1 a.vmdk = {SHA1}",  # no parentheses
        f"SHA1()= {SHA1}",  # no file name
        f"SHA1(a.vmdk)= {SHA1[:-1]}g",  # not hex
        f"SHA1(a.vmdk)= {SHA1} trailing",
        f"(a.vmdk)= {SHA1}",  # no algorithm
        "SHA1(a.vmdk)=",
        "garbage",
        f"SHA1(a.vmdk)= {SHA1}\nnot a manifest line\n",
        f"SHA1(a.vmdk)= {SHA1}\nSHA1(a.vmdk)= {hashlib.sha1(b'other').hexdigest()}\n",  # twice, differing
        f"SHA256(a.vmdk)= {SHA256}\nSHA2-256(a.vmdk)= {OVF256}\n",  # aliases are the same algorithm
    ],
)
def test_refusals(text: str) -> None:
    with pytest.raises(ManifestError):
        parse(text)


def test_not_utf8_is_manifest_error() -> None:
    with pytest.raises(ManifestError):
        parse(b"SHA1(\xff\xfe.vmdk)= " + SHA1.encode())


def test_error_names_the_manifest_and_line() -> None:
    with pytest.raises(ManifestError) as info:
        parse_manifest(f"SHA1(a)= {SHA1}\nMD5(b)= 00\n".encode(), "pkg.mf")
    assert str(info.value).startswith("pkg.mf: ")
    assert "line 2" in str(info.value)


def test_size_limit() -> None:
    parse(b"\n" * MAX_MANIFEST_SIZE)  # exactly at the limit: read
    with pytest.raises(UnsafeInputError):
        parse(b"\n" * (MAX_MANIFEST_SIZE + 1))


# --------------------------------------------------------------------------
# examples: writing


def test_format_exact_bytes() -> None:
    entries = [
        ManifestEntry("sha256", "vm.ovf", OVF256),
        ManifestEntry("sha1", "disk.vmdk", SHA1),
        ManifestEntry("sha512", "disk 2.vmdk", SHA512),
    ]
    assert format_manifest(entries) == (
        f"SHA256(vm.ovf)= {OVF256}\nSHA1(disk.vmdk)= {SHA1}\nSHA512(disk 2.vmdk)= {SHA512}\n".encode()
    )
    assert format_manifest([]) == b""
    assert ManifestEntry("sha256", "a", OVF256).format() == f"SHA256(a)= {OVF256}"


def test_format_is_utf8() -> None:
    assert format_manifest([ManifestEntry("sha1", "dísk.vmdk", SHA1)]) == f"SHA1(dísk.vmdk)= {SHA1}\n".encode()


# --------------------------------------------------------------------------
# properties

DIGEST_LENGTHS = {"sha1": 40, "sha256": 64, "sha512": 128}

# File names: no control characters or line/paragraph separators, no
# surrogates, nothing str.strip() would remove at either end.
filenames = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda s: s == s.strip() and s.strip())


@st.composite
def entries(draw):
    algorithm = draw(st.sampled_from(sorted(DIGEST_LENGTHS)))
    digest = draw(
        st.text(alphabet="0123456789abcdef", min_size=DIGEST_LENGTHS[algorithm], max_size=DIGEST_LENGTHS[algorithm])
    )
    return ManifestEntry(algorithm, draw(filenames), digest)


def consistent(items: list[ManifestEntry]) -> list[ManifestEntry]:
    """Keep the first digest given for each (algorithm, file name)."""
    seen: dict[tuple[str, str], str] = {}
    out = []
    for entry in items:
        key = (entry.algorithm, entry.filename)
        if seen.setdefault(key, entry.digest) == entry.digest:
            out.append(entry)
    return out


manifest_entries = st.lists(entries(), max_size=8).map(consistent)


@given(manifest_entries)
def test_format_then_parse_round_trips(items: list[ManifestEntry]) -> None:
    parsed = parse_manifest(format_manifest(items), "x.mf")
    assert triples(parsed) == triples(items)
    assert [e.line for e in parsed] == list(range(1, len(items) + 1))


@pytest.mark.parametrize("separator", ["\u2028", "\u2029"])
def test_format_then_parse_round_trips_line_separator_in_name(separator: str) -> None:
    """format_manifest ends lines with ``\\n`` only, so a file name containing
    U+2028/U+2029 (legal in tar and POSIX file names, not control
    characters) is written on one line; parse_manifest must read that line
    back rather than split it."""
    items = [ManifestEntry("sha256", f"a{separator}b.vmdk", SHA256)]
    assert triples(parse_manifest(format_manifest(items), "x.mf")) == triples(items)


@given(manifest_entries, st.data())
@settings(deadline=None)
def test_whitespace_case_crlf_and_bom_change_nothing(items: list[ManifestEntry], data) -> None:
    ws = st.text(alphabet=" \t", max_size=3)
    labels = {
        "sha1": ["SHA1", "sha1", "Sha1", "SHA-1"],
        "sha256": ["SHA256", "sha256", "SHA2-256", "sha2-256", "SHA-256"],
        "sha512": ["SHA512", "sha512", "SHA2-512", "SHA-512"],
    }
    lines = []
    if data.draw(st.booleans()):
        lines.append(data.draw(ws))  # a blank line first
    for entry in items:
        size = len(entry.digest)
        flips = data.draw(st.lists(st.booleans(), min_size=size, max_size=size))
        digest = "".join(ch.upper() if up else ch for ch, up in zip(entry.digest, flips, strict=True))
        label = data.draw(st.sampled_from(labels[entry.algorithm]))
        parts = [
            data.draw(ws),
            label,
            data.draw(ws),
            "(",
            data.draw(ws),
            entry.filename,
            data.draw(ws),
            ")",
            data.draw(ws),
            "=",
            data.draw(ws),
            digest,
            data.draw(ws),
        ]
        lines.append("".join(parts))
        if data.draw(st.booleans()):
            lines.append(data.draw(ws))  # a blank line
    eol = data.draw(st.sampled_from(["\n", "\r\n"]))
    text = eol.join(lines) + data.draw(st.sampled_from(["", eol]))
    raw = text.encode("utf-8")
    if data.draw(st.booleans()):
        raw = b"\xef\xbb\xbf" + raw
    assert triples(parse_manifest(raw, "x.mf")) == triples(items)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_give_entries_or_manifest_error(data: bytes) -> None:
    try:
        result = parse_manifest(data, "x.mf")
    except ManifestError:
        return
    for entry in result:
        assert entry.algorithm in DIGEST_LENGTHS
        assert len(entry.digest) == DIGEST_LENGTHS[entry.algorithm]
        assert entry.digest == entry.digest.lower()


_MANIFEST_TOKENS = [
    "SHA1",
    "SHA256",
    "SHA2-256",
    "MD5",
    "sha512",
    "(",
    ")",
    "=",
    " ",
    "\t",
    "\n",
    "\r\n",
    "a.vmdk",
    "\ufeff",
    "\x00",
    SHA1,
    SHA256,
    SHA512,
    SHA1.upper(),
    "0",
    "g",
    ")=",
]


@given(st.lists(st.sampled_from(_MANIFEST_TOKENS), max_size=20).map("".join))
def test_manifest_like_text_gives_consistent_entries_or_manifest_error(text: str) -> None:
    try:
        result = parse_manifest(text.encode("utf-8"), "x.mf")
    except ManifestError:
        return
    seen: dict[tuple[str, str], str] = {}
    for entry in result:
        assert len(entry.digest) == DIGEST_LENGTHS[entry.algorithm]
        assert seen.setdefault((entry.algorithm, entry.filename), entry.digest) == entry.digest


@given(st.integers(min_value=1, max_value=4096))
@settings(max_examples=10)
def test_oversized_input_is_unsafe(extra: int) -> None:
    with pytest.raises(UnsafeInputError):
        parse_manifest(b"x" * (MAX_MANIFEST_SIZE + extra), "big.mf")
