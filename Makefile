# pfslab — see README.md. `make demo` runs the lab; `make test` runs every test.

CARGO   ?= cargo
PFSLAB  := target/release/pfslab
KEYS    := keys
CAPS    := captures
SEED    ?=
SEEDARG := $(if $(SEED),--seed $(SEED),)

# System tools the tests and lessons use, as Debian package:command pairs.
TOOLS := openssl:openssl gnutls-bin:gnutls-cli tshark:tshark tcpdump:tcpdump

.PHONY: all build deps test demo record compromise clean help

all: build

help:
	@echo "make demo        record a mixed capture, steal the key, show what falls"
	@echo "make test        install missing tools, then run every test"
	@echo "make record      keys (if missing) + pfslab record into $(CAPS)/"
	@echo "make compromise  the attacker on $(CAPS)/ with $(KEYS)/server.key"
	@echo "make clean       remove what record made"

build:
	$(CARGO) build --release --locked

# Installs missing system tools non-interactively (root, or sudo without a password).
deps:
	@missing=""; for pair in $(TOOLS); do pkg=$${pair%%:*}; cmd=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo -n"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | $$SUDO debconf-set-selections 2>/dev/null || true; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

test: deps
	$(CARGO) test --locked --all-targets

$(KEYS)/server.key: | build
	$(PFSLAB) keygen --out-dir $(KEYS) $(SEEDARG)

clean:
	rm -f $(CAPS)/*.pcap $(CAPS)/*.pcap.partial $(CAPS)/*.truth.json $(CAPS)/*.keylog
