package main

import (
	"encoding/json"
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); float64(got) != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if median(nil).ok() {
		t.Error("median of nothing is a number")
	}
}

// Errors are summed over every round, failed rounds included, and the
// medians come from the rounds that produced numbers.
func TestSummarize(t *testing.T) {
	cr := contenderResult{Name: "x", Status: statusOK, Runs: []runResult{
		{Round: 1, Conns: 64, wrkResult: wrkResult{RPS: 100, P99ms: 9, Non2xx: 5}, Ratio: 0.5},
		{Round: 2, Conns: 64, wrkResult: wrkResult{RPS: 300, P99ms: 1, SocketErrs: 2}, Ratio: 0.7},
		{Round: 3, Conns: 64, wrkResult: wrkResult{SocketErrs: 7}, Err: "wrk: boom"},
		{Round: 1, Conns: 256, wrkResult: wrkResult{RPS: 50}},
	}}
	s := summarize(cr, []int{64, 256})
	if len(s) != 2 {
		t.Fatalf("%d rows", len(s))
	}
	got := s[0]
	if got.RPS != 200 || got.P99ms != 5 || got.Ratio != 0.6 || got.SockErrs != 9 || got.Non2xx != 5 ||
		got.OK != 2 || got.Rounds != 3 || got.FirstErr != "wrk: boom" {
		t.Errorf("64 conns: %+v", got)
	}
	if s[1].RPS != 50 || s[1].Ratio.ok() {
		t.Errorf("256 conns (no fasthttp ratio): %+v", s[1])
	}
}

func TestMetricJSON(t *testing.T) {
	b, err := json.Marshal([]metric{1.5, metric(math.NaN())})
	if err != nil || string(b) != "[1.5,null]" {
		t.Errorf("got %s, %v", b, err)
	}
}
