# pfslab — see README.md. `make demo` runs the lab; `make test` runs every test.

CARGO   ?= cargo
PFSLAB  := target/release/pfslab
KEYS    := keys
CAPS    := captures
SEED    ?=
SEEDARG := $(if $(SEED),--seed $(SEED),)

# System tools the tests and lessons use, as Debian package:command pairs (chromium: the report's
# test loads the page in a real browser, headless, network off; xxd and python3: lesson 00 and the
# lessons' checks; curl: the man-in-the-middle lesson; gdb: gcore for memory dumps).
TOOLS := openssl:openssl gnutls-bin:gnutls-cli tshark:tshark tcpdump:tcpdump chromium:chromium xxd:xxd python3:python3 curl:curl gdb:gcore

.PHONY: all build deps test conformance demo record compromise report scenarios bench fuzz clean help

all: build

help:
	@echo "make demo        record a mixed capture, steal the key, show what falls"
	@echo "make test        install missing tools, then run every test"
	@echo "make conformance tlsfuzzer's scripts against pfslab server (needs a tlsfuzzer checkout)"
	@echo "make record      keys (if missing) + pfslab record into $(CAPS)/"
	@echo "make compromise  the attacker on $(CAPS)/ with $(KEYS)/server.key"
	@echo "make report      the class's page: $(CAPS)/lab.html from $(CAPS)/lab.pcap and the stolen key"
	@echo "make scenarios   run every lesson under scenarios/"
	@echo "make bench       time the attacker against tshark on a large capture"
	@echo "make fuzz        run every fuzz target for FUZZ_SECONDS (60) each"
	@echo "make clean       remove what record made"

build:
	$(CARGO) build --release --locked

# Installs missing system tools non-interactively (root, or sudo without a password).
deps:
	@missing=""; for pair in $(TOOLS); do pkg=$${pair%%:*}; cmd=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	case "$$missing" in *chromium*) missing="$$missing fonts-liberation";; esac; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo -n"; \
	  echo "wireshark-common wireshark-common/install-setuid boolean false" | $$SUDO debconf-set-selections 2>/dev/null || true; \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi

# Most integration tests wait on child processes and sockets more than they compute: three test
# threads per core finish the suite in ~94 s here instead of ~130 s with one per core (issue 20).
TEST_THREADS ?= $(shell echo $$(( $$(nproc) * 3 )))

test: deps
	RUST_TEST_THREADS=$(TEST_THREADS) $(CARGO) test --locked --all-targets

# tlsfuzzer (TLSFUZZER_DIR, default ../shared/tools/tlsfuzzer) against pfslab server, every
# suite, in a Python venv it sets up; the scripts and what is left out: tests/conformance/scripts.txt.
conformance:
	bash scripts/conformance.sh

$(KEYS)/server.key: | build
	$(PFSLAB) keygen --out-dir $(KEYS) $(SEEDARG)

# Record a mixed class capture through the eavesdropper's tap. The server is careless and
# leaves an SSLKEYLOGFILE beside it (used by the key-log lesson).
record: build $(KEYS)/server.key
	$(PFSLAB) record --out $(CAPS)/lab.pcap --keys $(KEYS) --keylog $(CAPS)/lab.sslkeylog $(SEEDARG)

$(CAPS)/lab.pcap:
	$(MAKE) record

# The server's key is stolen: open every capture with it.
compromise: build $(CAPS)/lab.pcap
	$(PFSLAB) attack --key $(KEYS)/server.key $(CAPS)/*.pcap

# The lab's main job in one go: record, steal the key, show what falls.
demo: build
	@echo "== 1. Recording: the lab's clients log in to its bank, half with RSA key transport, half with ECDHE =="
	$(PFSLAB) record --out $(CAPS)/lab.pcap --keys $(KEYS) --keylog $(CAPS)/lab.sslkeylog $(SEEDARG)
	@echo
	@echo "== 2. What the eavesdropper sees without any key =="
	$(PFSLAB) inspect $(CAPS)/lab.pcap
	@echo
	@echo "== 3. Months later the server's RSA key is stolen. What falls? =="
	$(PFSLAB) attack --key $(KEYS)/server.key --table-only $(CAPS)/lab.pcap
	@echo "== 4. A recovered password, from session 0 (RSA key transport) =="
	$(PFSLAB) attack --key $(KEYS)/server.key --json $(CAPS)/lab.pcap | grep -m1 -o 'user=[^"]*'
	@echo
	@echo "== 5. The page for the class: every session's handshake, secrets and verdict =="
	$(PFSLAB) report --key $(KEYS)/server.key --out $(CAPS)/lab.html $(CAPS)/lab.pcap
	@echo
	@echo "The ECDHE sessions stand: their premaster never crossed the wire. To see why, session by session: open $(CAPS)/lab.html"

# The page for the class: per session the handshake ladder, every secret and what fell.
report: build $(CAPS)/lab.pcap $(KEYS)/server.key
	$(PFSLAB) report --key $(KEYS)/server.key --out $(CAPS)/lab.html $(CAPS)/lab.pcap
	@echo "open $(CAPS)/lab.html in any browser (it needs no network)"

# Every lesson, unattended; each ends in a check that fails the run if its outcome did not happen.
scenarios: build deps
	@for s in scenarios/[0-9]*.sh; do echo "=== $$s ==="; PFSLAB=$(PFSLAB) bash $$s || exit 1; done

# Every fuzz target for a bounded time (FUZZ_SECONDS, default 60); installs cargo-fuzz if missing.
fuzz:
	bash scripts/fuzz.sh

# pfslab attack vs tshark on a large OpenSSL capture it makes itself (BENCH_MICRO=1 adds Criterion).
bench:
	bash scripts/bench.sh

clean:
	rm -f $(CAPS)/*.pcap $(CAPS)/*.pcapng $(CAPS)/*.partial $(CAPS)/*.truth.json $(CAPS)/*.sslkeylog $(CAPS)/*.keylog $(CAPS)/*.html
	rm -rf $(CAPS)/[0-9][0-9]-*/
