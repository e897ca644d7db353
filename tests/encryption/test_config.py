"""EncryptionConfiguration parsing and the one-line refusals around it (no etcd needed).

Layout compatibility with the API server is proven in test_encrypted_snapshots.py (it reads what the
real kube-apiserver wrote, and the real kube-apiserver reads what snaprewrite wrote); these tests pin
the config parsing, the errors and what they must never print.
"""

import base64
import os
import secrets

import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.k8s import encryption
from snaprewrite.k8s.encryption import EncryptionError, Key, Sealed

runner = CliRunner()
SECRET_KEY = base64.b64encode(b"S" * 32).decode()
PLAIN = b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12\x04fake"


def write(tmp_path, text: str, mode: int = 0o600, name: str = "enc.yaml"):
    path = tmp_path / name
    path.write_text(text)
    os.chmod(path, mode)
    return path


def config(provider: str = "aescbc", secret: str = SECRET_KEY, name: str = "key1",
           head: str = "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n") -> str:
    return (head + "resources:\n  - resources: [secrets]\n    providers:\n"
            f"      - {provider}:\n          keys:\n            - name: {name}\n              secret: {secret}\n"
            "      - identity: {}\n")


def test_v1_and_the_older_kind_read_the_same_keys(tmp_path):
    new, _ = encryption.load(write(tmp_path, config(), name="a.yaml"))
    old, _ = encryption.load(write(tmp_path, config(head="apiVersion: v1\nkind: EncryptionConfig\n"), name="b.yaml"))
    assert new.entries == old.entries
    (entry,) = new.entries
    assert entry.resources == ("secrets",) and entry.identity
    assert entry.keys == (Key("aescbc", "key1", b"S" * 32),)
    assert "SSSS" not in repr(entry) and SECRET_KEY not in repr(entry)


@pytest.mark.parametrize("text, want", [
    ("resources: [\n", "does not parse as YAML at line 2"),
    (config(secret="!!S3cr3tTag"), "does not parse as YAML at line 9"),  # YAML's own message would quote it
    ("- just a list\n", "is not a YAML mapping"),
    ("apiVersion: v1\nkind: Pod\nresources: []\n", "is not an EncryptionConfiguration"),
    ("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources: []\n", "has no resources"),
    (config(provider="rot13"), "unknown provider 'rot13'"),
    (config(secret="not*base64%%"), "aescbc key 'key1'): secret is not valid base64"),
    (config(secret=base64.b64encode(b"k" * 10).decode()), "secret is 10 bytes, aescbc needs 16, 24, 32"),
    (config(provider="secretbox", secret=base64.b64encode(b"k" * 16).decode()), "secret is 16 bytes, secretbox needs 32"),
    (config(name='""'), "name is a mandatory field"),
])
def test_bad_configs_are_one_line_that_never_echoes_the_file(tmp_path, text, want):
    path = write(tmp_path, text)
    with pytest.raises(EncryptionError) as e:
        encryption.load(path)
    assert want in str(e.value) and "\n" not in str(e.value)
    r = runner.invoke(app, ["get", "/nonexistent.db", "/registry/x", "--encryption-config", str(path)])
    assert r.exit_code == 1 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and want in r.stderr
    for secret in ("S3cr3tTag", "not*base64%%", base64.b64encode(b"k" * 10).decode(), base64.b64encode(b"k" * 16).decode(),
                   SECRET_KEY):
        assert secret not in r.stderr


def test_group_readable_config_warns(tmp_path, fixture_path):
    snap = fixture_path("tiny-etcd35.db")
    loose = write(tmp_path, config(), mode=0o644, name="loose.yaml")
    tight = write(tmp_path, config(), mode=0o600, name="tight.yaml")
    r = runner.invoke(app, ["dump", str(snap), "--encryption-config", str(loose)])
    assert r.exit_code == 0 and "readable by group or others (mode 0644)" in r.stderr
    assert SECRET_KEY not in r.stderr + r.stdout
    r = runner.invoke(app, ["dump", str(snap), "--encryption-config", str(tight)])
    assert r.exit_code == 0 and r.stderr == ""


