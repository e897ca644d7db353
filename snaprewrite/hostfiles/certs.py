"""Reissuing the API server's serving certificate for a new service CIDR, as ``kubeadm init phase certs apiserver`` would.

The certificate (``apiserver.crt`` in kubeadm's PKI dir, ``/etc/kubernetes/pki``) names the
``kubernetes`` Service's address, the first IP of the service range, among its SANs: pods reach the API
there. After a move that address changes, and ``kubeadm certs renew`` copies the old SANs. ``reissue``
makes the certificate kubeadm would make for the new range, without kubeadm:

- the same subject, the same SANs in the same order with the old first service IP replaced by the
  new one, and every other extension copied as it was (key usage, extended key usage, basic
  constraints, ...); the authority key id follows the CA, a subject key id the key;
- signed by ``ca.crt``/``ca.key`` of the same dir with the old certificate's signature hash, a fresh
  random serial, valid from now for as long as the old one was valid;
- the existing key (``apiserver.key``) is kept unless ``new_key``: then a key of the same type and
  size replaces it.

Old files go to hidden timestamped backups beside them (``.apiserver.crt.snaprewrite-<UTC>.bak``,
the ``manifests`` helpers); keys are written 0600 through a temp file and a rename. Nothing here
prints or returns key material. Refusals (one line each): no ``ca.key`` (an external CA: the error
carries the CSR way), a certificate that is not a kube-apiserver serving certificate or not issued by
``ca.crt``, a key that does not belong to its certificate, and an OLD whose first IP is not in the SANs.
"""

import datetime
import ipaddress
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from ..errors import SnapshotError, UsageError
from ..rewrite.cidr import CidrMap
from .manifests import write_atomically

CERT = "apiserver.crt"
KEY = "apiserver.key"
CA_CERT = "ca.crt"
CA_KEY = "ca.key"
API_SERVER_NAMES = ("kubernetes", "kubernetes.default")  # kubeadm and every installer put these in the SANs


class ExternalCAError(SnapshotError):
    """Is raised when the PKI dir has no CA key (an external CA); ``alternative`` holds the CSR commands."""

    def __init__(self, message: str, alternative: str):
        super().__init__(message)
        self.alternative = alternative


@dataclass
class CertPlan:
    """The reissue of one API server certificate: what it holds now and what the new one will hold."""

    directory: Path
    old_ip: str
    new_ip: str
    old_sans: list[str]  # as openssl prints them: "DNS:kubernetes", "IP Address:10.96.0.1"
    new_sans: list[str]
    subject: str
    issuer: str
    validity: datetime.timedelta
    cert: x509.Certificate = field(repr=False)
    ca_cert: x509.Certificate = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def san_diff(self) -> list[str]:
        """san_diff is the SAN list as a diff: "  " kept, "- " removed, "+ " added, in the certificate's order."""
        out = []
        for name in self.old_sans:
            if name == f"IP Address:{self.old_ip}":
                out.append(f"- {name}")
                if f"IP Address:{self.new_ip}" in self.new_sans and f"IP Address:{self.new_ip}" not in self.old_sans:
                    out.append(f"+ IP Address:{self.new_ip}")
            else:
                out.append(f"  {name}")
        return out


@dataclass
class CertResult:
    """What ``certs`` did: the plan, and the files written with their backups (empty on a dry run)."""

    plan: CertPlan
    written: list[tuple[Path, Path | None]]
    new_key: bool


def _name(gn: x509.GeneralName) -> str:
    if isinstance(gn, x509.DNSName):
        return f"DNS:{gn.value}"
    if isinstance(gn, x509.IPAddress):
        return f"IP Address:{gn.value}"
    if isinstance(gn, x509.RFC822Name):
        return f"email:{gn.value}"
    if isinstance(gn, x509.UniformResourceIdentifier):
        return f"URI:{gn.value}"
    return str(gn.value)


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise SnapshotError(f"{path}: no {what} there") from None
    except OSError as e:
        raise SnapshotError(f"{path}: cannot read the {what}: {e.strerror or e}") from None


def _load_cert(path: Path, what: str) -> x509.Certificate:
    data = _read(path, what)
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        try:
            return x509.load_der_x509_certificate(data)
        except ValueError:
            raise SnapshotError(f"{path}: not a PEM or DER certificate") from None


def _load_key(path: Path, what: str):
    data = _read(path, what)
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        # the message of cryptography names the format problem, never the key's bytes
        raise SnapshotError(f"{path}: not an unencrypted PEM private key ({str(e).splitlines()[0][:80]})") from None


