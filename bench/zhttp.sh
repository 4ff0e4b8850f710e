#!/bin/sh
# Hello under wrk through one gateway, three ways: to a ZHTTP stream-mode
# handler in Go (bench/contenders/zhttp-hello: what a Condure hello handler
# does, in Go), to our Python one (cmd/nanogate/testdata/condure/
# hello_handler.py, Debian's python3-zmq), and
# to the Go SDK's hello worker over nanomsg REQ/REP
# (bench/contenders/sdk-hello), alternated ROUNDS times in one run. Prints
# req/s and the CPU per request of the gateway and of the handler
# (/proc/PID/stat utime + stime).
#
#   bench/zhttp.sh [CONNECTIONS] [SECONDS] [ROUNDS]     (from the repository root)
#
# Needs go, wrk, curl, libzmq3-dev and python3-zmq.
set -eu
C=${1:-64}
D=${2:-10}
R=${3:-2}
DIR=$(mktemp -d /tmp/ngzhttp-bench.XXXXXX)
TCK=$(getconf CLK_TCK)
ROOT=$(pwd)
PORT=18191
trap 'kill $(cat "$DIR"/*.pid 2>/dev/null) 2>/dev/null; rm -rf "$DIR"' EXIT

go build -o "$DIR/nanogate" ./cmd/nanogate
go build -o "$DIR/zhttp-hello" ./bench/contenders/zhttp-hello
go build -o "$DIR/sdk-hello" ./bench/contenders/sdk-hello

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME URL HANDLER_PID: wrk against URL; req/s, and the CPU per request
# of the gateway and of the handler.
run() {
  wrk -t1 -c1 -d1s "$2" >/dev/null # warm up
  gb=$(cpu "$GW") hb=$(cpu "$3")
  out=$(wrk -t2 -c"$C" -d"$D"s "$2")
  ga=$(cpu "$GW") ha=$(cpu "$3")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  lat=$(echo "$out" | awk '/Latency/ {print $2}')
  awk -v n="$1" -v r="$rps" -v q="$reqs" -v gb="$gb" -v ga="$ga" -v hb="$hb" -v ha="$ha" -v t="$TCK" -v e="${non2xx:-0}" -v l="$lat" \
    'BEGIN { printf "%-36s %8.0f req/s  avg latency %-8s gateway %5.1f us/req  handler %5.1f us/req  non-2xx %s\n", n, r, l, (ga - gb) / t * 1e6 / q, (ha - hb) / t * 1e6 / q, e }'
}

cat >"$DIR/nanogate.toml" <<EOF
listen = "127.0.0.1:$PORT"
[log]
access = false
level = "warn"
[[route]]
path = "/hello"
endpoints = ["ipc://$DIR/w.sock"]
[[route]]
path = "/z/"
format = "zhttp"
zhttp_stream = "ipc://$DIR/go"
timeout = "10s"
[[route]]
path = "/py/"
format = "zhttp"
zhttp_stream = "ipc://$DIR/client" # hello_handler.py connects ipc://client-* in its directory
timeout = "10s"
EOF
"$DIR/sdk-hello" --bind "ipc://$DIR/w.sock" >"$DIR/sdk.log" 2>&1 &
echo $! >"$DIR/sdk.pid"
"$DIR/nanogate" --config "$DIR/nanogate.toml" >"$DIR/gw.log" 2>&1 &
echo $! >"$DIR/gw.pid"
GW=$(cat "$DIR/gw.pid")
until [ -S "$DIR/go-in" ] && [ -S "$DIR/client-in" ]; do sleep 0.05; done
"$DIR/zhttp-hello" --base "ipc://$DIR/go" >"$DIR/zh.log" 2>&1 &
echo $! >"$DIR/zh.pid"
(cd "$DIR" && PYTHONPATH="$ROOT/cmd/nanogate/testdata/condure" exec /usr/bin/python3 \
  "$ROOT/cmd/nanogate/testdata/condure/hello_handler.py" >/dev/null 2>&1) &
echo $! >"$DIR/py.pid"
for u in hello z/ py/; do
  until curl -sf -m 12 "http://127.0.0.1:$PORT/$u" >/dev/null; do sleep 0.05; done
done

echo "wrk -t2 -c$C -d${D}s, $(nproc) cores, $R rounds"
for i in $(seq "$R"); do
  run "zhttp stream -> Go handler"          "http://127.0.0.1:$PORT/z/hello" "$(cat "$DIR/zh.pid")"
  run "nanomsg REQ/REP -> Go SDK worker"    "http://127.0.0.1:$PORT/hello" "$(cat "$DIR/sdk.pid")"
  run "zhttp stream -> hello_handler.py"    "http://127.0.0.1:$PORT/py/hello" "$(cat "$DIR/py.pid")"
done
