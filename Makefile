# nanogate: `make run` starts the gateway and a demo worker; `make test` runs
# every test. Both install what they need from Debian's packages first.

GO        ?= go
BIN       := bin
SUDO      := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
FUZZTIME  ?= 30s
DEMO_SOCK ?= /tmp/nanogate-demo.sock

# Real peers the tests talk to: libnanomsg for the C workers, nanocat and
# nngcat as raw nanomsg peers, a C compiler, curl, Python's websockets
# client (Debian's, seen by /usr/bin/python3) and headless Chromium for the
# streaming and WebSocket tests, wrk for the reload-under-load test;
# libzmq (cgo, package internal/zmq) with python3-zmq for the BlastBeat and
# Condure peers; Flask, Django and Starlette for the Python SDK's apps, and
# Node.js (its npm fetches Express) for the Node SDK.
TEST_PKGS  := gcc libc6-dev pkg-config libnanomsg-dev nanomsg-utils nng-utils curl wrk python3 python3-websockets chromium \
	libzmq3-dev python3-zmq python3-flask python3-django python3-starlette nodejs
# Contenders and load generator for `make bench` (bench/README.md), and the
# compiler for the mod_nano-style C worker; gunicorn and Node for the sdk scenario (Express: sdk-deps).
BENCH_PKGS := wrk nginx apache2 libnanomsg-dev gcc libc6-dev gunicorn nodejs

.PHONY: all build run test test-short vet fuzz bench deps bench-deps clean sdk-deps test-sdks

all: build

build:
	$(GO) build -o $(BIN)/nanogate ./cmd/nanogate
	$(GO) build -o $(BIN)/demo-worker ./backend-sdk/go/cmd/demo-worker

# The demo worker binds $(DEMO_SOCK); the gateway (nanogate.toml) dials it.
# Ctrl-C stops both.
run: build
	@$(BIN)/demo-worker --stream --bind ipc://$(DEMO_SOCK) & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker 2>/dev/null' EXIT INT TERM; \
	echo "nanogate on http://127.0.0.1:8080 -> demo worker on ipc://$(DEMO_SOCK)"; \
	echo "open http://127.0.0.1:8080/ (SSE clock, WebSocket echo, push), or: curl -N localhost:8080/api/sse"; \
	$(BIN)/nanogate --config nanogate.toml

# apt-get only what is missing, so a warm machine does not touch the network.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -q && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call apt_install,$(TEST_PKGS))

bench-deps:
	$(call apt_install,$(BENCH_PKGS))

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Every package with goroutines runs under the race detector; fuzz targets
# run their seed corpus as ordinary tests.
test: deps vet sdk-deps
	$(GO) test -race -count=1 -timeout 8m ./...
	$(MAKE) test-sdks

# The worker SDKs in other languages test themselves (parsers and writers
# against the golden vectors, adapters on real sockets); the conformance
# suite in cmd/nanogate runs each of them behind the real gateway. One line
# per SDK.
PYTHON ?= /usr/bin/python3
sdk-deps:
	@true
	cd backend-sdk/node && npm ci --no-audit --no-fund
test-sdks:
	@true
	$(MAKE) -C backend-sdk/c test
	cd backend-sdk/python && $(PYTHON) -m unittest discover -s tests -v
	cd backend-sdk/node && node --test

test-short: vet
	$(GO) test -count=1 -short ./...

fuzz:
	$(GO) test ./session -run '^$$' -fuzz FuzzParseResponse -fuzztime $(FUZZTIME)
	$(GO) test ./session -run '^$$' -fuzz FuzzAppendRequest -fuzztime $(FUZZTIME)
	$(GO) test ./config -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/sp -run '^$$' -fuzz FuzzFrames -fuzztime $(FUZZTIME)
	$(GO) test ./session -run '^$$' -fuzz FuzzFieldOf -fuzztime $(FUZZTIME)
	$(GO) test ./protocol/frames -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./backend-sdk/go -run '^$$' -fuzz '^FuzzParseRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./backend-sdk/go -run '^$$' -fuzz '^FuzzHandle$$' -fuzztime $(FUZZTIME)
	$(GO) test ./backend-sdk/go -run '^$$' -fuzz '^FuzzParseVsNetHTTP$$' -fuzztime $(FUZZTIME)
	$(GO) test ./backend-sdk/go -run '^$$' -fuzz '^FuzzFastVsParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./backend-sdk/go -run '^$$' -fuzz '^FuzzParseStreamRequest$$' -fuzztime $(FUZZTIME)
	$(GO) test ./backend-sdk/c/workertest -run '^$$' -fuzz '^FuzzLibrary$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol/uwsgi -run '^$$' -fuzz FuzzEach -fuzztime $(FUZZTIME)
	$(GO) test ./protocol/tnetstring -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME)
	$(GO) test ./protocol/zhttp -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./protocol/zhttp -run '^$$' -fuzz '^FuzzFromHead$$' -fuzztime $(FUZZTIME)
	$(GO) test ./blastbeat -run '^$$' -fuzz FuzzReceive -fuzztime $(FUZZTIME)
	$(GO) test ./config -run '^$$' -fuzz FuzzParseBlastBeat -fuzztime $(FUZZTIME)
	$(GO) test ./accesslog -run '^$$' -fuzz FuzzLine -fuzztime $(FUZZTIME)

# Every contender side by side under wrk, then the Go micro-benchmarks of
# session, frontend, bridge and the worker SDK; results in bench/results/. Sized to finish in
# about 19 minutes (the sdk scenario adds 3); BENCH_FLAGS overrides (later flags win), e.g.
# make bench BENCH_FLAGS="--scenario hello --duration 10s".
# MOD_NANO_SO=/path/to/mod_nano.so adds the apache-modnano contender.
bench: bench-deps sdk-deps
	$(GO) run ./bench/harness --scenario all --conns 64,256 --duration 3s --warmup 1s --rounds 3 \
		--idle 10000,50000,100000 --idle-load 5s --micro $(BENCH_FLAGS)

clean:
	rm -rf $(BIN)
