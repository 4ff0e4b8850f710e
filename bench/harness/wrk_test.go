package main

import (
	"testing"
)

// wrk 4.1 output with every optional line, as printed by Debian's wrk.
const wrkSample = `Running 3s test @ http://127.0.0.1:40000/hello
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.45ms    2.87ms  54.22ms   93.40%
    Req/Sec    28.90k     3.34k   34.51k    70.00%
  Latency Distribution
     50%  780.00us
     75%    1.21ms
     90%    2.73ms
     99%    1.02s
  172388 requests in 3.00s, 18.58MB read
  Socket errors: connect 1, read 2, write 3, timeout 4
  Non-2xx or 3xx responses: 17
Requests/sec:  57451.19
Transfer/sec:      6.19MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{Requests: 172388, Seconds: 3, RPS: 57451.19, P50ms: 0.78, P99ms: 1020,
		SocketErrs: 10, Non2xx: 17, Raw: wrkSample}
	if r != want {
		t.Errorf("got %+v\nwant %+v", r, want)
	}
}

func TestParseWrkQuiet(t *testing.T) {
	// Without errors wrk prints neither the socket errors nor the non-2xx line.
	quiet := `  Latency Distribution
     50%    2.00ms
     99%   10.50ms
  1000 requests in 1.00s, 1.00MB read
Requests/sec:   1000.00
`
	r, err := parseWrk(quiet)
	if err != nil {
		t.Fatal(err)
	}
	if r.SocketErrs != 0 || r.Non2xx != 0 || r.P50ms != 2 || r.P99ms != 10.5 || r.Requests != 1000 {
		t.Errorf("got %+v", r)
	}
}

func TestParseWrkFailure(t *testing.T) {
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("no error for a run that never connected")
	}
	noLatency := "  100 requests in 1.00s, 1.00MB read\nRequests/sec: 100.00\n"
	if _, err := parseWrk(noLatency); err == nil {
		t.Error("no error without the latency distribution")
	}
}
