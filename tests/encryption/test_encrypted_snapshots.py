"""Encrypted snapshots written by the real kube-apiserver: read, rewrite, restore with real etcd, serve again.

Per provider (aescbc, aesgcm, secretbox): ``get``/``dump`` with the config show what the API server
served for the same objects; a service- and pod-CIDR rewrite, restored by real etcd 3.5 and read by the
real kube-apiserver started with the same EncryptionConfiguration and the new service range, serves the
new addresses with no repair findings and every object decrypts; unchanged objects keep their
ciphertext byte for byte. Refusals: no config, unknown key name, wrong key, kms.
"""

import json
import secrets

import encryption_material as material
import pytest
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.rehearsal.server import EtcdServer, restore

PROVIDERS = ("aescbc", "aesgcm", "secretbox")
MAPPING = ["--service-cidr", f"{material.SERVICE_CIDR}={material.NEW_SERVICE_CIDR}",
           "--pod-cidr", f"{material.POD_CIDR}={material.NEW_POD_CIDR}"]
REPAIR_REASONS = ("ClusterIPOutOfRange", "ClusterIPNotAllocated", "ClusterIPAlreadyAllocated", "ClusterIPNotValid",
                  "PortNotAllocated", "PortOutOfRange", "PortAlreadyAllocated")
REPAIR_LOG = ("not within the service CIDR", "may have leaked", "not allocated; repairing")
runner = CliRunner()


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args) -> str:
    r = cli(*args)
    assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr, r.exception)
    return r.stdout


