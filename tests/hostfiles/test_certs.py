"""``snaprewrite certs``: the reissued API server certificate is judged by openssl and by the real kube-apiserver.

The PKI is made by openssl the way kubeadm lays it out (ca.crt/ca.key, apiserver.crt/.key with the
kubernetes names, the first service IP and the node IP). openssl parses and verifies the result, and
kube-apiserver 1.20.2 serves it to a client that trusts only ca.crt.
"""

import datetime
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SANS = ("DNS:node1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
        "DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:192.0.2.10")
OLD_SAN_TEXT = ("DNS:node1, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, "
                "DNS:kubernetes.default.svc.cluster.local, IP Address:10.96.0.1, IP Address:192.0.2.10")
NEW_SAN_TEXT = OLD_SAN_TEXT.replace("IP Address:10.96.0.1", "IP Address:10.128.0.1")
MOVE = "10.96.0.0/12=10.128.0.0/12"


def openssl(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=check)


def make_ca(d: Path, cn: str = "kubernetes", prefix: str = "ca") -> None:
    openssl("genrsa", "-out", f"{prefix}.key", "2048", cwd=d)
    openssl("req", "-x509", "-new", "-key", f"{prefix}.key", "-subj", f"/CN={cn}", "-days", "3650",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign", "-out", f"{prefix}.crt", cwd=d)


def make_leaf(d: Path, name: str, subj: str, ext: str, ca: str = "ca", days: int = 365) -> None:
    openssl("genrsa", "-out", f"{name}.key", "2048", cwd=d)
    openssl("req", "-new", "-key", f"{name}.key", "-subj", subj, "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", str(days), "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d)
    for leftover in (f"{name}.csr", f"{name}.ext", f"{ca}.srl"):
        (d / leftover).unlink(missing_ok=True)


APISERVER_EXT = ("keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
                 f"basicConstraints=critical,CA:FALSE\nauthorityKeyIdentifier=keyid\nsubjectAltName={SANS}\n")


@pytest.fixture(scope="module")
def pki_template(tmp_path_factory) -> Path:
    """pki_template is a kubeadm-like PKI dir made by openssl once: ca.crt/.key and apiserver.crt/.key (keys 0600)."""
    d = tmp_path_factory.mktemp("pki-template")
    make_ca(d)
    make_leaf(d, "apiserver", "/CN=kube-apiserver", APISERVER_EXT, days=400)
    for k in d.glob("*.key"):
        k.chmod(0o600)
    return d


@pytest.fixture
def pki(pki_template, tmp_path) -> Path:
    """pki is a fresh copy of the template PKI for one test."""
    return Path(shutil.copytree(pki_template, tmp_path / "pki"))


def certs(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run([sys.executable, "-c", "from snaprewrite.cli import main; main()", "certs", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def text_of(path: Path) -> str:
    return openssl("x509", "-in", str(path), "-noout", "-text", cwd=path.parent).stdout


def san_of(path: Path) -> str:
    m = re.search(r"X509v3 Subject Alternative Name: *\n\s*(.+)\n", text_of(path))
    return m.group(1).strip()


def extensions_but_san_and_ids(path: Path) -> str:
    """extensions_but_san_and_ids is openssl's extension block without SAN and key ids (those may change)."""
    block = text_of(path).split("X509v3 extensions:")[1].split("Signature Algorithm")[0]
    parts = re.split(r"\n\s*(?=X509v3 )", block.strip())
    return "\n".join(p for p in parts if not p.startswith(("X509v3 Subject Alternative Name",
                                                            "X509v3 Subject Key Identifier")))


def dates(path: Path) -> tuple[datetime.datetime, datetime.datetime]:
    out = openssl("x509", "-in", str(path), "-noout", "-startdate", "-enddate", "-dateopt", "iso_8601",
                  cwd=path.parent).stdout
    start, end = (line.split("=", 1)[1].strip() for line in out.splitlines())
    return tuple(datetime.datetime.fromisoformat(x.replace("Z", "+00:00")) for x in (start, end))


def state(d: Path) -> dict:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in sorted(d.iterdir())}


def no_key_material(done: subprocess.CompletedProcess) -> None:
    assert "PRIVATE KEY" not in done.stdout + done.stderr


# --- reissue ---------------------------------------------------------------------------------------

def test_reissue_is_what_kubeadm_would_issue(pki):
    old_cert, old_key = (pki / "apiserver.crt").read_bytes(), (pki / "apiserver.key").read_bytes()
    old_subject = openssl("x509", "-in", "apiserver.crt", "-noout", "-subject", cwd=pki).stdout
    old_ext = extensions_but_san_and_ids(pki / "apiserver.crt")
    old_start, old_end = dates(pki / "apiserver.crt")
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)

    done = certs(str(pki), "--service-cidr", MOVE)
    assert done.returncode == 0, done.stderr
    no_key_material(done)

    new = pki / "apiserver.crt"
    assert openssl("verify", "-CAfile", "ca.crt", "apiserver.crt", cwd=pki).stdout.strip() == "apiserver.crt: OK"
    assert san_of(new) == NEW_SAN_TEXT
    assert openssl("x509", "-in", "apiserver.crt", "-noout", "-subject", cwd=pki).stdout == old_subject
    assert extensions_but_san_and_ids(new) == old_ext  # key usage, EKU, basic constraints, AKI as they were
    start, end = dates(new)
    assert end - start == old_end - old_start == datetime.timedelta(days=400)
    assert before <= start <= datetime.datetime.now(datetime.UTC)
    # the key is kept, and the certificate is for it
    assert (pki / "apiserver.key").read_bytes() == old_key
    assert openssl("x509", "-in", "apiserver.crt", "-noout", "-pubkey", cwd=pki).stdout == \
        openssl("pkey", "-in", "apiserver.key", "-pubout", cwd=pki).stdout
    # the old certificate is in a hidden backup beside it, and only there
    backups = [p for p in pki.iterdir() if p.name.startswith(".apiserver.crt.snaprewrite-")]
    assert len(backups) == 1 and backups[0].read_bytes() == old_cert and backups[0].name.endswith(".bak")
    assert "- IP Address:10.96.0.1\n+ IP Address:10.128.0.1\n" in done.stdout
    # a second run finds nothing to replace (the old IP is gone): refused, nothing written
    again = certs(str(pki), "--service-cidr", MOVE)
    assert again.returncode == 1 and "10.96.0.1" in again.stderr and "10.128.0.1" in again.stderr


def test_new_key_replaces_the_key_0600(pki):
    old_key = (pki / "apiserver.key").read_bytes()
    done = certs(str(pki), "--service-cidr", MOVE, "--new-key")
    assert done.returncode == 0, done.stderr
    no_key_material(done)
    key = pki / "apiserver.key"
    assert key.read_bytes() != old_key
    assert key.stat().st_mode & 0o777 == 0o600
    assert openssl("x509", "-in", "apiserver.crt", "-noout", "-pubkey", cwd=pki).stdout == \
        openssl("pkey", "-in", "apiserver.key", "-pubout", cwd=pki).stdout
    assert "Private-Key: (2048 bit" in openssl("pkey", "-in", "apiserver.key", "-noout", "-text", cwd=pki).stdout
    backup = next(p for p in pki.iterdir() if p.name.startswith(".apiserver.key.snaprewrite-"))
    assert backup.read_bytes() == old_key and backup.stat().st_mode & 0o777 == 0o600
    assert openssl("verify", "-CAfile", "ca.crt", "apiserver.crt", cwd=pki).returncode == 0
    assert not [p for p in pki.iterdir() if "tmp" in p.name]


def test_dry_run_prints_the_san_diff_and_writes_nothing(pki):
    before = state(pki)
    done = certs(str(pki), "--service-cidr", MOVE, "--dry-run")
    assert done.returncode == 0, done.stderr
    no_key_material(done)
    assert state(pki) == before
    lines = done.stdout.splitlines()
    assert "- IP Address:10.96.0.1" in lines and "+ IP Address:10.128.0.1" in lines
    assert "  DNS:kubernetes.default.svc.cluster.local" in lines and "  IP Address:192.0.2.10" in lines
    assert lines[-1].startswith("dry run: would reissue")


# --- refusals: one line, exit 1, nothing written -------------------------------------------------------

def refused(pki: Path, *args: str) -> str:
    before = state(pki)
    done = certs(str(pki), *args)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    no_key_material(done)
    assert state(pki) == before
    return done.stderr


def test_refuses_an_external_ca_and_prints_the_csr_way(pki):
    (pki / "ca.key").unlink()
    before = state(pki)
    done = certs(str(pki), "--service-cidr", MOVE)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert "ca.key does not exist" in done.stderr
    assert state(pki) == before
    no_key_material(done)
    cmd = next(line for line in done.stdout.splitlines() if line.startswith("openssl req"))
    assert "IP:10.128.0.1" in cmd and "IP:10.96.0.1" not in cmd and "/CN=kube-apiserver" in cmd
    # the printed command works: openssl makes a CSR with exactly the new SANs
    out = subprocess.run(cmd, shell=True, cwd=pki, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    csr = openssl("req", "-in", "apiserver.csr", "-noout", "-text", cwd=pki).stdout
    assert NEW_SAN_TEXT in csr


def test_refuses_a_certificate_that_is_not_the_api_servers(pki):
    make_leaf(pki, "apiserver", "/O=system:masters/CN=kube-apiserver-kubelet-client",
              "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n")
    err = refused(pki, "--service-cidr", MOVE)
    assert "is not a kube-apiserver serving certificate" in err and "kube-apiserver-kubelet-client" in err


def test_refuses_an_old_range_whose_first_ip_is_not_in_the_sans(pki):
    err = refused(pki, "--service-cidr", "10.100.0.0/16=10.128.0.0/16")
    assert "10.100.0.1 (first IP of 10.100.0.0/16) is not in the SANs" in err
    assert "10.96.0.1, 192.0.2.10" in err


def test_refuses_a_certificate_from_another_ca(pki):
    make_ca(pki, cn="other-ca", prefix="other")
    make_leaf(pki, "apiserver", "/CN=kube-apiserver", APISERVER_EXT, ca="other")
    err = refused(pki, "--service-cidr", MOVE)
    assert "was not issued by" in err and "CN=other-ca" in err and "CN=kubernetes" in err


def test_refuses_a_key_of_another_certificate(pki):
    openssl("genrsa", "-out", "apiserver.key", "2048", cwd=pki)
    err = refused(pki, "--service-cidr", MOVE)
    assert "apiserver.key does not belong to" in err


def test_usage_errors(pki):
    done = certs(str(pki), "--service-cidr", "10.96.0.0/12=10.96.0.0/12")
    assert done.returncode == 2 and "nothing to do" in done.stderr
    done = certs(str(pki / "missing"), "--service-cidr", MOVE)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1


# --- the real API server serves it --------------------------------------------------------------------

def test_kube_apiserver_serves_the_reissued_certificate(pki, etcd35, kube_apiserver, tmp_path):
    from snaprewrite.rehearsal.apiserver import KubeApiServer
    from snaprewrite.rehearsal.netns import isolated_network
    from snaprewrite.rehearsal.server import EtcdServer

    assert certs(str(pki), "--service-cidr", MOVE).returncode == 0
    ca = str(pki / "ca.crt")

    class ServedCert(KubeApiServer):
        """The harness's API server serving our certificate; readiness trusts only ca.crt (any SAN)."""

        def _prepare(self):
            super()._prepare()
            self.ca_file = pki / "ca.crt"

        def _ssl_context(self):
            ctx = ssl.create_default_context(cafile=ca)
            ctx.check_hostname = False  # the chain is still verified against ca.crt alone
            return ctx

    def handshake(port: int, name: str, context: ssl.SSLContext) -> dict:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock, \
                context.wrap_socket(sock, server_hostname=name) as tls:
            return tls.getpeercert()

    args = [f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}"]
    with isolated_network(), EtcdServer(etcd35) as etcd, \
            ServedCert(kube_apiserver, etcd.client_url, ["10.128.0.0/12"], extra_args=args, workdir=tmp_path) as api:
        assert api.request("GET", "/readyz").status == 200
        only_ca = ssl.create_default_context(cafile=ca)  # trusts ca.crt and nothing else
        for name in ("kubernetes.default.svc", "kubernetes.default.svc.cluster.local", "10.128.0.1", "node1"):
            peer = handshake(api.port, name, only_ca)
            assert ("IP Address", "10.128.0.1") in peer["subjectAltName"]
        with pytest.raises(ssl.SSLCertVerificationError, match="10.96.0.1"):
            handshake(api.port, "10.96.0.1", only_ca)  # the old service IP is no longer valid
        other = tmp_path / "other"
        other.mkdir()
        make_ca(other, cn="not-the-cluster-ca")
        with pytest.raises(ssl.SSLCertVerificationError):
            handshake(api.port, "kubernetes.default.svc", ssl.create_default_context(cafile=str(other / "ca.crt")))


def test_the_runbook_certificate_step_runs_as_printed(pki):
    import shlex

    from snaprewrite.rewrite import runbook

    f = runbook.Facts("pre-migration.db", (("10.96.0.0/12", "10.128.0.0/12"),), (), (), ("10.96.0.1", "10.128.0.1"),
                      (), (), (), False)
    step = next(s for s in runbook.build(f) if s.key == "certificate")
    line = next(x for x in step.lines if x.startswith("$ snaprewrite certs "))
    argv = shlex.split(line[2:].replace(runbook.PKI, str(pki)))
    done = certs(*argv[2:])
    assert done.returncode == 0, done.stderr
    assert san_of(pki / "apiserver.crt") == NEW_SAN_TEXT
    assert openssl("verify", "-CAfile", "ca.crt", "apiserver.crt", cwd=pki).returncode == 0
