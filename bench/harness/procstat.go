package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat. Linux
// fixes it at 100 for user space on every architecture (proc(5)).
const clockTicks = 100

// procStat is the part of /proc/PID/stat the harness uses.
type procStat struct {
	pid, ppid, pgrp int
	state           byte
	// cpuTicks is utime+stime+cutime+cstime: the process's CPU time plus
	// that of its reaped children, so that an Apache child that exits
	// during a run still counts (its master reaps it).
	cpuTicks int64
}

// readAllStats reads /proc/*/stat; processes that vanish meanwhile are
// skipped.
func readAllStats() []procStat {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	out := make([]procStat, 0, len(ents))
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if st, ok := parseStat(pid, b); ok {
			out = append(out, st)
		}
	}
	return out
}

// parseStat parses one /proc/PID/stat line. The command name is in
// parentheses and may hold spaces and parentheses, so the fields are
// counted from the last ')' (proc(5)).
func parseStat(pid int, b []byte) (procStat, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 15 {
		return procStat{}, false
	}
	num := func(n int) int64 { v, _ := strconv.ParseInt(f[n-3], 10, 64); return v }
	return procStat{
		pid:      pid,
		state:    f[0][0],
		ppid:     int(num(4)),
		pgrp:     int(num(5)),
		cpuTicks: num(14) + num(15) + num(16) + num(17),
	}, true
}

// treeSample is a contender's process tree at one instant.
type treeSample struct {
	Procs  int   `json:"procs"`
	RSSKiB int64 `json:"rss_kib"` // sum of VmRSS: pages shared by forked children count once per child
	// PSSKiB is the sum of Pss (smaps_rollup): each shared page divided
	// among the processes sharing it, so that 256 Apache children do not
	// count libc 256 times.
	PSSKiB   int64 `json:"pss_kib"`
	CPUTicks int64 `json:"cpu_ticks"`
}

// sampleTree sums VmRSS and CPU ticks over roots and all their
// descendants.
func sampleTree(roots []int) treeSample {
	all := readAllStats()
	kids := map[int][]procStat{}
	byPID := map[int]procStat{}
	for _, st := range all {
		kids[st.ppid] = append(kids[st.ppid], st)
		byPID[st.pid] = st
	}
	var s treeSample
	seen := map[int]bool{}
	queue := append([]int(nil), roots...)
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		st, ok := byPID[pid]
		if !ok || seen[pid] {
			continue
		}
		seen[pid] = true
		s.Procs++
		s.CPUTicks += st.cpuTicks
		s.RSSKiB += kibField("/proc/"+strconv.Itoa(pid)+"/status", "VmRSS:") // zombies have none: 0
		s.PSSKiB += kibField("/proc/"+strconv.Itoa(pid)+"/smaps_rollup", "Pss:")
		for _, k := range kids[pid] {
			queue = append(queue, k.pid)
		}
	}
	return s
}

// kibField returns the "NAME: N kB" field of a /proc file, 0 when absent.
func kibField(path, name string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, name); ok {
			v, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return v
		}
	}
	return 0
}
