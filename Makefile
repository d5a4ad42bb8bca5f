# The two set-up commands: `make demo` and `make test`. Both install what is missing first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit integration bench clean

install: $(STAMP) system-packages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# Debian's packages the project runs: influxdb (InfluxDB 1.6.7, the embedded database) and
# chromium (renders the HTML report in a test). Installed only when missing.
.PHONY: system-packages
system-packages:
	@missing=""; \
	command -v influxd >/dev/null 2>&1 || missing="$$missing influxdb"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

demo: install
	$(BIN)/detoxmon demo $(DEMO_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: install lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider $(PYTEST_ARGS)

# Throughput, latency and memory against the framework's ceiling and a naive pipeline
# (about 14 minutes on 2 cores; docs/performance.md). BENCH_ARGS="--duration 10" for less.
bench: install
	$(BIN)/detoxmon bench --out bench-results.json $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .demo .pytest_cache .mypy_cache .ruff_cache
