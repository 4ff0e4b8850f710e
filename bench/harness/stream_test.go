package main

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nanogate/nanogate/bench/contenders/payload"
)

// The client against the handlers the contenders run (payload.StreamMux on
// net/http): the download is chunked, whole and right; the upload counted.
func TestDownloadUpload(t *testing.T) {
	srv := httptest.NewServer(payload.StreamMux())
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	n, framing, err := download(context.Background(), addr, true)
	if err != nil || n != payload.StreamSize || framing != "chunked" {
		t.Errorf("download: %d bytes, %s, %v", n, framing, err)
	}
	const size = 3<<20 + 12345 // not a multiple of the client's writes
	n, framing, err = upload(context.Background(), addr, size)
	if err != nil || n != size || framing != "content-length" {
		t.Errorf("upload: %d bytes, %s, %v", n, framing, err)
	}
}

func TestTransferErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "POST" {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, "12") // a wrong count
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(payload.StreamPieceSize))
		w.Write(payload.StreamPiece()) // one piece, with a Content-Length
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	if _, framing, err := download(context.Background(), addr, false); err == nil || framing != "content-length" {
		t.Errorf("short download: %s, %v", framing, err)
	}
	if _, _, err := upload(context.Background(), addr, 1<<20); err == nil || !strings.Contains(err.Error(), `body "12"`) {
		t.Errorf("miscounted upload: %v", err)
	}
	if _, _, err := download(context.Background(), closedAddr(t), false); err == nil {
		t.Error("no error without a server")
	}
}

func TestPieceChecker(t *testing.T) {
	piece := payload.StreamPiece()
	body := slices.Repeat(piece, 3)
	for _, split := range []int{1, 1000, len(piece), len(piece) + 7, len(body)} {
		c := newPieceChecker(piece)
		for b := body; len(b) > 0; b = b[min(split, len(b)):] {
			c.Write(b[:min(split, len(b))])
		}
		if c.bad != -1 || c.off != int64(len(body)) {
			t.Errorf("split %d: bad %d, off %d", split, c.bad, c.off)
		}
	}
	bad := slices.Clone(body)
	bad[len(piece)+100] ^= 1
	c := newPieceChecker(piece)
	c.Write(bad[:len(piece)+50])
	c.Write(bad[len(piece)+50:])
	if c.bad != int64(len(piece)+50) {
		t.Errorf("bad at %d, want the stretch from %d", c.bad, len(piece)+50)
	}
}

// Rates and times are medians of the runs of a kind, the RSS growths their
// largest, failed runs counted apart; a contender without workers has no
// worker growth.
func TestSummarizeStream(t *testing.T) {
	mib := int64(1 << 20)
	peak := func(before, peak int64) rssPeak { return rssPeak{BeforeKiB: before << 10, PeakKiB: peak << 10} }
	cs := []streamContender{
		{Name: "direct", Status: statusOK, Runs: []transferRun{
			{Kind: kindDownload, Bytes: 100 * mib, Seconds: 0.1, MiBps: 1000, Ratio: 1, Framing: "chunked", Front: peak(8, 8), CPUus: 30000},
			{Kind: kindDownload, Bytes: 100 * mib, Seconds: 0.2, MiBps: 500, Ratio: 1, Framing: "chunked", Front: peak(8, 9), CPUus: 50000},
			{Kind: kindDownload, Err: "boom"},
			{Kind: kindUpload, Bytes: 1024 * mib, Seconds: 1, MiBps: 1024, Ratio: 1, Framing: "content-length", Front: peak(8, 8), CPUus: 400000},
		}},
		{Name: "gw", Status: statusOK, Runs: []transferRun{
			{Kind: kindUpload, Bytes: 1024 * mib, Seconds: 4, MiBps: 256, Ratio: 0.25, Front: peak(16, 40), Workers: peak(8, 10)},
			{Kind: kindUpload, Bytes: 1024 * mib, Seconds: 2, MiBps: 512, Ratio: 0.5, Front: peak(16, 20), Workers: peak(8, 20)},
		}},
		{Name: "broken", Status: statusFailed, Reason: "no start"},
	}
	s := summarizeStream(cs)
	if len(s) != 6 || s[0].Kind != kindDownload || s[3].Kind != kindUpload || s[0].Name != "direct" || s[1].Name != "gw" {
		t.Fatalf("rows: %+v", s)
	}
	d := s[0]
	if d.MiBps != 750 || d.Ratio != 1 || math.Abs(float64(d.Seconds)-0.15) > 1e-9 || d.FrontGrowth != 1 || d.WorkerGrowth.ok() ||
		d.OK != 2 || d.Runs != 3 || d.FirstErr != "boom" || d.Framing != "chunked" || d.FrontBefore != 8 ||
		math.Abs(float64(d.CPUmsPerMiB)-0.4) > 1e-9 {
		t.Errorf("direct download: %+v", d)
	}
	if s[1].Runs != 0 || s[1].MiBps.ok() || s[1].FrontGrowth.ok() {
		t.Errorf("gw download, never run: %+v", s[1])
	}
	u := s[4]
	if u.MiBps != 384 || u.Ratio != 0.375 || u.FrontGrowth != 24 || u.WorkerGrowth != 12 || u.OK != 2 {
		t.Errorf("gw upload: %+v", u)
	}
	if s[2].Status != statusFailed || s[5].Reason != "no start" {
		t.Errorf("failed contender: %+v %+v", s[2], s[5])
	}
	md := streamMarkdown(report{Scenario: "stream", Stream: &streamReport{UploadBytes: 1 << 30, Contenders: cs, Summary: s}},
		streamOpts{rounds: 1})
	for _, want := range []string{"× direct", "| gw | upload | – | 384 | 0.38 | 3.00 | 16.0 | 24.0 | 12.0 |",
		"| broken | – | **FAILED**: no start |", "direct download: 1 of 3 runs failed, first: boom", "POST /upload (1 GiB"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// The watch sees memory the process touches during the transfer, not the
// peak it had before.
func TestWatchPeaks(t *testing.T) {
	self := os.Getpid()
	w := watchPeaks([]int{self})
	b := make([]byte, 32<<20)
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	got := w.stop()
	runtime.KeepAlive(b)
	if g := got[0].growthMiB(); g < 28 {
		t.Errorf("peak growth %.1f MiB after touching 32 MiB; %+v", g, got[0])
	}
}