def _public_der(key) -> bytes:
    """_public_der is the SubjectPublicKeyInfo of a public key, or of a private key's public half."""
    if not hasattr(key, "public_bytes"):
        key = key.public_key()
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _subject_line(name: x509.Name) -> str:
    return name.rfc4514_string() or "(empty)"


def _sans(cert: x509.Certificate) -> list[x509.GeneralName]:
    try:
        return list(cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value)
    except x509.ExtensionNotFound:
        return []


def _check_is_apiserver(cert: x509.Certificate, path: Path) -> None:
    """_check_is_apiserver refuses anything but a kube-apiserver serving certificate (not a CA, serverAuth, kubernetes SAN)."""
    subject = _subject_line(cert.subject)
    try:
        if cert.extensions.get_extension_for_oid(ExtensionOID.BASIC_CONSTRAINTS).value.ca:
            raise SnapshotError(f"{path} ({subject}) is a CA certificate, not the API server's serving certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        usages = list(cert.extensions.get_extension_for_oid(ExtensionOID.EXTENDED_KEY_USAGE).value)
    except x509.ExtensionNotFound:
        usages = []
    dns = {gn.value for gn in _sans(cert) if isinstance(gn, x509.DNSName)}
    if ExtendedKeyUsageOID.SERVER_AUTH not in usages or not dns & set(API_SERVER_NAMES):
        raise SnapshotError(f"{path} ({subject}) is not a kube-apiserver serving certificate: it needs usage "
                            f"serverAuth and the SAN kubernetes or kubernetes.default")


def plan(directory: str | os.PathLike, service_cidr: str) -> CertPlan:
    """plan reads the PKI dir and computes the new SANs for ``--service-cidr OLD=NEW`` (nothing is written)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise UsageError(f"{directory} is not a directory")
    mapping = CidrMap.parse(service_cidr).mappings
    if len(mapping) != 1:
        raise UsageError(f"--service-cidr {service_cidr}: give one OLD=NEW (the range holding the kubernetes Service)")
    m = mapping[0]
    if m.old == m.new:
        raise UsageError(f"--service-cidr {service_cidr}: OLD equals NEW, nothing to do")
    old_ip, new_ip = m.old[1], m.new[1]  # the first IP of a range: the kubernetes Service's address
    cert = _load_cert(directory / CERT, "API server certificate")
    _check_is_apiserver(cert, directory / CERT)
    ca_cert = _load_cert(directory / CA_CERT, "CA certificate")
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise SnapshotError(f"{directory / CERT} was not issued by {directory / CA_CERT} "
                            f"(issuer {_subject_line(cert.issuer)}, CA {_subject_line(ca_cert.subject)})") from None
    names = _sans(cert)
    ips = [gn.value for gn in names if isinstance(gn, x509.IPAddress)]
    if old_ip not in ips:
        held = ", ".join(str(ip) for ip in ips) or "none"
        raise SnapshotError(f"{old_ip} (first IP of {m.old}) is not in the SANs of {directory / CERT} "
                            f"(its IP SANs: {held})")
    new_names: list[str] = []
    for gn in names:
        shown = f"IP Address:{new_ip}" if isinstance(gn, x509.IPAddress) and gn.value == old_ip else _name(gn)
        if shown not in new_names:
            new_names.append(shown)
    validity = cert.not_valid_after_utc - cert.not_valid_before_utc
    p = CertPlan(directory, str(old_ip), str(new_ip), [_name(gn) for gn in names], new_names,
                 _subject_line(cert.subject), _subject_line(ca_cert.subject), validity, cert, ca_cert)
    if new_ip in ips:
        p.notes.append(f"{new_ip} is already in the SANs; {old_ip} is removed")
    return p


def csr_alternative(p: CertPlan, key_path: Path) -> str:
    """csr_alternative is the openssl command that makes a CSR with the new SANs, for a CA that is not at hand."""
    subj = "".join(f"/{a.rfc4514_attribute_name}={a.value}" for a in p.cert.subject)
    sans = ",".join(n.replace("IP Address:", "IP:") for n in p.new_sans)
    cmd = ["openssl", "req", "-new", "-key", str(key_path), "-subj", subj or "/",
           "-addext", f"subjectAltName={sans}", "-addext", "keyUsage=critical,digitalSignature,keyEncipherment",
           "-addext", "extendedKeyUsage=serverAuth", "-out", "apiserver.csr"]
    return (f"# {p.directory} has no {CA_KEY}: the cluster's CA signs elsewhere. Make a CSR with the new SANs,\n"
            f"# have the CA sign it (serverAuth, {p.validity.days} days), and install the result as "
            f"{p.directory / CERT}:\n" + shlex.join(cmd) + "\n"
            "# with kubeadm >= 1.21 instead: kubeadm certs generate-csr --cert-dir DIR --kubeconfig-dir DIR\n")


def _new_private_key(old):
    """_new_private_key makes a key of the same type and size as ``old``."""
    if isinstance(old, rsa.RSAPrivateKey):
        return rsa.generate_private_key(public_exponent=65537, key_size=old.key_size)
    if isinstance(old, ec.EllipticCurvePrivateKey):
        return ec.generate_private_key(old.curve)
    if isinstance(old, ed25519.Ed25519PrivateKey):
        return ed25519.Ed25519PrivateKey.generate()
    if isinstance(old, ed448.Ed448PrivateKey):
        return ed448.Ed448PrivateKey.generate()
    raise SnapshotError(f"cannot make a new key like the old one ({type(old).__name__})")


def issue(p: CertPlan, key, ca_key, now: datetime.datetime | None = None) -> x509.Certificate:
    """issue signs the new certificate for ``key``'s public half with the CA key."""
    now = (now or datetime.datetime.now(datetime.UTC)).replace(microsecond=0)
    old = p.cert
    old_names = _sans(old)
    names = []
    for gn in old_names:
        if isinstance(gn, x509.IPAddress) and str(gn.value) == p.old_ip:
            gn = x509.IPAddress(ipaddress.ip_address(p.new_ip))
        if gn not in names:
            names.append(gn)
    b = (x509.CertificateBuilder().subject_name(old.subject).issuer_name(p.ca_cert.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now).not_valid_after(now + p.validity))
    for ext in old.extensions:
        if ext.oid == ExtensionOID.SUBJECT_ALTERNATIVE_NAME:
            b = b.add_extension(x509.SubjectAlternativeName(names), ext.critical)
        elif ext.oid == ExtensionOID.AUTHORITY_KEY_IDENTIFIER:
            try:
                ski = p.ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
                aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
            except x509.ExtensionNotFound:
                aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(p.ca_cert.public_key())
            b = b.add_extension(aki, ext.critical)
        elif ext.oid == ExtensionOID.SUBJECT_KEY_IDENTIFIER:
            b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), ext.critical)
        else:
            b = b.add_extension(ext.value, ext.critical)
    algorithm = old.signature_hash_algorithm
    if isinstance(ca_key, ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey):
        algorithm = None
    elif algorithm is None:
        algorithm = hashes.SHA256()
    return b.sign(ca_key, algorithm)