@pytest.mark.parametrize("provider", ["aescbc", "aesgcm", "secretbox"])
def test_seal_and_open(provider):
    key = Key(provider, "k", secrets.token_bytes(32))
    cfg = encryption.EncryptionConfig("cfg", [encryption.ResourceEntry(("secrets",), (key,))])
    etcd_key = b"/registry/secrets/ns/one"
    a = cfg.seal(etcd_key, PLAIN, Sealed(key))
    b = cfg.seal(etcd_key, PLAIN, Sealed(key))
    assert a != b and a.startswith(b"k8s:enc:" + provider.encode() + b":v1:k:")  # a fresh IV/nonce each time
    assert cfg.open(etcd_key, a) == (PLAIN, Sealed(key)) and cfg.open(etcd_key, b)[0] == PLAIN
    assert cfg.open(etcd_key, PLAIN) == (PLAIN, None)
    other = encryption.EncryptionConfig("cfg", [encryption.ResourceEntry(("secrets",), (
        Key(provider, "k", secrets.token_bytes(32)),))])
    with pytest.raises(EncryptionError) as e:
        other.open(etcd_key, a)
    assert str(e.value).startswith(f"/registry/secrets/ns/one: {provider} key 'k' of cfg does not decrypt it (wrong key")
    for broken in (a[:-1], a[: len(key.prefix) + 3]):  # truncated or too short: refused, never an exception leak
        with pytest.raises(EncryptionError):
            cfg.open(etcd_key, broken)
    moved = b"/registry/secrets/ns/two"
    if provider == "aesgcm":  # the etcd key is authenticated: a value moved to another key does not open
        with pytest.raises(EncryptionError):
            cfg.open(moved, a)
    else:
        assert cfg.open(moved, a)[0] == PLAIN


def test_each_resource_list_uses_its_own_key_of_the_same_name():
    sa, sb = secrets.token_bytes(32), secrets.token_bytes(32)
    cfg = encryption.EncryptionConfig("cfg", [
        encryption.ResourceEntry(("secrets",), (Key("aesgcm", "key1", sa),)),
        encryption.ResourceEntry(("configmaps", "nodes"), (Key("aesgcm", "key1", sb),)),
    ])
    for etcd_key, secret in ((b"/registry/secrets/a/b", sa), (b"/registry/configmaps/a/b", sb),
                             (b"/registry/minions/n1", sb)):
        sealed = Sealed(Key("aesgcm", "key1", secret))
        value = cfg.seal(etcd_key, PLAIN, sealed)
        assert cfg.open(etcd_key, value) == (PLAIN, sealed)
    with pytest.raises(EncryptionError) as e:
        cfg.open(b"/registry/secrets/a/b", b"k8s:enc:aesgcm:v1:key9:" + secrets.token_bytes(40))
    assert "encrypted with aesgcm key 'key9', which is not in cfg" in str(e.value)


@pytest.mark.parametrize("secret, want", [
    ("not*base64%%", "secret is not valid base64"),
    (base64.b64encode(b"k" * 10).decode(), "secret is 10 bytes, aescbc needs 16, 24, 32"),
])
@pytest.mark.parametrize("command", ["rewrite", "rehearse", "verify", "doctor", "history", "dump"])
def test_every_command_refuses_a_bad_config_before_writing(tmp_path, fixture_path, command, secret, want):
    """Each command that takes --encryption-config stops on a bad key in one line, writing no output."""
    snap = str(fixture_path("k8s-etcd35.db"))
    path = str(write(tmp_path, config(secret=secret)))
    out, rep = tmp_path / "out.db", tmp_path / "report.json"
    args = {"rewrite": ["rewrite", snap, "--out", str(out), "--report", str(rep),
                        "--service-cidr", "10.96.0.0/12=10.100.0.0/16"],
            "rehearse": ["rehearse", snap, "--service-cidr", "10.96.0.0/12=10.100.0.0/16"],
            "verify": ["verify", snap, snap], "doctor": ["doctor", snap],
            "history": ["history", snap, "/registry/ranges/serviceips", "--values"], "dump": ["dump", snap]}[command]
    r = runner.invoke(app, args + ["--encryption-config", path])
    assert r.exit_code == 1 and r.stdout == "", (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and want in r.stderr and "(aescbc key 'key1')" in r.stderr
    assert secret not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc.yaml"]


def test_resource_lists_are_found_below_either_known_root():
    """A key name used by two resource lists opens with the list of the key's resource, under /registry/ or /kubernetes.io/."""
    sa, sb = secrets.token_bytes(32), secrets.token_bytes(32)
    cfg = encryption.EncryptionConfig("cfg", [
        encryption.ResourceEntry(("secrets",), (Key("aescbc", "key1", sa),)),
        encryption.ResourceEntry(("nodes",), (Key("aescbc", "key1", sb),)),
    ])
    for root in (b"/registry/", b"/kubernetes.io/"):
        key = root + b"minions/n1"
        _, sealed = cfg.open(key, cfg.seal(key, PLAIN, Sealed(Key("aescbc", "key1", sb))))
        assert sealed.key.secret == sb  # the nodes list first: the secrets list's key1 is never tried
        assert encryption._key_resource(key) == "nodes"
    assert encryption._key_resource(b"/custom/minions/n1") == ""
