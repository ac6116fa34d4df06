# composer: `make demo` and `make test` install whatever is missing, then run.
SHELL := /bin/bash
# The venv's interpreter, on which every command runs: the distribution's python3 when it is 3.11 or
# later. Debian's is built with PGO and LTO, libpython linked in; a default pyenv build is neither
# (--enable-shared, no --enable-optimizations): `container run --rm` paid ~11 ms CPU for it.
SYSTEM_PYTHON_OK := $(shell /usr/bin/python3 -c 'import sys; print(sys.version_info >= (3, 11))' 2>/dev/null)
PYTHON ?= $(if $(filter True,$(SYSTEM_PYTHON_OK)),/usr/bin/python3,python3)
VENV := .venv
BIN := $(VENV)/bin
APT_PACKAGES := busybox-static nftables iproute2 crun tini uidmap slirp4netns skopeo docker-registry libseccomp2 procps podman
BUSYBOX_TAR := build/busybox-rootfs.tar
# the bytecode every command imports, in one file (composer/bundle.py): rewritten when a source changes
BUNDLE := composer/__pycache__/bundle.bin
SOURCES := $(shell find composer runtime -name '*.py' 2>/dev/null)
IMAGE := localhost/busybox:latest

.PHONY: demo test lint bench deps venv image clean

deps:  ## Debian packages the runtime and the tests need
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@$(PYTHON) -c 'import venv, ensurepip' 2>/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }

$(BIN)/composer: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,lint]' --config-settings editable_mode=compat  # a plain .pth: no import hook at every start
	@touch $@

# setuptools comes with a Python 3.11 venv (ensurepip) and only builds, in pip's isolated build env: its
# distutils-precedence.pth imports _distutils_hack at every start of the venv's python (~0.7 ms of each
# command, the console script's interpreter processing site-packages).
venv: deps $(BIN)/composer
	@if compgen -G '$(VENV)/lib/python*/site-packages/distutils-precedence.pth' >/dev/null; then \
	  $(BIN)/python -m pip uninstall -q -y setuptools; fi
	@$(MAKE) -s --no-print-directory $(BUNDLE)

$(BUNDLE): $(BIN)/composer $(SOURCES)
	@$(BIN)/python -m composer.bundle_build

$(BUSYBOX_TAR): tools/mkbusybox.sh
	@mkdir -p build
	tools/mkbusybox.sh $@

image: venv $(BUSYBOX_TAR)  ## the fixture image, in the default store (the demo's)
	@$(BIN)/composer image inspect $(IMAGE) >/dev/null 2>&1 || $(BIN)/composer image import $(BUSYBOX_TAR) $(IMAGE)

test: venv $(BUSYBOX_TAR)
	COMPOSER_BUSYBOX_TAR=$(abspath $(BUSYBOX_TAR)) $(BIN)/python -m pytest -q -p no:cacheprovider

demo: image
	examples/demo.sh

lint: venv
	$(BIN)/ruff check composer runtime tests bench
	$(BIN)/mypy composer runtime

bench: image
	$(BIN)/python -m bench

clean:
	rm -rf build $(VENV) $(BUNDLE)