def _pem_key(key) -> bytes:
    fmt = serialization.PrivateFormat.PKCS8
    if isinstance(key, rsa.RSAPrivateKey):
        fmt = serialization.PrivateFormat.TraditionalOpenSSL  # kubeadm writes "RSA PRIVATE KEY"
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        fmt = serialization.PrivateFormat.TraditionalOpenSSL  # "EC PRIVATE KEY"
    return key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())


def run(directory: str | os.PathLike, service_cidr: str, *, dry_run: bool = False, new_key: bool = False,
        now: float | None = None) -> CertResult:
    """run is ``snaprewrite certs``: plan, refuse what is unsafe, and (unless dry_run) write cert (and key)."""
    p = plan(directory, service_cidr)
    key_path, ca_key_path = p.directory / KEY, p.directory / CA_KEY
    key = None
    if key_path.exists() or not new_key:
        key = _load_key(key_path, "API server key")
        if _public_der(key) != _public_der(p.cert.public_key()):
            raise SnapshotError(f"{key_path} does not belong to {p.directory / CERT} (their public keys differ)")
    if not ca_key_path.exists():
        raise ExternalCAError(f"{ca_key_path} does not exist (an external CA?): nothing written; the CSR way is "
                              "printed above", csr_alternative(p, key_path))
    ca_key = _load_key(ca_key_path, "CA key")
    if _public_der(ca_key) != _public_der(p.ca_cert.public_key()):
        raise SnapshotError(f"{ca_key_path} does not belong to {p.directory / CA_CERT} (their public keys differ)")
    ca_end = p.ca_cert.not_valid_after_utc
    if datetime.datetime.now(datetime.UTC) + p.validity > ca_end:
        p.notes.append(f"the new certificate outlives {CA_CERT}, which expires {ca_end:%Y-%m-%d}")
    if dry_run:
        return CertResult(p, [], new_key)
    signing_key = _new_private_key(key if key is not None else ca_key) if new_key else key
    cert = issue(p, signing_key, ca_key)
    written = []
    if new_key:
        written.append((key_path, write_atomically(key_path, _pem_key(signing_key), now=now, mode=0o600)))
    written.append((p.directory / CERT, write_atomically(p.directory / CERT,
                                                         cert.public_bytes(serialization.Encoding.PEM), now=now)))
    return CertResult(p, written, new_key)
