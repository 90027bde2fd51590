# voicebot — developer entry points. Every target is idempotent and quick when nothing changed.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# Debian packages the real peers and engines come from (see README, "Dependencies").
APT_PACKAGES := espeak-ng libespeak-ng1 libopus0 sip-tester kamailio kamailio-tls-modules redis-server graphviz postgresql tcpdump
STAMP  := $(VENV)/.voicebot-installed
# The voiceprint model (resemblyzer 0.1.4's pretrained.pt), read with numpy from the wheel, which is
# downloaded without its dependencies so torch is never installed (voicebot/voiceprint/model.py).
VOICEPRINT_MODEL := $(VENV)/share/voicebot/.resemblyzer-0.1.4

.PHONY: setup system-packages test unit lint bench demo clean

setup: system-packages $(STAMP) $(VOICEPRINT_MODEL)

# Installs only what is missing; as non-root it prints the exact command instead.
system-packages:
	@missing=""; for p in $(APT_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get -o DPkg::Lock::Timeout=900 update -qq && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq $$missing >/dev/null; \
	  else \
	    echo "voicebot needs these Debian packages; run as root:"; \
	    echo "  sudo apt-get install -y$$missing"; \
	  fi; \
	fi

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $@

$(VOICEPRINT_MODEL): | $(STAMP)
	$(PY) -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
	  -d $(VENV)/share/voicebot resemblyzer==0.1.4
	@touch $@

# The suite starts a few hundred `python -m voicebot` processes: compiled once here, each start
# reads the bytecode (0.2-0.3 CPU-s less per start) even where PYTHONDONTWRITEBYTECODE is set.
test: setup
	@$(PY) -m compileall -q voicebot codecs >/dev/null
	$(PY) -m pytest -q

unit: setup
	$(PY) -m pytest -q tests/unit

lint: setup
	$(VENV)/bin/ruff check voicebot codecs tests benchmarks examples
	$(VENV)/bin/mypy

# benchmarks/speech.py in its quick mode (the README's speech table); SPEECH_BENCH= for the
# full evaluation (13 conditions, every turn).
SPEECH_BENCH ?= --quick
bench: setup
	@for b in benchmarks/*.py; do echo "== $$b"; args=; [ $$b = benchmarks/speech.py ] && args="$(SPEECH_BENCH)"; \
	  $(PY) $$b $$args || exit 1; done

demo: setup
	$(PY) -m voicebot demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
