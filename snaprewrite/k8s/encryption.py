"""Encryption at rest: the API server's EncryptionConfiguration, and opening and sealing stored values with it.

kube-apiserver (``--encryption-provider-config``) stores a value of an encrypted resource as
``k8s:enc:<provider>:v1:<key name>:`` + ciphertext (apiserver ``pkg/storage/value/encrypt``,
``pkg/server/options/encryptionconfig``); the key name is part of the prefix, so a value is opened with
the configured key whose prefix it starts with, whatever the key's place in the file. Byte layouts:

  * ``aescbc``: 16-byte IV, then AES-CBC of the plaintext with PKCS#7 padding (a whole block when the
    length is a multiple of 16); no authentication: a wrong key shows as bad padding (or a plaintext that
    is neither ``k8s\\x00`` protobuf nor JSON, which this module also refuses);
  * ``aesgcm``: 12-byte random nonce, then AES-GCM ciphertext and 16-byte tag; the additional
    authenticated data is the etcd key (the etcd3 store passes ``authenticatedDataString(key)``), so a
    value copied under another key does not open;
  * ``secretbox``: 24-byte nonce, then NaCl secretbox (XSalsa20-Poly1305, tag first), 32-byte key;
  * ``kms`` (``k8s:enc:kms:v1:<name>:`` and ``k8s:enc:kms:v2:<name>:``): the data key is wrapped by an
    external KMS plugin: refused, with the provider and name.

Keys are 16, 24 or 32 bytes for AES and 32 for secretbox, base64 in the file (apiserver config
validation). Nothing here prints or formats key material: ``Key`` hides its secret from ``repr``, and
error messages name the file, the provider, the key name and the etcd key, never bytes.
"""

import base64
import binascii
import os
import secrets as random
import stat
from dataclasses import dataclass, field

from ..errors import SnapshotError
from . import envelope
from .layout import KNOWN_ROOTS

ENC_PREFIX = b"k8s:enc:"
KMS_PREFIXES = {b"k8s:enc:kms:v1:": "v1", b"k8s:enc:kms:v2:": "v2"}
API_VERSIONS = ("apiserver.config.k8s.io/v1", "v1")
KINDS = ("EncryptionConfiguration", "EncryptionConfig")
KEY_SIZES = {"aescbc": (16, 24, 32), "aesgcm": (16, 24, 32), "secretbox": (32,)}
AES_BLOCK, GCM_NONCE, SECRETBOX_NONCE = 16, 12, 24


class EncryptionError(SnapshotError):
    """Is raised for an EncryptionConfiguration that does not parse, or a stored value it cannot open or seal."""


@dataclass(frozen=True)
class Key:
    """One key of a provider, as named in the config; ``prefix`` is what values sealed with it start with."""

    provider: str  # aescbc, aesgcm, secretbox
    name: str
    secret: bytes = field(repr=False)

    @property
    def prefix(self) -> bytes:
        return ENC_PREFIX + f"{self.provider}:v1:{self.name}:".encode()

    @property
    def label(self) -> str:
        """label names the key for reports and messages: ``aescbc/key1`` (never its bytes)."""
        return f"{self.provider}/{self.name}"


@dataclass(frozen=True)
class ResourceEntry:
    """One ``resources[i]`` of the config: resource names and their providers' keys in file order."""

    resources: tuple[str, ...]
    keys: tuple[Key, ...]
    kms: tuple[tuple[str, str], ...] = ()  # (name, apiVersion) of kms providers
    identity: bool = False


def _fail(path: str, what: str) -> EncryptionError:
    return EncryptionError(f"{path}: encryption config {what}")


def _keys(path: str, where: str, provider: str, body) -> list[Key]:
    """_keys reads ``{keys: [{name, secret}]}`` of an AES or secretbox provider, checking base64 and length."""
    if not isinstance(body, dict) or not isinstance(body.get("keys"), list) or not body["keys"]:
        raise _fail(path, f"{where}.{provider}: at least one key is required")
    out = []
    for j, k in enumerate(body["keys"]):
        at = f"{where}.{provider}.keys[{j}]"
        if not isinstance(k, dict) or not isinstance(k.get("name"), str) or not k["name"]:
            raise _fail(path, f"{at}: name is a mandatory field for a key")
        name = k["name"]
        secret = k.get("secret")
        if not isinstance(secret, str) or not secret:
            raise _fail(path, f"{at} ({provider} key {name!r}): secret is a mandatory field for a key")
        try:
            raw = base64.b64decode(secret, validate=True)
        except (binascii.Error, ValueError):
            raise _fail(path, f"{at} ({provider} key {name!r}): secret is not valid base64") from None
        if len(raw) not in KEY_SIZES[provider]:
            want = ", ".join(str(n) for n in KEY_SIZES[provider])
            raise _fail(path, f"{at} ({provider} key {name!r}): secret is {len(raw)} bytes, "
                              f"{provider} needs {want}")
        out.append(Key(provider, name, raw))
    return out


