"""PAdES signatures of rendered documents with the site's key (pyHanko), and the
self-signed development key `flask init` makes (never in production)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import current_app
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata import model as xmp
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers

SIGNATURE_FIELD = "CellbatchDocumentSignature"
#: Hex digits reserved in the file for a signer's signature container, by certificate SHA-256.
#: Left to itself pyHanko sizes the space with a dry-run signature before every real one: 40 % of
#: each signing (23 -> 14 ms for a CoA; issue #10). Its estimate (the dry run's size plus 50 %) is
#: taken from the signer's first signature in this process and reused: the container of one
#: certificate differs between signatures by the few bytes of an ECDSA value at most.
_RESERVED: dict[bytes, int] = {}


class _PdfaMetadataWriter(IncrementalPdfFileWriter):
    """pyHanko appends itself to the Info /Producer but writes only itself into the XMP
    pdf:Producer; PDF/A requires the two to agree, so the XMP gets the Info value."""

    def _update_meta(self) -> None:
        super()._update_meta()
        info = self.trailer["/Info"].get_object() if "/Info" in self.trailer else None
        stream = self.root.get("/Metadata")
        if info is None or stream is None or "/Producer" not in info:
            return
        stream = stream.get_object()
        fields_ = {name: value for root in stream.xmp for name, value in root}
        fields_[xmp.PDF_PRODUCER] = xmp.XmpValue(str(info["/Producer"]))
        stream._xmp = [xmp.XmpStructure(fields_)]  # noqa: SLF001 - no public setter in pyHanko 0.38
        stream._reserialise()  # noqa: SLF001
        stream._encoded_data = None  # noqa: SLF001


def signing_configured() -> bool:
    return bool(current_app.config.get("SIGNING_KEY") and current_app.config.get("SIGNING_CERT"))


def sign_if_configured(pdf: bytes, reason: str) -> tuple[bytes, bool]:
    """Sign with the configured key; a configured but unreadable key is an error, not a skip."""
    if not signing_configured():
        return pdf, False
    signer = signers.SimpleSigner.load(current_app.config["SIGNING_KEY"], current_app.config["SIGNING_CERT"])
    if signer is None:
        raise RuntimeError("CELLBATCH_SIGNING_KEY / CELLBATCH_SIGNING_CERT could not be loaded")
    meta = signers.PdfSignatureMetadata(field_name=SIGNATURE_FIELD, subfilter=fields.SigSeedSubFilter.PADES,
                                        md_algorithm="sha256", reason=reason,
                                        location=current_app.config["SITE_NAME"])  # fmt: skip
    writer = _PdfaMetadataWriter(io.BytesIO(pdf))
    fingerprint = signer.signing_cert.sha256
    signed = signers.PdfSigner(meta, signer=signer).sign_pdf(writer, bytes_reserved=_RESERVED.get(fingerprint))
    if fingerprint not in _RESERVED:
        _RESERVED[fingerprint] = _reserved_space(signed.getvalue())
    return signed.getvalue(), True


def _reserved_space(signed: bytes) -> int:
    """The hex digits pyHanko reserved for our signature container in a file it just signed."""
    signatures = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    signature = next(s for s in signatures if s.field_name == SIGNATURE_FIELD)
    return 2 * len(signature.sig_object.get_object()["/Contents"])


def make_dev_key(directory: Path, site: str, force: bool = False) -> tuple[Path, Path, bool]:
    """A self-signed ECDSA P-256 key and certificate for development; (key, cert, created)."""
    key_path, cert_path = directory / "key.pem", directory / "cert.pem"
    if key_path.exists() and cert_path.exists() and not force:
        return key_path, cert_path, False
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cellbatch DEVELOPMENT document signing"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, site[:64] or "cellbatch")])  # fmt: skip
    now = datetime.now(UTC)
    usage = x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
                          encipher_only=False, decipher_only=False)  # fmt: skip
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=825))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(usage, critical=True)
            .sign(key, hashes.SHA256()))  # fmt: skip
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    key_path.chmod(0o600)
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path, True
