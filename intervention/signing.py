"""PAdES signatures on court documents: the program's key and certificate, a development CA,
signing a rendered PDF, and checking the signature of an uploaded one."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import current_app

# The signature field every court document carries; a validator lists it by this name.
FIELD_NAME = "Director"
# Where `flask signing init` puts the development CA and signing certificate, in the instance
# folder, and what development and tests use unless INTERVENTION_SIGNING_* say otherwise.
DEV_FOLDER = "signing"
DEV_KEY = "signing-key.pem"
DEV_CERT = "signing-cert.pem"
DEV_CA = "dev-ca-cert.pem"
DEV_CA_KEY = "dev-ca-key.pem"

_lock = threading.Lock()
_signers: dict[tuple, object] = {}


class SigningError(RuntimeError):
    """The program's signing key or certificate cannot be used."""


def dev_paths(instance_path: str | Path) -> dict[str, Path]:
    folder = Path(instance_path) / DEV_FOLDER
    return {
        "key": folder / DEV_KEY,
        "cert": folder / DEV_CERT,
        "ca": folder / DEV_CA,
        "ca_key": folder / DEV_CA_KEY,
    }


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Intervention Development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def make_dev_ca(instance_path: str | Path, *, force: bool = False) -> dict[str, Path]:
    """A development program CA and a signing certificate issued by it (EC P-256), named as
    development so nobody mistakes them for the program's real key. Kept if already there."""
    paths = dev_paths(instance_path)
    if not force and all(p.is_file() for p in paths.values()):
        return paths
    paths["key"].parent.parent.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Intervention Development CA (not for court use)")
    ca_cert = _dev_ca_certificate(ca_key, ca_name, now)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _dev_signing_certificate(key, ca_key, ca_name, now)
    pem = serialization.Encoding.PEM
    unencrypted = serialization.NoEncryption()
    pkcs8 = serialization.PrivateFormat.PKCS8
    contents = {
        "ca_key": ca_key.private_bytes(pem, pkcs8, unencrypted),
        "ca": ca_cert.public_bytes(pem),
        "key": key.private_bytes(pem, pkcs8, unencrypted),
        "cert": cert.public_bytes(pem),
    }
    _install_dev_folder(paths, contents, force=force)
    return paths


def _dev_ca_certificate(
    ca_key: ec.EllipticCurvePrivateKey, ca_name: x509.Name, now: dt.datetime
) -> x509.Certificate:
    """The development CA's self-signed certificate, valid ten years."""
    return (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    """A KeyUsage extension allowing only the uses named."""
    uses = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{use: allowed.get(use, False) for use in uses})


