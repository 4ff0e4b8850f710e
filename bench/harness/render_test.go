package main

import (
	"encoding/xml"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/nanogate/nanogate/config"
)

// The gateway config the harness writes must pass nanogate's own parser.
func TestGatewayConfigParses(t *testing.T) {
	for _, z := range []sizing{{maxConns: 256}, {maxConns: 64, idle: 100000}} {
		for _, quiet := range []bool{false, true} {
			text := gatewayConfig("127.0.0.1:8080", z, []string{"ipc:///tmp/a.sock", "tcp://127.0.0.1:5555"}, quiet)
			c, err := config.Parse("bench.toml", []byte(text))
			if err != nil {
				t.Errorf("%+v: %v\n%s", z, err, text)
				continue
			}
			if c.Log.NoAccess != quiet {
				t.Errorf("%+v, quiet %v: access log off = %v", z, quiet, c.Log.NoAccess)
			}
		}
	}
}

func TestParseStat(t *testing.T) {
	line := []byte("42 (a) b (c)) S 7 42 42 0 -1 4194560 1 0 0 0 11 22 33 44 20 0 1 0 5 0 0")
	st, ok := parseStat(42, line)
	if !ok || st.ppid != 7 || st.pgrp != 42 || st.state != 'S' || st.cpuTicks != 110 {
		t.Errorf("got %+v, %v", st, ok)
	}
}

// The chart is well-formed XML, missing values included.
func TestChartSVG(t *testing.T) {
	c := chart{title: "t <&>", groups: []string{"a", "b/c"}, series: []string{"64", "256"},
		panels: []panel{{title: "p", values: [][]float64{{1, 2}, {math.NaN(), 123456}}}}}
	d := xml.NewDecoder(strings.NewReader(string(c.svg())))
	for {
		_, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for in, want := range map[float64]float64{0: 1, 0.7: 0.8, 143: 200, 57451: 60000, 25000: 40000, 30001: 40000, 100: 100} {
		if got := niceCeil(in); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", in, got, want)
		}
	}
}
