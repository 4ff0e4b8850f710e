#!/bin/sh
# Hello under wrk: nanogate -> Node SDK (plain listener, Express) against
# the same listener and Express app on Node's own http server, directly and
# behind nginx (keep-alive upstream, when /usr/sbin/nginx exists), and the
# worker's CPU per request from /proc/PID/stat (utime + stime).
#
#   backend-sdk/node/bench/wrk.sh [CONNECTIONS] [SECONDS]     (from the repository root)
#
# Needs bin/nanogate (make build), wrk, node and npm ci in backend-sdk/node.
set -eu
C=${1:-64}
D=${2:-10}
DIR=$(mktemp -d /tmp/ngnode-bench.XXXXXX)
SDK=backend-sdk/node
TCK=$(getconf CLK_TCK)
PORT=18181
trap 'kill $(cat "$DIR"/*.pid 2>/dev/null) 2>/dev/null; [ -f "$DIR/nginx/nginx.pid" ] && kill $(cat "$DIR/nginx/nginx.pid") 2>/dev/null; rm -rf "$DIR"' EXIT

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }

wait_ready() { # file
  i=0
  until grep -q '^ready$' "$1" 2>/dev/null; do i=$((i + 1)); [ $i -lt 100 ] || { cat "$1"; exit 1; }; sleep 0.05; done
}

# run NAME URL PID: wrk against URL, then req/s and the CPU of PID per request.
run() {
  wrk -t1 -c1 -d1s "$2" >/dev/null # warm up
  before=$(cpu "$3")
  out=$(wrk -t2 -c"$C" -d"$D"s "$2")
  after=$(cpu "$3")
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
  p99=$(echo "$out" | awk '/Latency/ {print $2}')
  awk -v n="$1" -v r="$rps" -v q="$reqs" -v b="$before" -v a="$after" -v t="$TCK" -v e="${non2xx:-0}" -v l="$p99" \
    'BEGIN { printf "%-34s %10.0f req/s  avg latency %-8s worker CPU %6.1f us/req  non-2xx %s\n", n, r, l, (a - b) / t * 1e6 / q, e }'
}

node -e "require('http').createServer((req,res)=>{res.setHeader('Content-Type','text/plain; charset=utf-8');res.end('hello from '+req.socket.remoteAddress+', session undefined\n')}).listen($((PORT + 1)),'127.0.0.1',()=>console.log('ready'))" >"$DIR/plain-direct.log" 2>&1 &
echo $! >"$DIR/plain-direct.pid"
node "$SDK/examples/express-app.js" --http $((PORT + 2)) >"$DIR/express-direct.log" 2>&1 &
echo $! >"$DIR/express-direct.pid"
node "$SDK/examples/hello.js" "ipc://$DIR/plain.sock" >"$DIR/plain.log" 2>&1 &
echo $! >"$DIR/plain.pid"
node "$SDK/examples/express-app.js" --bind "ipc://$DIR/express.sock" >"$DIR/express.log" 2>&1 &
echo $! >"$DIR/express.pid"
for f in plain-direct express-direct plain express; do wait_ready "$DIR/$f.log"; done
# contexts: room for every connection's request (the default, 64 per
# endpoint, answers the rest 503).
cat >"$DIR/nanogate.toml" <<TOML
listen = "127.0.0.1:$PORT"
[log]
level = "warn"
[[route]]
path = "/plain/"
contexts = 1024
endpoints = ["ipc://$DIR/plain.sock"]
[[route]]
path = "/hello"
contexts = 1024
endpoints = ["ipc://$DIR/express.sock"]
TOML
bin/nanogate --config "$DIR/nanogate.toml" >"$DIR/gw.log" 2>&1 &
echo $! >"$DIR/gw.pid"
until curl -sf "http://127.0.0.1:$PORT/hello" >/dev/null; do sleep 0.05; done

echo "wrk -t2 -c$C -d${D}s, $(nproc) cores, node $(node --version)"
run "nanogate -> node SDK, plain"      "http://127.0.0.1:$PORT/plain/" "$(cat "$DIR/plain.pid")"
run "node http, plain (direct)"        "http://127.0.0.1:$((PORT + 1))/" "$(cat "$DIR/plain-direct.pid")"
run "nanogate -> node SDK, Express"    "http://127.0.0.1:$PORT/hello" "$(cat "$DIR/express.pid")"
run "node http, Express (direct)"      "http://127.0.0.1:$((PORT + 2))/hello" "$(cat "$DIR/express-direct.pid")"

[ -x /usr/sbin/nginx ] || exit 0
mkdir -p "$DIR/nginx"
cat >"$DIR/nginx/nginx.conf" <<CONF
daemon off;
worker_processes auto;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx/body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    keepalive_requests 1000000;
    upstream plain { server 127.0.0.1:$((PORT + 1)); keepalive 64; keepalive_requests 1000000; }
    upstream express { server 127.0.0.1:$((PORT + 2)); keepalive 64; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:$((PORT + 3));
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        location /plain/ { proxy_pass http://plain/; }
        location /hello { proxy_pass http://express; }
    }
}
CONF
/usr/sbin/nginx -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" >"$DIR/nginx/out.log" 2>&1 &
until curl -sf "http://127.0.0.1:$((PORT + 3))/hello" >/dev/null; do sleep 0.05; done
run "nginx -> node http, plain"        "http://127.0.0.1:$((PORT + 3))/plain/" "$(cat "$DIR/plain-direct.pid")"
run "nginx -> node http, Express"      "http://127.0.0.1:$((PORT + 3))/hello" "$(cat "$DIR/express-direct.pid")"
