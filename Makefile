# The README's two commands: `make demo` and `make test` (`make check`: the quick subset). Each sets everything up
# first and is idempotent.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CLUSTER_STAMP := $(VENV)/.installed-cluster
# Debian/Ubuntu packages: what the stages run (ffmpeg, chromium and its headless shell, jpegtran), what the tests check with
# (qpdf, poppler-utils), the benchmark peers (imagemagick, jpegoptim) and fonts for any script in the PDF.
SYSTEM_PACKAGES := ffmpeg chromium chromium-headless-shell qpdf poppler-utils imagemagick jpegoptim libjpeg-turbo-progs libgs-common \
	fontconfig fonts-noto-core fonts-noto-cjk fonts-dejavu-core
# What only the tests need: a second browser for the web app's test in Firefox (tests/test_web_firefox.py).
TEST_SYSTEM_PACKAGES := firefox-esr
DEMO_CASE := examples/broken-kettle
# pip's output (its notes, the editable install's, this machine's index settings) goes to a log that is printed
# only when pip fails, so a working install prints one line.
PIP_LOG := $(VENV)/pip.log
# A comma inside $(call ...) splits its arguments: the extras with a comma are passed by name.
DEV_AND_CLUSTER := .[dev,cluster]
quiet_pip = $(PY) -m pip $(1) >$(PIP_LOG) 2>&1 || { cat $(PIP_LOG); echo "pip $(1) failed (log: $(PIP_LOG))"; exit 1; }

.PHONY: demo test check setup system bench clean serve

demo: setup
	$(VENV)/bin/evidence-kit build $(DEMO_CASE) --grid
	@echo "Done: the package is in $(DEMO_CASE)/evidence-package (upload/ holds what goes into the form)."

# Two processes, each taking whole test modules (their servers and built cases are module fixtures): the suite
# spends much of its time waiting on browsers and child processes (1081 s in one process, 662 s in two).
# A test of machine-wide state (marker serial: another process's semaphores would count) runs alone after.
test: setup $(CLUSTER_STAMP)
	@$(MAKE) --no-print-directory system SYSTEM_PACKAGES="$(TEST_SYSTEM_PACKAGES)"
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not serial"
	$(PY) -m pytest -q -m serial

# The quick loop: the tests that need no browser, no video encode and no cluster and are not slow (markers:
# tests/conftest.py), on every core. `make test` (and CI) runs them all.
CHECK_MARKERS := not browser and not video and not cluster and not slow
check: setup
	$(PY) -m pytest -q -n auto --dist loadfile -m "$(CHECK_MARKERS)"

# The web app for buyers: prints http://127.0.0.1:PORT/?token=... and opens it (WORKSPACE=dir to choose where cases go).
serve: setup
	$(VENV)/bin/evidence-kit serve $(if $(WORKSPACE),--workspace $(WORKSPACE))

bench: setup $(CLUSTER_STAMP)
	$(PY) bench/startup.py
	$(PY) bench/photos.py
	$(PY) bench/tracking.py
	$(PY) bench/video.py
	$(PY) bench/batch.py
	$(PY) bench/cluster.py

setup: system $(STAMP)

system:
	@missing=""; \
	for p in $(SYSTEM_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	else echo "evidence-kit needs these system packages:$$missing"; \
		echo "Install them with: sudo apt-get install$$missing"; exit 1; fi; \
	echo "Installing system packages:$$missing"; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing >/dev/null

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "Installing evidence-kit and the Python packages it uses into $(VENV)"
	@$(call quiet_pip,install --upgrade pip)
	@$(call quiet_pip,install -e '.[dev]')
	@touch $(STAMP)

# The optional cluster extra (dask.distributed): the tests and benchmarks need it, `make demo` does not.
$(CLUSTER_STAMP): $(STAMP)
	@echo "Installing the cluster extra (dask.distributed) into $(VENV)"
	@$(call quiet_pip,install -e '$(DEV_AND_CLUSTER)')
	@touch $(CLUSTER_STAMP)

clean:
	rm -rf $(VENV) build *.egg-info $(DEMO_CASE)/evidence-package
