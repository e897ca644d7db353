"""Revision keys and KeyValue records: codecs round-trip on every record of a real cluster snapshot."""

import pytest

from snaprewrite.errors import DecodeError, SchemaError
from snaprewrite.etcd import kv, mvcc, revision
from snaprewrite.etcd.revision import Revision
from snaprewrite.etcd.snapshot import Snapshot


def test_revision_encode_decode():
    b = revision.encode(Revision(5, 2))
    assert b == bytes.fromhex("0000000000000005") + b"_" + bytes.fromhex("0000000000000002")
    assert revision.decode(b) == (Revision(5, 2), False)
    assert revision.decode(revision.encode(Revision(7), tombstone=True)) == (Revision(7, 0), True)


@pytest.mark.parametrize("bad", [b"", b"x" * 16, b"\0" * 8 + b"-" + b"\0" * 8, b"\0" * 8 + b"_" + b"\0" * 8 + b"x",
                                 b"\xff" * 8 + b"_" + b"\0" * 8])
def test_revision_rejects_bad_keys(bad):
    with pytest.raises(SchemaError):
        revision.decode(bad)


def test_kv_round_trip_on_real_snapshot(real_snapshot):
    with Snapshot(real_snapshot) as snap:
        n = 0
        for _flags, k, v in snap.key_bucket().iter_raw():
            rec = kv.decode(v)
            assert kv.encode(rec) == bytes(v)
            assert kv.encode_fields(rec.key, rec.create_revision, rec.mod_revision, rec.version, rec.value,
                                    rec.lease) == bytes(v)
            assert kv.key_of(v) == rec.key
            rev, tomb = revision.decode(k)
            if not tomb:
                assert rec.mod_revision == rev.main
            n += 1
        assert n == 1756


@pytest.mark.parametrize("bad", [b"\x0a\x05abc", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x10",
                                 b"\x0f"])
def test_kv_rejects_broken_records(bad):
    with pytest.raises(DecodeError):
        kv.decode(bad)


def test_latest_and_history_agree(real_snapshot):
    with Snapshot(real_snapshot) as snap:
        live = mvcc.live_keys(snap)
        key = b"/registry/services/specs/default/kubernetes"
        hist = mvcc.history(snap, key)
        assert hist and not hist[-1].tombstone
        assert live[key] == revision.encode(hist[-1].revision)
        assert mvcc.get(snap, key).kv == hist[-1].kv
        cs = mvcc.compact_state(snap)
        assert cs.finished == 11246


@pytest.mark.parametrize("name", ["basic-etcd35", "basic-etcd34", "k8s-etcd35", "tiny-etcd34", "apiserver-etcd34"])
def test_fast_and_plain_decoders_agree(name, fixture_path, real_snapshot):
    for path in (fixture_path(name + ".db"), real_snapshot):
        with Snapshot(path) as snap:
            for _flags, _k, v in snap.key_bucket().iter_raw():
                assert kv.decode_fast(v) == kv.decode(v)
                assert kv.mod_revision_of(v) == kv.decode(v).mod_revision  # the file check's fast path


@pytest.mark.parametrize("bad", [b"\x0a\x05abc", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x10"])
def test_fast_decoder_rejects_broken_records(bad):
    with pytest.raises(DecodeError):
        kv.decode_fast(bad)
    with pytest.raises(DecodeError):
        kv.mod_revision_of(memoryview(bad))
    with pytest.raises(DecodeError):
        kv.mod_revisions_of([b"\x0a\x01a", bad])


def test_protobuf_loads_on_first_fast_decode():
    """Importing kv (every command that opens a snapshot does) loads no protobuf runtime; the first fast decode
    does, and a broken record met first in a fresh process is still a DecodeError."""
    import subprocess
    import sys
    from pathlib import Path

    probe = ("import sys\nfrom snaprewrite.etcd import kv\nfrom snaprewrite.errors import DecodeError\n"
             "print(any(m.startswith('google.protobuf') for m in sys.modules))\n"
             "try:\n    kv.decode_fast(b'\\x10')\nexcept DecodeError:\n    print('DecodeError')\n"
             "print(kv.decode_fast(b'\\x0a\\x01a\\x18\\x07').mod_revision)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True,
                         env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"})
    assert out.stdout.split() == ["False", "DecodeError", "7"]


def test_encode_is_the_protobuf_runtimes_encoding():
    """encode (and encode_fields under it) writes the bytes the protobuf runtime writes for mvccpb.KeyValue:
    zero fields left out, negative ints as ten-byte varints, long varints and lengths."""
    import random

    message = kv._message_class()
    rnd = random.Random(3)
    ints = [0, 1, 127, 128, 300, 16383, 16384, 1 << 35, (1 << 63) - 1, -1, -(1 << 63)]
    for _ in range(3000):
        rec = kv.KeyValue(rnd.choice([b"", b"/k", rnd.randbytes(rnd.randrange(300))]), rnd.choice(ints),
                          rnd.choice(ints), rnd.choice(ints), rnd.choice([b"", rnd.randbytes(rnd.randrange(200))]),
                          rnd.choice(ints))
        want = message(key=rec.key, create_revision=rec.create_revision, mod_revision=rec.mod_revision,
                       version=rec.version, value=rec.value, lease=rec.lease).SerializeToString(deterministic=True)
        assert kv.encode(rec) == want
        assert kv.encode_fields(rec.key, rec.create_revision, rec.mod_revision, rec.version, rec.value,
                                rec.lease) == want