def refused(*args) -> str:
    """refused runs a command that must fail with exit 1 and one stderr line; returns that line."""
    r = cli(*args)
    assert r.exit_code == 1, (r.exit_code, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def as_served(item: dict) -> dict:
    """as_served is what the API returned minus what storage does not hold (resourceVersion, selfLink)."""
    out = json.loads(json.dumps(item))
    out["metadata"].pop("resourceVersion", None)
    out["metadata"].pop("selfLink", None)
    return out


def enc_prefix(value: bytes) -> bytes:
    """enc_prefix is ``k8s:enc:<provider>:v1:<name>:`` of a stored value (b"" when not encrypted)."""
    if not value.startswith(b"k8s:enc:"):
        return b""
    return b":".join(value.split(b":", 5)[:5]) + b":"


def other_keys_config(m: material.Material, tmp_path, rename: bool) -> str:
    """other_keys_config is m's config with fresh secrets (same names), or with the key renamed."""
    keys = [("other" if rename else name, secrets.token_bytes(32)) for name in m.keys]
    return str(material.write_private(tmp_path / "other.yaml", material.config_text(m.provider, keys)))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_get_and_dump_show_what_the_api_server_served(provider, encrypted):
    m = encrypted(provider)
    assert m.served, "the API server served nothing"
    for key in m.served:  # the material really is encrypted, with this provider and key
        assert m.stored[key].startswith(f"k8s:enc:{provider}:v1:key1:".encode()), key
    for key, item in m.served.items():
        got = json.loads(ok("get", m.snapshot, key, "-o", "json", "--show-secrets", "--encryption-config", m.config))
        assert got == as_served(item), key
    dumped = {}
    for line in ok("dump", m.snapshot, "--show-secrets", "--encryption-config", m.config).splitlines():
        rec = json.loads(line)
        dumped[rec["key"]] = rec["value"]
    assert set(dumped) == set(m.stored)
    for key, item in m.served.items():
        assert dumped[key] == as_served(item), key
    # decrypted Secret data stays redacted unless asked for
    hidden = ok("get", m.snapshot, "/registry/secrets/default/s1", "-o", "json", "--encryption-config", m.config)
    assert json.loads(hidden)["kind"] == "Secret" and "not-a-real-password" not in hidden
    assert "bm90LWEtcmVhbC1wYXNzd29yZA" not in hidden  # nor its base64
    assert "not-a-real-password" not in ok("dump", m.snapshot, "--encryption-config", m.config)
    # without the config the value is only described, with its provider and key name
    plain = json.loads(ok("get", m.snapshot, "/registry/secrets/default/s1", "-o", "json"))
    assert plain["encrypted"] == {"provider": provider, "keyName": "key1"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rewrite_restored_by_etcd_and_served_by_the_api_server(provider, encrypted, etcd35, kube_apiserver,
                                                               tmp_path):
    m = encrypted(provider)
    out, rep_path = tmp_path / "out.db", tmp_path / "report.json"
    ok("rewrite", m.snapshot, "--out", out, *MAPPING, "--encryption-config", m.config, "--report", rep_path)
    rep = json.loads(rep_path.read_text())
    changed = {e["key"] for e in rep["encrypted"]}
    assert {e["provider"] for e in rep["encrypted"]} == {provider} and {e["keyName"] for e in rep["encrypted"]} == {"key1"}
    assert {"/registry/services/specs/default/web", "/registry/minions/node-1",
            "/registry/configmaps/kube-system/kubeadm-config"} <= changed
    assert rep["summary"]["encryptedChanged"] == len(changed)
    assert m.config.read_text().split("secret: ")[1].split()[0] not in rep_path.read_text()
    # verify holds each decrypted difference to the report's old and new values; without the config the
    # ciphertexts differ as opaque values the report cannot account for
    checked = json.loads(ok("verify", m.snapshot, out, "--report", rep_path, "--encryption-config", m.config, "-o", "json"))
    assert checked["uncovered"] == [] and len(checked["differences"]) == len(changed)
    r = cli("verify", m.snapshot, out, "--report", rep_path, "-o", "json")
    assert r.exit_code == 1 and any("(value)" in line for line in json.loads(r.stdout)["uncovered"])

    # doctor reads the decrypted objects: it predicts a clean start under the new ranges (checked below)
    doctor = json.loads(ok("doctor", out, "-o", "json", "--encryption-config", m.config))
    assert (doctor["serviceRanges"], doctor["podRanges"], doctor["errors"]) == (["10.100.0.0/16"], ["10.55.0.0/16"], 0)
    data_dir = restore(etcd35, out, tmp_path / "restored")
    with EtcdServer(etcd35, data_dir) as etcd:
        with etcd.client() as c:
            now = {r.key.decode(): r.value for r in c.range(b"/")}
        assert set(now) == set(m.stored)
        for key, old in m.stored.items():
            if key in changed:  # sealed again: same provider and key, a fresh IV/nonce
                assert now[key] != old and enc_prefix(now[key]) == enc_prefix(old), key
            else:
                assert now[key] == old, f"{key} changed but the plan did not list it"
        with material.KubeAPIServer(etcd.client_url, material.NEW_SERVICE_CIDR, m.config) as api:
            services = {f"{s['metadata']['namespace']}/{s['metadata']['name']}": s["spec"]
                        for s in api.get_json("services", "--all-namespaces")["items"]}
            assert services["default/kubernetes"]["clusterIP"] == "10.100.0.1"
            assert services["default/web"]["clusterIPs"] == ["10.100.5.5"]
            assert services["kube-system/kube-dns"]["clusterIP"] == "10.100.0.10"
            nodes = {n["metadata"]["name"]: n["spec"] for n in api.get_json("nodes")["items"]}
            assert nodes["node-1"]["podCIDRs"] == ["10.55.1.0/24"] and nodes["node-2"]["podCIDR"] == "10.55.2.0/24"
            kubeadm = api.get_json("configmap", "-n", "kube-system", "kubeadm-config")["data"]["ClusterConfiguration"]
            assert "serviceSubnet: 10.100.0.0/16" in kubeadm and "podSubnet: 10.55.0.0/16  # pods" in kubeadm
            served = api.get_json("secrets,configmaps,services,nodes", "--all-namespaces")["items"]
            assert {material.etcd_key(i) for i in served} == set(m.served)  # every object decrypts
            for item in served:
                key = material.etcd_key(item)
                if key not in changed:
                    assert as_served(item) == as_served(m.served[key]), key
            events = api.get_json("events", "--all-namespaces")["items"]
            assert not [e for e in events if e.get("reason") in REPAIR_REASONS], events
            log = api.log_text()
            assert not [x for x in REPAIR_LOG if x in log]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_refusals_write_nothing(provider, encrypted, tmp_path):
    m = encrypted(provider)
    out = tmp_path / "out.db"
    line = refused("rewrite", m.snapshot, "--out", out, *MAPPING)
    assert f"({provider} v1, key 'key1')" in line and "--encryption-config" in line
    wrong = other_keys_config(m, tmp_path, rename=False)
    line = refused("rewrite", m.snapshot, "--out", out, *MAPPING, "--encryption-config", wrong)
    assert f"{provider} key 'key1'" in line and "wrong key" in line and "/registry/" in line
    line = refused("get", m.snapshot, "/registry/secrets/default/s1", "--encryption-config", wrong)
    assert line.startswith("snaprewrite: error: /registry/secrets/default/s1: ")
    unknown = other_keys_config(m, tmp_path, rename=True)
    line = refused("rewrite", m.snapshot, "--out", out, *MAPPING, "--encryption-config", unknown)
    assert f"{provider} key 'key1', which is not in" in line
    r = cli("dump", m.snapshot, "--encryption-config", unknown)
    assert r.exit_code == 1 and r.stdout == "" and "which is not in" in r.stderr
    assert not out.exists() and not list(tmp_path.glob("*.db*"))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_there_and_back_is_identical_after_decryption(provider, encrypted, tmp_path):
    m = encrypted(provider)
    there, back = tmp_path / "there.db", tmp_path / "back.db"
    ok("rewrite", m.snapshot, "--out", there, *MAPPING, "--encryption-config", m.config)
    reverse = ["--service-cidr", f"{material.NEW_SERVICE_CIDR}={material.SERVICE_CIDR}",
               "--pod-cidr", f"{material.NEW_POD_CIDR}={material.POD_CIDR}"]
    ok("rewrite", there, "--out", back, *reverse, "--encryption-config", m.config)
    same = json.loads(ok("verify", m.snapshot, back, "--encryption-config", m.config, "-o", "json"))
    assert same["differences"] == []
    raw = json.loads(ok("verify", m.snapshot, back, "-o", "json"))  # ciphertexts differ (fresh IVs)
    assert len(raw["differences"]) >= 8


def test_status_counts_encrypted_values_by_provider_and_key(encrypted):
    m = encrypted("rotation")
    want: dict[tuple, int] = {}
    for value in m.stored.values():
        p = enc_prefix(value)
        if p:
            parts = p.decode().split(":")
            want[(parts[2], parts[4])] = want.get((parts[2], parts[4]), 0) + 1
    assert set(want) == {("aescbc", "key1"), ("aescbc", "key2")}
    st = json.loads(ok("status", m.snapshot, "-o", "json"))
    assert {(e["provider"], e["keyName"]): e["values"] for e in st["encrypted"]} == want


def test_rotation_keeps_each_objects_key(encrypted, kube_apiserver, tmp_path):
    m = encrypted("rotation")
    key_of = {k: enc_prefix(v).split(b":")[4].decode() for k, v in m.stored.items() if enc_prefix(v)}
    assert key_of["/registry/secrets/default/s1"] == "key1" and key_of["/registry/secrets/default/s3"] == "key2"
    assert key_of["/registry/minions/node-1"] == "key2" and key_of["/registry/minions/node-2"] == "key1"
    for key, item in m.served.items():
        got = json.loads(ok("get", m.snapshot, key, "-o", "json", "--show-secrets", "--encryption-config", m.config))
        assert got == as_served(item), key
    rows = json.loads(ok("history", m.snapshot, "/registry/configmaps/default/cm1", "--values",
                         "--encryption-config", m.config))
    assert len(rows) == 2 and rows[-1]["value"] == as_served(m.served["/registry/configmaps/default/cm1"])
    assert rows[0]["value"]["metadata"].get("labels") is None
    out = tmp_path / "out.db"
    rep = json.loads(ok("rewrite", m.snapshot, "--out", out, *MAPPING, "--encryption-config", m.config, "-o", "json"))
    for e in rep["encrypted"]:
        assert e["keyName"] == key_of[e["key"]], e
    assert {e["keyName"] for e in rep["encrypted"]} == {"key1", "key2"}
    # rehearse: rewrite, restore with real etcd, then the real API server with the same config in front of it
    # (its service range read from the rewritten allocator, which the API server encrypts too)
    rehearsed = json.loads(ok("rehearse", m.snapshot, *MAPPING, "--encryption-config", m.config, "--full",
                              "--kube-apiserver", kube_apiserver, "--settle", "1", "-o", "json"))
    api = rehearsed["apiserver"]
    assert rehearsed["ok"] is True and api["ok"] is True, rehearsed
    assert api["serviceCidrs"] == ["10.100.0.0/16"] and api["eventsByReason"] == {}
    assert api["resources"]["undecodable"] == [] and api["resources"]["failed"] == []
    assert api["patches"]["failed"] == [] and api["patches"]["accepted"] >= len(rep["encrypted"]) - 1


def test_kms_values_are_refused(encrypted, tmp_path):
    m = encrypted("kms")
    out = tmp_path / "out.db"
    for extra in ([], ["--encryption-config", m.config]):
        line = refused("rewrite", m.snapshot, "--out", out, "--service-cidr", "10.96.0.0/16=10.100.0.0/16", *extra)
        assert "/registry/services/specs/default/kms-svc" in line and "kms v1 provider 'vault'" in line
        assert "KMS plugin" in line
    line = refused("get", m.snapshot, "/registry/secrets/default/kms2", "--encryption-config", m.config)
    assert "kms v2 provider 'cloudkms'" in line and "KMS plugin" in line
    r = cli("dump", m.snapshot, "--encryption-config", m.config)
    assert r.exit_code == 1 and r.stdout == ""
    assert not out.exists()
    st = json.loads(ok("status", m.snapshot, "-o", "json"))
    assert {(e["provider"], e["keyName"]) for e in st["encrypted"]} == {("kms", "vault"), ("kms v2", "cloudkms")}


def test_verify_names_a_value_sealed_again_with_another_key(etcd35, tmp_path):
    """verify with the config: same plaintext under another key differs only in "(encryption)"; same key: no difference."""
    from snaprewrite.k8s import encryption
    from snaprewrite.rehearsal.server import snapshot_save

    k1, k2 = (encryption.Key("aesgcm", n, secrets.token_bytes(32)) for n in ("key1", "key2"))
    cfg = material.write_private(tmp_path / "enc.yaml", material.config_text("aesgcm", [(k.name, k.secret) for k in (k2, k1)]))
    conf, _ = encryption.load(cfg)
    key, plain = b"/registry/secrets/default/s", b"k8s\x00\n\x0c\n\x02v1\x12\x06Secret\x12\x02\n\x00"
    snaps = {}
    for name, k in (("a", k1), ("b", k1), ("c", k2)):
        with EtcdServer(etcd35) as etcd, etcd.client() as c:
            c.put(key, conf.seal(key, plain, encryption.Sealed(k)))
            snaps[name] = snapshot_save(etcd, tmp_path / f"{name}.db")
    same = json.loads(ok("verify", snaps["a"], snaps["b"], "--encryption-config", cfg, "-o", "json"))
    assert same["differences"] == []
    assert json.loads(ok("verify", snaps["a"], snaps["b"], "-o", "json"))["differences"][0]["fields"] == ["(value)"]
    other = json.loads(ok("verify", snaps["a"], snaps["c"], "--encryption-config", cfg, "-o", "json"))
    assert other["differences"] == [{"key": key.decode(), "how": "changed", "fields": ["(encryption)"],
                                     "changes": [{"field": "(encryption)", "old": "aesgcm/key1", "new": "aesgcm/key2"}]}]


def test_doctor_reads_encrypted_objects_with_the_config(encrypted):
    m = encrypted("aesgcm")
    found = json.loads(ok("doctor", m.snapshot, "-o", "json", "--encryption-config", m.config))
    assert (found["serviceRanges"], found["podRanges"], found["errors"]) == (["10.96.0.0/16"], ["10.244.0.0/16"], 0)
    r = cli("doctor", m.snapshot, "-o", "json")  # without it the objects do not decode: findings, exit 1
    assert r.exit_code == 1 and json.loads(r.stdout)["serviceRanges"] == []


def test_openshift_prefix_values_are_bound_to_their_full_key(encrypted, kube_apiserver, tmp_path):
    """AES-GCM values the API server wrote under --etcd-prefix=/kubernetes.io: read, rewritten and served there."""
    from snaprewrite.k8s import encryption

    m = encrypted("openshift")
    root = m.root
    assert root == "/kubernetes.io/" and m.served and set(m.served) <= set(m.stored)
    for key in m.served:
        assert key.startswith(root) and m.stored[key].startswith(b"k8s:enc:aesgcm:v1:key1:"), key
    st = json.loads(ok("status", m.snapshot, "-o", "json"))
    sealed = sum(v.startswith(b"k8s:enc:") for v in m.stored.values())
    assert st["layout"]["prefix"] == root and st["encrypted"] == [{"provider": "aesgcm", "keyName": "key1", "values": sealed}]
    for key, item in m.served.items():  # a key below the detected root, as the layout lets one name it
        got = json.loads(ok("get", m.snapshot, key[len(root):], "-o", "json", "--show-secrets", "--encryption-config", m.config))
        assert got == as_served(item), key
    conf, _ = encryption.load(m.config)  # the full key is the authenticated data: under /registry/ it does not open
    s1 = m.stored[root + "secrets/default/s1"]
    assert conf.open((root + "secrets/default/s1").encode(), s1)[1] is not None
    with pytest.raises(encryption.EncryptionError, match="wrong key"):
        conf.open(b"/registry/secrets/default/s1", s1)

    out, rep_path = tmp_path / "out.db", tmp_path / "report.json"
    ok("rewrite", m.snapshot, "--out", out, *MAPPING, "--encryption-config", m.config, "--report", rep_path)
    rep = json.loads(rep_path.read_text())
    assert rep["layout"]["prefix"] == root
    changed = {e["key"] for e in rep["encrypted"]}
    assert {root + "services/specs/default/web", root + "minions/node-1", root + "ranges/serviceips"} <= changed
    checked = json.loads(ok("verify", m.snapshot, out, "--report", rep_path, "--encryption-config", m.config, "-o", "json"))
    assert checked["uncovered"] == [] and len(checked["differences"]) == len(changed)
    # the real API server with --etcd-prefix and the same config serves the rewrite (rehearse restores it)
    rehearsed = json.loads(ok("rehearse", m.snapshot, *MAPPING, "--encryption-config", m.config, "--full",
                              "--kube-apiserver", kube_apiserver, "--settle", "1", "-o", "json"))
    api = rehearsed["apiserver"]
    assert rehearsed["ok"] is True and api["ok"] is True, rehearsed
    assert rehearsed["layout"]["prefix"] == root and api["serviceCidrs"] == ["10.100.0.0/16"]
    assert api["eventsByReason"] == {} and api["resources"]["undecodable"] == [] and api["resources"]["failed"] == []
    assert api["patches"]["failed"] == []
