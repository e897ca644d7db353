"""The committed fixtures agree with real etcd: each restores with its own etcd version and reads back as recorded."""

import base64

import pytest

NAMES = ("basic", "tiny", "k8s")


def _record(rec) -> dict:
    return rec.to_json(inline_limit=8192)  # as fixtures/generate.py records them


@pytest.mark.parametrize("name", NAMES)
def test_fixture_restores_to_what_etcd_recorded(name, etcd_tools, fixture_path, fixture_expected, restored_etcd):
    tag = etcd_tools.tag
    snapshot = fixture_path(f"{name}-{tag}.db")
    expected = fixture_expected(name, tag)
    assert expected["etcd_version"] == etcd_tools.version_str
    with restored_etcd(etcd_tools, snapshot).client() as c:
        assert c.revision() == expected["revision"]
        assert [_record(r) for r in c.range(limit=300)] == expected["keys"]
        for h in expected["history"][:40]:
            rec = c.get(base64.b64decode(h["key"]), revision=h["revision"])
            assert (_record(rec) if rec else None) == h["record"]
        if expected["compact_revision"]:
            with pytest.raises(Exception, match="compacted"):
                c.get(b"/", revision=expected["compact_revision"] - 1)
    assert expected["snapshot_status"]["revision"] == expected["revision"]
    assert expected["count"] == len(expected["keys"])
