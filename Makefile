# carpass-streams: the two commands of the README are `make demo` and `make test`.
# Both create the virtual environment and install what they need; both are idempotent.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-full lint typecheck install system-deps broker-down bench bench-peers clean secrets

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	@touch $@

install: $(STAMP)

## The peers of the benchmarks (Quix Streams) in their own venv: their pins clash with ours (confluent-kafka).
PEERS_VENV  ?= .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed
$(PEERS_STAMP): benchmarks/peers/requirements.txt
	@test -x $(PEERS_VENV)/bin/python || $(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -q -r benchmarks/peers/requirements.txt
	@touch $@

bench-peers: $(PEERS_STAMP)

## Every benchmark at full size, one after the other, then the plots (about 40 min on 2 cores). Results:
## benchmarks/results/*.json and *.png. A broker: CARPASS_KAFKA_BOOTSTRAP_SERVERS, else the local one.
BENCHMARKS := core trend codec state step quality pipeline peers replay scaling gateway api failover
bench: $(STAMP) $(PEERS_STAMP)
	@for b in $(BENCHMARKS); do echo "== benchmarks/bench_$$b.py"; $(BIN)/python benchmarks/bench_$$b.py || exit 1; done
	$(BIN)/python benchmarks/plots.py

## Debian packages the tests use: Chromium (the certificate page is rendered headless), prometheus (promtool
## validates the configuration and alert rules; tests/integration/test_monitoring.py runs Prometheus itself)
## and prometheus-alertmanager (the alerts it fires). Installed with apt-get when missing and root.
SYSTEM_TOOLS    := chromium promtool prometheus prometheus-alertmanager
SYSTEM_PACKAGES := chromium prometheus prometheus-alertmanager
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null 2>&1 || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages for:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	      $(SYSTEM_PACKAGES) >/dev/null; \
	  else \
	    echo "missing:$$missing -- run as root: apt-get install $(SYSTEM_PACKAGES)" >&2; exit 1; \
	  fi; \
	fi

## The main job: the demo on the local embedded broker.
demo: $(STAMP)
	$(BIN)/carpass demo

## Lint, type-check and the whole test suite (slow scale tests in quick mode), against a real broker.
test: $(STAMP) $(PEERS_STAMP) system-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	CARPASS_QUICK=$${CARPASS_QUICK:-1} $(BIN)/python -m pytest

## The same with the slow scale tests at full size.
test-full: $(STAMP) $(PEERS_STAMP) system-deps
	CARPASS_QUICK=0 $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

## The secrets of docker/compose.yaml, once (kept if present; git-ignored): the certificate signing key
## (Ed25519, PEM) and the secret the workers authenticate their API forwards with.
SECRETS := docker/secrets
secrets: $(STAMP)
	@mkdir -p $(SECRETS) && chmod 700 $(SECRETS)
	@test -s $(SECRETS)/certificate-signing-key.pem || $(BIN)/python -c "import sys; \
	  from projections.certificates import CertificateSigner; \
	  sys.stdout.buffer.write(CertificateSigner.generate().private_pem())" > $(SECRETS)/certificate-signing-key.pem
	@test -s $(SECRETS)/cluster-secret || $(BIN)/python -c "import secrets; print(secrets.token_hex(32))" \
	  > $(SECRETS)/cluster-secret
	@chmod 600 $(SECRETS)/*
	@echo "$(SECRETS): certificate-signing-key.pem, cluster-secret"

broker-down: $(STAMP)
	$(BIN)/carpass kafka down

clean:
	rm -rf $(VENV) $(PEERS_VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