def _entry(path: str, i: int, item) -> ResourceEntry:
    where = f"resources[{i}]"
    if not isinstance(item, dict):
        raise _fail(path, f"{where}: not a mapping")
    names = item.get("resources")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
        raise _fail(path, f"{where}.resources: at least one resource name is required")
    providers = item.get("providers")
    if not isinstance(providers, list) or not providers:
        raise _fail(path, f"{where}.providers: at least one provider is required")
    keys: list[Key] = []
    kms: list[tuple[str, str]] = []
    identity = False
    for j, prov in enumerate(providers):
        at = f"{where}.providers[{j}]"
        if not isinstance(prov, dict) or len(prov) != 1:
            raise _fail(path, f"{at}: want exactly one of aescbc, aesgcm, secretbox, kms, identity")
        (kind, body), = prov.items()
        if kind in KEY_SIZES:
            keys.extend(_keys(path, at, kind, body))
        elif kind == "kms":
            if not isinstance(body, dict) or not isinstance(body.get("name"), str) or not body["name"]:
                raise _fail(path, f"{at}.kms: name is a mandatory field for a provider")
            version = body.get("apiVersion", "v1")
            if version not in ("v1", "v2"):
                raise _fail(path, f"{at}.kms: unsupported apiVersion {version!r} (v1 or v2)")
            kms.append((body["name"], version))
        elif kind == "identity":
            identity = True
        else:
            raise _fail(path, f"{at}: unknown provider {str(kind)[:40]!r}")
    return ResourceEntry(tuple(names), tuple(keys), tuple(kms), identity)


@dataclass(frozen=True)
class Sealed:
    """How a stored value was encrypted: the key that opened it (``kms``: only the name is known)."""

    key: Key

    @property
    def label(self) -> str:
        return self.key.label


def _key_resource(etcd_key: bytes) -> str:
    """_key_resource guesses the resource of a registry key as the config names it (``minions`` -> ``nodes``).

    Keys under a known layout root (``/registry/``, OpenShift's ``/kubernetes.io/``) are read below it;
    under another root the resource is unknown ("") and every resource list is tried in file order.
    """
    root = next((r for r in KNOWN_ROOTS if etcd_key.startswith(r)), None)
    if root is None:
        return ""
    parts = etcd_key[len(root):].decode("utf-8", "replace").split("/")
    res = parts[0]
    if res == "services" and len(parts) > 1:
        return "endpoints" if parts[1] == "endpoints" else "services"
    if res == "minions":
        return "nodes"
    if "." in res and len(parts) > 1:  # <root><group>/<resource>/...
        return f"{parts[1]}.{res}"
    return res


def _matches(names: tuple[str, ...], resource: str) -> bool:
    """_matches tells whether a resources list names the resource (``secrets``, ``*.``, ``*.*``, ``x.group``).

    A key under ``/registry/<resource>/`` does not say its group, so there ``r.group`` matches on ``r``.
    """
    res, _, group = resource.partition(".")
    for n in names:
        r, _, g = n.partition(".")
        if n == "*.*" or (r == "*" and g == group) or (r == res and (g == group or not group)):
            return True
    return False


class EncryptionConfig:
    """A parsed EncryptionConfiguration: opens (decrypts) and seals (encrypts) stored values.

    A value starting ``k8s:enc:`` is opened with the first configured key whose prefix it carries,
    trying the resource list that names the value's resource first (as the API server does), then
    the other lists (a key moved between lists still opens; ``aescbc`` has no authentication, so a
    key that fails on padding or yields a non-Kubernetes plaintext counts as wrong).
    """

    def __init__(self, path: str, entries: list[ResourceEntry]):
        self.path = path
        self.entries = entries

    def _candidates(self, etcd_key: bytes, value: bytes) -> list[Key]:
        resource = _key_resource(etcd_key)
        ordered = [e for e in self.entries if _matches(e.resources, resource)][:1]
        ordered += [e for e in self.entries if e not in ordered]
        out: list[Key] = []
        for e in ordered:
            for k in e.keys:
                if value.startswith(k.prefix) and k not in out:
                    out.append(k)
        return out

    def open(self, etcd_key: bytes, value: bytes) -> tuple[bytes, Sealed | None]:
        """open returns (plaintext, how it was sealed); an unencrypted value comes back as it is, with None."""
        value = bytes(value)
        if not value.startswith(ENC_PREFIX):
            return value, None
        refuse_kms(etcd_key, value)
        keys = self._candidates(etcd_key, value)
        shown = etcd_key.decode("utf-8", "backslashreplace")
        if not keys:
            provider, name = describe(value)
            raise EncryptionError(f"{shown}: encrypted with {provider} key {name!r}, which is not in {self.path}")
        for k in keys:
            plain = _open(k, etcd_key, value[len(k.prefix):])
            if plain is not None:
                return plain, Sealed(k)
        k = keys[0]
        raise EncryptionError(f"{shown}: {k.provider} key {k.name!r} of {self.path} does not decrypt it "
                              f"(wrong key: {'padding or content' if k.provider == 'aescbc' else 'authentication'} check failed)")

    def seal(self, etcd_key: bytes, plaintext: bytes, sealed: Sealed) -> bytes:
        """seal encrypts a plaintext for ``etcd_key`` with the same provider and key, and a fresh IV or nonce."""
        k = sealed.key
        return k.prefix + _seal(k, etcd_key, bytes(plaintext))