def _dev_signing_certificate(
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_name: x509.Name,
    now: dt.datetime,
) -> x509.Certificate:
    """The development director's document-signing certificate, issued by the development CA."""
    return (
        x509.CertificateBuilder()
        .subject_name(_name("Intervention Development Program Director"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            # What a document signature needs (RFC 5280; ETSI EN 319 412-2 for
            # non-repudiation, here content_commitment).
            _key_usage(digital_signature=True, content_commitment=True),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _install_dev_folder(paths: dict[str, Path], contents: dict[str, bytes], *, force: bool) -> None:
    """Write the four PEM files (keys private) into the signing folder, all at once."""
    folder = paths["key"].parent
    # The four files are written to a new folder renamed into place whole, so two processes
    # starting at once (the reloader and its child) never mix one's key with the other's
    # certificate: whichever folder lands first is the one both use.
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{DEV_FOLDER}."))
    try:
        files = {name: staging / path.name for name, path in paths.items()}
        for name in ("ca_key", "ca", "key", "cert"):
            _write(files[name], contents[name], private=name in ("ca_key", "key"))
        os.chmod(staging, 0o700)
        if force and folder.exists():
            shutil.rmtree(folder)
        try:
            os.rename(staging, folder)
        except OSError:
            if not all(p.is_file() for p in paths.values()):
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Whole files only (a temporary file renamed into place); keys readable by their owner."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        if not private:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _settings() -> tuple[str, str, tuple[str, ...], bytes | None]:
    config = current_app.config
    if config.get("SIGNING_CREATE") and not config.get("SIGNING_KEY"):
        # Development and tests: the development CA, made on first use so `make run` needs
        # no setup. Production never gets here (config refuses to start without a key).
        with _lock:
            paths = make_dev_ca(current_app.instance_path)
        return str(paths["key"]), str(paths["cert"]), (str(paths["ca"]),), None
    passphrase = config.get("SIGNING_KEY_PASSPHRASE")
    return (
        config["SIGNING_KEY"],
        config["SIGNING_CERT"],
        tuple(config.get("SIGNING_CA_CHAIN") or ()),
        passphrase.encode() if passphrase else None,
    )


def signer():
    """The program's pyHanko signer, loaded once per process and set of files."""
    from pyhanko.sign import signers

    key, cert, chain, passphrase = _settings()
    cache_key = (key, cert, chain)
    with _lock:
        loaded = _signers.get(cache_key)
    if loaded is not None:
        return loaded
    loaded = signers.SimpleSigner.load(key, cert, ca_chain_files=chain, key_passphrase=passphrase)
    if loaded is None:
        raise SigningError(
            f"Could not load the signing key {key} with the certificate {cert}: check the "
            "files and INTERVENTION_SIGNING_KEY_PASSPHRASE."
        )
    with _lock:
        _signers[cache_key] = loaded
    return loaded


def trust_roots() -> list:
    """The certificates a signature on our own documents chains up to: the configured chain
    (the development CA in development), else the signing certificate itself. Used to say
    whether a signature is the program's."""
    from pyhanko.keys import load_certs_from_pemder

    _key, cert, chain, _pass = _settings()
    # Without a chain, the program's own certificate is the one anchor we can vouch for.
    return list(load_certs_from_pemder(chain or (cert,)))


def sign_pdf(pdf: bytes, *, reason: str, name: str) -> bytes:
    """PAdES B-B signature (ETSI EN 319 142, the profile EU courts and Adobe accept) as an
    incremental update, so the PDF/A-3 file signed keeps its bytes, XMP and structure tree."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        name=name,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    _one_entry_per_associated_file(writer)
    out = signers.sign_pdf(writer, meta, signer=signer())
    return out.getvalue()


def _one_entry_per_associated_file(writer) -> None:
    """WeasyPrint 70 lists each attachment twice in the catalog's /AF array (ISO 19005-3
    6.8 wants each associated file once); write the array with one entry per file spec in the
    same revision as the signature, so the signature covers the corrected catalog."""
    from pyhanko.pdf_utils import generic

    root = writer.root
    if "/AF" not in root:
        return
    seen: list = []
    for ref in root.raw_get("/AF"):
        key = (ref.idnum, ref.generation) if isinstance(ref, generic.IndirectObject) else id(ref)
        if key not in [k for k, _ in seen]:
            seen.append((key, ref))
    if len(seen) != len(root.raw_get("/AF")):
        root["/AF"] = generic.ArrayObject([ref for _, ref in seen])
        writer.update_root()


@dataclass(frozen=True)
class SignatureCheck:
    """What /verify says about an uploaded file's signature."""

    present: bool
    intact: bool = False  # the bytes signed are unchanged and the signature is mathematically valid
    trusted: bool = False  # the signer's certificate chains to the program's CA
    covers_whole_file: bool = False  # nothing was added after signing
    signer: str = ""  # the signer certificate's subject
    signed_at: dt.datetime | None = None

    @property
    def valid(self) -> bool:
        return self.present and self.intact and self.trusted and self.covers_whole_file


def check_signature(data: bytes) -> SignatureCheck:
    """Validate the first signature of an uploaded PDF with pyHanko against the program's
    trust roots. Anything that does not parse as a signed PDF counts as unsigned."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = reader.embedded_signatures
    except Exception:  # noqa: BLE001 - any unreadable upload is "no signature", not a 500
        return SignatureCheck(present=False)
    if not embedded:
        return SignatureCheck(present=False)
    try:
        context = ValidationContext(trust_roots=trust_roots(), allow_fetching=False)
        status = validate_pdf_signature(embedded[0], context)
    except Exception:  # noqa: BLE001 - a malformed signature is a broken one
        return SignatureCheck(present=True)
    from pyhanko.sign.diff_analysis import ModificationLevel

    cert = status.signing_cert
    return SignatureCheck(
        present=True,
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted),
        covers_whole_file=status.modification_level in (None, ModificationLevel.NONE)
        and status.coverage is not None
        and status.coverage.name == "ENTIRE_FILE",
        signer=cert.subject.human_friendly if cert is not None else "",
        signed_at=status.signer_reported_dt,
    )


@dataclass(frozen=True)
class Signatory:
    """Who attests a court document and in whose name it is signed."""

    name: str
    title: str

    def __str__(self) -> str:
        return f"{self.name}, {self.title}"


def director(actor) -> Signatory:
    """The program director, who attests every court document, not the facilitator who
    pressed the button. The one place that says who that is: the director the provider record
    names; until the director fills that in, the issuing admin, else the longest-standing
    active admin account (the program director's role), else the actor."""
    from sqlalchemy import select

    from .extensions import db
    from .models import Role, User
    from .services import provider

    record = provider.current()
    if record is not None and record.director_name:
        return Signatory(name=record.director_name, title=record.director_title or Role.ADMIN.label)
    person = actor
    if actor.role is not Role.ADMIN:
        person = (
            db.session.scalar(
                select(User)
                .where(User.role == Role.ADMIN, User.active.is_(True))
                .order_by(User.id)
                .limit(1)
            )
            or actor
        )
    return Signatory(name=person.full_name, title=person.role.label)
