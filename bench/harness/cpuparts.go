package main

import "strings"

// partCPU is the CPU that one process the harness started in a stack (the
// gateway, a worker, nginx, its upstream), with its descendants, spent
// per request over a measured run: the total of the CPU column split, so
// that a worker's share is seen apart from the front's.
type partCPU struct {
	Label       string  `json:"label"` // "nanogate", "worker", "nginx", "upstream"
	CPUusPerReq float64 `json:"cpu_us_per_req"`
}

// labeledTicks is one process's CPU ticks (utime+stime+cutime+cstime of it
// and its descendants) at one instant.
type labeledTicks struct {
	label string
	ticks int64
}

// cpuByPart samples the CPU ticks of each process the harness started in
// s, in start order, from one scan of /proc.
func (s *stack) cpuByPart() []labeledTicks {
	all := readAllStats()
	kids := map[int][]procStat{}
	byPID := map[int]procStat{}
	for _, st := range all {
		kids[st.ppid] = append(kids[st.ppid], st)
		byPID[st.pid] = st
	}
	out := make([]labeledTicks, len(s.procs))
	for i, p := range s.procs {
		_, label, _ := strings.Cut(p.name, "/")
		out[i].label = label
		seen := map[int]bool{}
		for queue := []int{p.pid()}; len(queue) > 0; queue = queue[1:] {
			st, ok := byPID[queue[0]]
			if !ok || seen[st.pid] {
				continue
			}
			seen[st.pid] = true
			out[i].ticks += st.cpuTicks
			for _, k := range kids[st.pid] {
				queue = append(queue, k.pid)
			}
		}
	}
	return out
}

// cpuPerReq pairs two samples of the same stack and divides each process's
// CPU by the requests of the run; nil when nothing was answered or the
// stack changed between the samples.
func cpuPerReq(before, after []labeledTicks, requests int64) []partCPU {
	if requests <= 0 || len(before) != len(after) {
		return nil
	}
	out := make([]partCPU, len(before))
	for i, b := range before {
		if after[i].label != b.label {
			return nil
		}
		us := (after[i].ticks - b.ticks) * (1e6 / clockTicks)
		out[i] = partCPU{Label: b.label, CPUusPerReq: float64(us) / float64(requests)}
	}
	return out
}
