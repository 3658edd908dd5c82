# crosshost.fabric: developer and CI entry points. Run as root on Debian 12 (the lab needs Docker,
# debootstrap and network namespaces). CI runs `make setup` then `make -k test` (see .ci/run).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
COLLECTIONS := $(CURDIR)/.build/collections
COLLECTION_LINK := $(COLLECTIONS)/ansible_collections/crosshost/fabric

export PATH := $(BIN):$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
export ANSIBLE_RETRY_FILES_ENABLED := false
ifneq ($(CI),)
# Plain logs in CI.
export ANSIBLE_NOCOLOR := 1
export PY_COLORS := 0
export NO_COLOR := 1
endif

# pytest exits 5 when it collects no test: an empty suite is not a failure here.
define pytest_allow_empty
rc=0; $(BIN)/pytest $(1) || rc=$$?; \
if [ $$rc -eq 5 ]; then echo "pytest: no tests collected in $(firstword $(1))"; rc=0; fi; \
exit $$rc
endef

.PHONY: help setup venv collection-link lint sanity unit playbooks integration molecule test bench demo lab-up lab-down clean docs compat mutation

help:
	@echo "make setup        packages, dockerd, lab node images (one per engine), .venv, collection link"
	@echo "make lint         shellcheck, ruff, yamllint, ansible-lint (production profile)"
	@echo "make sanity       ansible-test sanity on the built tarball, installed under .build/sanity (offline pip bootstrap)"
	@echo "make unit         pytest tests/unit"
	@echo "make playbooks    pytest tests/playbooks (the playbooks through ansible-playbook, on localhost)"
	@echo "make integration  pytest tests/integration (root, network namespaces)"
	@echo "make molecule     molecule test, every scenario under molecule/ (vxlan and host-gw on each engine)"
	@echo "make compat       unit + playbooks on the oldest and the newest ansible-core claimed (own venvs)"
	@echo "make test         lint sanity unit playbooks compat integration molecule"
	@echo "make bench        every benchmarks/*.py"
	@echo "make mutation     mutmut over plugins/plugin_utils and plugins/module_utils (slow; not in make test)"
	@echo "make docs         regenerate the texts derived from plugins/plugin_utils/options.py"
	@echo "make demo         3 lab nodes, site.yml on them, pings between their containers"
	@echo "make lab-up       3 lab nodes for inventories/lab (make lab-down removes them)"

setup:
	bash lab/setup.sh
	$(MAKE) --no-print-directory venv collection-link

# Created when missing; (re)installed when requirements.txt is newer than the last install.
venv: $(VENV)/.requirements-installed

$(VENV)/.requirements-installed: requirements.txt
	@if [ ! -x "$(VENV)/bin/python" ]; then echo "creating $(VENV)"; python3 -m venv "$(VENV)"; fi
	"$(BIN)/python" -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch "$@"

# The link always points at this checkout: one left pointing at another checkout is re-pointed
# (tests/conftest.py does the same), anything else in its place stops the run. Every suite runs it.
collection-link:
	@mkdir -p "$(dir $(COLLECTION_LINK))"
	@if [ -e "$(COLLECTION_LINK)" ] && [ ! -L "$(COLLECTION_LINK)" ]; then \
	  echo "$(COLLECTION_LINK) exists and is not a symlink; remove it"; exit 1; fi
	@if [ "$$(readlink -f "$(COLLECTION_LINK)")" != "$$(readlink -f "$(CURDIR)")" ]; then \
	  echo "collection link -> $(CURDIR) (was: $$(readlink "$(COLLECTION_LINK)" || echo none))"; \
	  ln -sfn "$(CURDIR)" "$(COLLECTION_LINK)"; fi

