#!/bin/bash
# bench/clib.sh: wrk hello through nanogate (ipc) to the C worker library's
# hello (bench/contenders/clib-hello) and the Go SDK's (net/http and
# FastHandler: bench/contenders/sdk-hello), alternating in each round, with
# the CPU each process spent per request from /proc/PID/stat (utime +
# stime over the requests wrk counted). docs/sdk-c.md, "Cost", has figures.
#
#   bench/clib.sh                  # 3 rounds x 5 s at 64 and 256 connections
#   ROUNDS=1 DUR=3s bench/clib.sh
# Needs go, cc, libnanomsg-dev, wrk, curl.
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5s}
CONNS=${CONNS:-"64 256"}
dir=$(mktemp -d /tmp/nanogate-clib-bench.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

go build -o "$dir/nanogate" ./cmd/nanogate
go build -o "$dir/sdk-hello" ./bench/contenders/sdk-hello
cc -O2 -Wall -Wextra -pthread -I backend-sdk/c -o "$dir/clib-hello" \
	bench/contenders/clib-hello/main.c backend-sdk/c/nanogate_worker.c -lnanomsg

tck=$(getconf CLK_TCK)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
per_req() { awk -v d="$1" -v n="$2" -v t="$tck" 'BEGIN { printf "%.1f", d * 1e6 / t / n }'; }

# run NAME CONNS WORKER-ARGV...: one measured run of one worker.
run() {
	local name=$1 conns=$2; shift 2
	local sock="$dir/$name.sock" port
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	rm -f "$sock"
	"$@" "ipc://$sock" >>"$dir/worker.log" 2>&1 &
	local wp=$!
	pids+=("$wp")
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	printf 'listen = "127.0.0.1:%s"\n[log]\naccess = false\n[[route]]\npath = "/"\nendpoints = ["ipc://%s"]\ncontexts = 1024\n' \
		"$port" "$sock" >"$dir/gw.toml"
	"$dir/nanogate" --config "$dir/gw.toml" >>"$dir/gateway.log" 2>&1 &
	local gp=$!
	pids+=("$gp")
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.05; done
	wrk -t2 -c"$conns" -d1s "http://127.0.0.1:$port/hello" >/dev/null # warm-up
	local w0 g0 w1 g1 out reqs
	w0=$(cpu "$wp"); g0=$(cpu "$gp")
	out=$(wrk -t2 -c"$conns" -d"$DUR" --latency "http://127.0.0.1:$port/hello")
	w1=$(cpu "$wp"); g1=$(cpu "$gp")
	reqs=$(awk '/requests in/ {print $1}' <<<"$out")
	printf '%-10s c=%-4s req/s=%-9s p99=%-9s non-2xx=%-4s worker_us/req=%-5s gateway_us/req=%s\n' \
		"$name" "$conns" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" "$(awk '$1 == "99%" {print $2}' <<<"$out")" \
		"$(awk '/Non-2xx/ {print $NF}' <<<"$out" | grep . || echo 0)" \
		"$(per_req $((w1 - w0)) "$reqs")" "$(per_req $((g1 - g0)) "$reqs")"
	kill "$gp" "$wp"
	wait "$gp" "$wp" 2>/dev/null || true
}

for round in $(seq "$ROUNDS"); do
	echo "# round $round/$ROUNDS, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	for conns in $CONNS; do
		run clib "$conns" env NANOGATE_THREADS=64 "$dir/clib-hello"
		run go "$conns" "$dir/sdk-hello" --concurrency 64 --bind
		run go-fast "$conns" "$dir/sdk-hello" --concurrency 64 --fast --bind
	done
done
