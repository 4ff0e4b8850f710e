package zclient

import (
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
)

// Why a handler's packet, or a send to a handler, came to nothing: counted
// by reason, and logged one line per interval at most, so that a flood of
// bad packets cannot flood the log.
const (
	dropMalformed   = iota // not "<id> T<tnetstring>", or not a ZHTTP packet
	dropUnknown            // an id no live request has
	dropBadSeq             // out of sequence: the request ends
	dropBadResponse        // a response head that is not HTTP: 502
	dropNoHandler          // no handler took a first packet: 502
	dropUnreachable        // a send to a handler's address failed
	dropSilent             // a request whose handler went silent: ended
	numDrops
)

var dropNames = [numDrops]string{"malformed", "unknown_id", "bad_seq", "bad_response", "no_handler", "unreachable", "silent"}

// dropReportEvery bounds the drop log.
const dropReportEvery = 10 * time.Second

type drops struct {
	log    *slog.Logger
	counts [numDrops]atomic.Uint64
	logged atomic.Int64 // UnixNano of the last report
}

func (d *drops) count(reason int, what, detail string) {
	d.counts[reason].Add(1)
	now := time.Now().UnixNano()
	last := d.logged.Load()
	if now-last < int64(dropReportEvery) || !d.logged.CompareAndSwap(last, now) {
		return
	}
	args := []any{"last_reason", dropNames[reason], "last", what, "detail", detail}
	for i := range d.counts {
		args = append(args, dropNames[i], d.counts[i].Load())
	}
	d.log.Warn("zhttp packets dropped", args...)
}

// Drops reports the counts so far, by reason.
func (d *drops) Drops() map[string]uint64 {
	out := make(map[string]uint64, numDrops)
	for i := range d.counts {
		out[dropNames[i]] = d.counts[i].Load()
	}
	return out
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
