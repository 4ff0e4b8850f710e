package main

import (
	"math"
	"slices"
	"strconv"
)

// summary is one table row: a contender at one conns value over the
// rounds. Rates, latencies, memory and CPU are medians of the rounds that
// ran; errors are summed over every round, so that a median cannot hide
// them. NaN means no round gave the number.
type summary struct {
	Name     string `json:"name"`
	Conns    int    `json:"conns"`
	Status   string `json:"status"`
	Reason   string `json:"reason,omitempty"`
	Rounds   int    `json:"rounds"`    // rounds run
	OK       int    `json:"rounds_ok"` // rounds that produced numbers
	RPS      metric `json:"rps"`
	Ratio    metric `json:"ratio"` // median of the per-round ratios to fasthttp
	P50ms    metric `json:"p50_ms"`
	P99ms    metric `json:"p99_ms"`
	SockErrs int64  `json:"socket_errors"`
	Non2xx   int64  `json:"non_2xx"`
	RSSMiB   metric `json:"rss_mib"`
	PSSMiB   metric `json:"pss_mib"`
	CPUus    metric `json:"cpu_us_per_req"`
	FirstErr string `json:"first_error,omitempty"`
}

// summarize turns a contender's runs into one row per conns value.
func summarize(cr contenderResult, conns []int) []summary {
	var out []summary
	for _, c := range conns {
		s := summary{Name: cr.Name, Conns: c, Status: cr.Status, Reason: cr.Reason}
		var rps, ratio, p50, p99, rss, pss, cpu []float64
		for _, r := range cr.Runs {
			if r.Conns != c {
				continue
			}
			s.Rounds++
			s.SockErrs += r.SocketErrs
			s.Non2xx += r.Non2xx
			if r.Err != "" {
				if s.FirstErr == "" {
					s.FirstErr = r.Err
				}
				continue
			}
			s.OK++
			rps = append(rps, r.RPS)
			p50 = append(p50, r.P50ms)
			p99 = append(p99, r.P99ms)
			rss = append(rss, float64(r.Tree.RSSKiB)/1024)
			pss = append(pss, float64(r.Tree.PSSKiB)/1024)
			cpu = append(cpu, r.CPUusPerReq)
			if r.Ratio > 0 {
				ratio = append(ratio, r.Ratio)
			}
		}
		s.RPS, s.Ratio, s.P50ms, s.P99ms = median(rps), median(ratio), median(p50), median(p99)
		s.RSSMiB, s.PSSMiB, s.CPUus = median(rss), median(pss), median(cpu)
		out = append(out, s)
	}
	return out
}

// metric is a number that may be missing (NaN): JSON null, "–" in tables.
type metric float64

func (m metric) ok() bool { return !math.IsNaN(float64(m)) }

func (m metric) MarshalJSON() ([]byte, error) {
	if !m.ok() {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, float64(m), 'g', 6, 64), nil
}

// median of xs; NaN when empty. An even count averages the middle two.
func median(xs []float64) metric {
	if len(xs) == 0 {
		return metric(math.NaN())
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return metric(s[n/2])
	}
	return metric((s[n/2-1] + s[n/2]) / 2)
}