def refuse_kms(etcd_key: bytes, value: bytes) -> None:
    """refuse_kms raises for a value sealed by a KMS provider: its data key needs the KMS plugin to unwrap."""
    for prefix, version in KMS_PREFIXES.items():
        if value.startswith(prefix):
            name = bytes(value[len(prefix):len(prefix) + 256]).split(b":", 1)[0].decode("utf-8", "replace")
            shown = etcd_key.decode("utf-8", "backslashreplace")
            raise EncryptionError(f"{shown}: encrypted by kms {version} provider {name!r}; decrypting it needs that "
                                  "KMS plugin, which snaprewrite cannot call")


def describe(value: bytes) -> tuple[str, str]:
    """describe reads (provider, key name) from an encrypted value's prefix (``envelope``), for messages and counts."""
    env = envelope.parse(bytes(value[: len(ENC_PREFIX) + 512]))
    provider = env.provider or "?"
    if provider == "kms" and env.provider_version == "v2":
        provider = "kms v2"
    return provider, env.key_name or "?"


def _plausible(plain: bytes) -> bool:
    """_plausible tells whether a plaintext is what the API server stores: protobuf envelope or JSON."""
    return plain.startswith(b"k8s\x00") or plain.lstrip()[:1] == b"{"


def _open(k: Key, etcd_key: bytes, data: bytes) -> bytes | None:
    """_open decrypts the bytes after the prefix; None when the key is wrong (tag, padding, plausibility)."""
    if k.provider == "aesgcm":
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if len(data) < GCM_NONCE + 16:
            return None
        try:
            return AESGCM(k.secret).decrypt(data[:GCM_NONCE], data[GCM_NONCE:], etcd_key)
        except InvalidTag:
            return None
    if k.provider == "secretbox":
        from nacl.exceptions import CryptoError
        from nacl.secret import SecretBox

        if len(data) < SECRETBOX_NONCE + SecretBox.MACBYTES:
            return None
        try:
            return SecretBox(k.secret).decrypt(data[SECRETBOX_NONCE:], data[:SECRETBOX_NONCE])
        except CryptoError:
            return None
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    body = data[AES_BLOCK:]
    if len(data) < AES_BLOCK or not body or len(body) % AES_BLOCK:
        return None
    dec = Cipher(algorithms.AES(k.secret), modes.CBC(data[:AES_BLOCK])).decryptor()
    plain = dec.update(body) + dec.finalize()
    pad = plain[-1]  # PKCS#7 as the apiserver checks it: 1..len bytes, all equal to the count
    if pad == 0 or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
        return None
    plain = plain[:-pad]
    return plain if _plausible(plain) else None


def _seal(k: Key, etcd_key: bytes, plain: bytes) -> bytes:
    """_seal encrypts with a fresh random IV/nonce, laid out as the apiserver lays it out."""
    if k.provider == "aesgcm":
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = random.token_bytes(GCM_NONCE)
        return nonce + AESGCM(k.secret).encrypt(nonce, plain, etcd_key)
    if k.provider == "secretbox":
        from nacl.secret import SecretBox

        nonce = random.token_bytes(SECRETBOX_NONCE)
        return bytes(SecretBox(k.secret).encrypt(plain, nonce))  # nonce + tag + ciphertext
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    pad = AES_BLOCK - len(plain) % AES_BLOCK
    iv = random.token_bytes(AES_BLOCK)
    enc = Cipher(algorithms.AES(k.secret), modes.CBC(iv)).encryptor()
    return iv + enc.update(plain + bytes([pad]) * pad) + enc.finalize()


def load(path: str | os.PathLike) -> tuple[EncryptionConfig, list[str]]:
    """load parses an EncryptionConfiguration file; returns it and warnings (a key file others can read).

    Raises EncryptionError with one line naming the file and the field at fault; the file's content
    (it holds keys) is never quoted.
    """
    import yaml

    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            text = f.read()
    except OSError as e:
        raise EncryptionError(f"{path}: cannot read the encryption config ({e.strerror})") from None
    warnings = []
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.append(f"{path} holds encryption keys but is readable by group or others "
                        f"(mode {stat.S_IMODE(st.st_mode):04o}); chmod 600 it")
    try:
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:  # its problem text can quote the file (a secret): the place only
        mark = e.problem_mark or e.context_mark
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise _fail(path, f"does not parse as YAML{line}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise _fail(path, "does not parse as YAML") from None
    if not isinstance(doc, dict):
        raise _fail(path, "is not a YAML mapping")
    if doc.get("kind") not in KINDS or doc.get("apiVersion") not in API_VERSIONS:
        raise _fail(path, "is not an EncryptionConfiguration (want kind EncryptionConfiguration, apiVersion "
                          "apiserver.config.k8s.io/v1)")
    items = doc.get("resources")
    if not isinstance(items, list) or not items:
        raise _fail(path, "has no resources")
    return EncryptionConfig(path, [_entry(path, i, item) for i, item in enumerate(items)]), warnings