SHELL_SCRIPTS := $(wildcard lab/*.sh lab/image/build.sh lab/image/rootfs/usr/local/sbin/* lab/image/engines/*/rootfs/usr/local/sbin/* tools/*.sh) .ci/run

lint: collection-link
	shellcheck -x -P SCRIPTDIR $(SHELL_SCRIPTS)
	$(BIN)/ruff check .
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint --profile production

# ansible-test sanity on what Galaxy users get: the built tarball, installed under .build/sanity.
# Offline: ansible-test bootstraps pip in each of its venvs with a get-pip.py downloaded from
# ci-files.testing.ansible.com (not reachable here) unless ~/.ansible/test/cache/get_pip_<ver>.py
# exists; tests/sanity/get_pip.py is that script's stand-in (pip from Python's ensurepip wheel), put
# in the cache of a HOME under .build/sanity, where ansible-test also keeps its venvs between runs
# (their packages come from the configured pip index). `git init`: inside this checkout ansible-test
# would list the files with git, which ignores .build/.
SANITY := $(CURDIR)/.build/sanity
SANITY_ROOT := $(SANITY)/collections/ansible_collections/crosshost/fabric

sanity:
	@rm -rf "$(SANITY)/collections" "$(SANITY)"/*.tar.gz
	@mkdir -p "$(SANITY)/home/.ansible/test/cache"
	$(BIN)/ansible-galaxy collection build --force --output-path "$(SANITY)" .
	$(BIN)/ansible-galaxy collection install --force --no-deps -p "$(SANITY)/collections" "$(SANITY)"/crosshost-fabric-*.tar.gz 2>/dev/null
	@pipver=$$($(BIN)/python -c 'import re, ansible_test._internal.python_requirements as m; print(re.search(r"pip=.([0-9.]+)", open(m.__file__).read()).group(1))'); \
	  cp tests/sanity/get_pip.py "$(SANITY)/home/.ansible/test/cache/get_pip_$${pipver//./_}.py"
	cd "$(SANITY_ROOT)" && git init -q . && HOME="$(SANITY)/home" $(BIN)/ansible-test sanity --color no \
	  --python "$$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" --skip-test pslint

unit: collection-link
	@$(call pytest_allow_empty,tests/unit)

playbooks: collection-link
	@$(call pytest_allow_empty,tests/playbooks)

integration: collection-link
	@$(call pytest_allow_empty,tests/integration)

# Each scenario in turn (molecule destroys its instances even when a step fails); all are run,
# then the target fails if any failed. The scenarios in ENGINE_SCENARIOS run once per Docker engine
# of the lab (FABRIC_ENGINE, see lab/lib.sh), the others on the default engine. Each run's time is printed.
# MOLECULE_SKIP: scenarios to leave out (none by default; e.g. `make molecule MOLECULE_SKIP="bgp udp"`).
# Checks marked engine_independent run on the default engine only (molecule/vxlan/tests/fabric_lab.py).
ENGINES ?= bookworm trixie sid
ENGINE_SCENARIOS ?= vxlan host-gw
MOLECULE_SKIP ?=
molecule: collection-link
	@failed=""; \
	for f in molecule/*/molecule.yml; do \
	  [ -e "$$f" ] || continue; \
	  s=$$(basename "$$(dirname "$$f")"); \
	  case " $(MOLECULE_SKIP) " in *" $$s "*) echo "=== molecule -s $$s skipped (MOLECULE_SKIP)"; continue ;; esac; \
	  engines=bookworm; \
	  case " $(ENGINE_SCENARIOS) " in *" $$s "*) engines="$(ENGINES)" ;; esac; \
	  for e in $$engines; do \
	    echo "=== molecule test -s $$s (FABRIC_ENGINE=$$e)"; t0=$$SECONDS; \
	    FABRIC_ENGINE=$$e $(BIN)/molecule test -s "$$s" || failed="$$failed $$s($$e)"; \
	    echo "=== molecule test -s $$s (FABRIC_ENGINE=$$e) took $$((SECONDS - t0)) s"; \
	  done; \
	done; \
	echo "=== make molecule took $$SECONDS s"; \
	if [ -n "$$failed" ]; then echo "molecule scenarios failed:$$failed"; exit 1; fi

# Declared support: tests/unit and tests/playbooks on the oldest ansible-core meta/runtime.yml claims
# and the newest requirements.txt allows, each in its own venv under .build/compat (tools/compat.sh).
compat:
	bash tools/compat.sh

test: lint sanity unit playbooks compat integration molecule

# The module DOCUMENTATION of fabric_plan, the plan role's argument spec and task, the README's
# variables table: generated from plugins/plugin_utils/options.py (make unit fails when stale).
docs:
	$(BIN)/python tools/options_docs.py

# Mutation testing (tests/mutation/run.py): score per folder, survivors checked against the reviewed
# list tests/mutation/survivors.yml. One worker at nice 15; see README "Tests" for its time.
MUTATION_FOLDERS ?= plugin_utils module_utils
mutation: collection-link
	$(BIN)/python tests/mutation/run.py $(MUTATION_FOLDERS)

bench: collection-link
	@shopt -s nullglob; for b in benchmarks/*.py; do echo "=== $$b"; $(BIN)/python "$$b"; done

demo:
	bash lab/demo.sh

lab-up:
	bash lab/up.sh

lab-down:
	bash lab/down.sh

clean:
	rm -rf .build lab/build .pytest_cache .ruff_cache
