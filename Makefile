PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CONFIG ?= etc/conferenceroom.conf

.PHONY: run test unit integration bench bench-link bench-services soak clean

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

bench: $(VENV)/.installed
	$(PY) benchmarks/compare.py

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
