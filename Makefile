PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= etc/conferenceroom.conf

.PHONY: run test unit integration bench bench-scale bench-link bench-services soak clean

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]' --config-settings editable_mode=compat
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/twistd -n conferenceroom --config $(CONFIG)

test: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider tests

unit: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider tests/unit

integration: $(VENV)/.installed
	$(PY) -m pytest -q -p no:cacheprovider tests/integration

# Issue 11: ngIRCd, InspIRCd, ircd-hybrid, the Twisted floor and ours, one
# after the other (burst, fan-out, latency, churn; about 3 minutes). Ratios to
# the best C server beside the targets. BENCH_ARGS='--runs 2' for two runs.
bench: $(VENV)/.installed
	$(PY) benchmarks/compare.py $(BENCH_ARGS)

# The same plus the scale phases: 20,000 idle clients, a 5,000-member channel,
# 20-server networks of ours and of hybrid (about 20-30 minutes).
bench-scale: $(VENV)/.installed
	$(PY) benchmarks/compare.py --scale $(BENCH_ARGS)

# A million hostile lines against a real server while two witnesses chat
# (about 2-3 minutes; exit status 1 when a target is missed). Not part of test.
soak: $(VENV)/.installed
	$(PY) benchmarks/soak.py

# Link burst (issue 8): hybrid->hybrid beside ours->ours; never part of `make test`.
bench-link: $(VENV)/.installed
	$(PY) benchmarks/linkburst.py $(BENCH_LINK_ARGS)

# Services (issue 10): 10,000 REGISTERs and 10,000 IDENTIFYs, bystander PING; never part of `make test`.
bench-services: $(VENV)/.installed
	$(PY) benchmarks/services.py $(BENCH_SERVICES_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info
