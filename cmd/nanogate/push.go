package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/nanogate/nanogate/config"
	"github.com/nanogate/nanogate/internal/sp"
	"github.com/nanogate/nanogate/protocol/frames"
)

const pushUsage = `nanogate push: send one frame to a client's session, from any process

Usage:
  nanogate push --session ID (--text MSG | --binary FILE | --close [--code N --reason R] | --chunk DATA | --end)

--text, --binary and --close speak to a WebSocket; --chunk adds to a
streamed response and --end completes it.

The frame goes to the gateway's [sessions] inbound address: --inbound, or
the one in --config, or ipc:///tmp/nanogate-inbound.sock. ID is the
X-Nanogate-Session value (32 hex digits). A frame for a session the gateway
does not hold is dropped and counted in its log (the inbound socket is a
pipeline: nothing answers).

Flags:
`

// defaultInbound is the inbound address of the shipped nanogate.toml.
const defaultInbound = "ipc:///tmp/nanogate-inbound.sock"

func push(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nanogate push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, pushUsage); fs.PrintDefaults() }
	var (
		inbound    = fs.String("inbound", "", "the gateway's inbound `URL` (default: from --config, else "+defaultInbound+")")
		configPath = fs.String("config", "", "read [sessions] inbound from this `file`")
		sid        = fs.String("session", "", "session `id`, 32 hex digits (X-Nanogate-Session)")
		stream     = fs.Uint("stream", 0, "stream `number` within the session; 0: the current one")
		text       = fs.String("text", "", "send a WebSocket text `message`")
		binary     = fs.String("binary", "", "send the contents of `file` (- for stdin) as a WebSocket binary message")
		chunk      = fs.String("chunk", "", "send a piece of a streamed response (`data`)")
		closeWS    = fs.Bool("close", false, "close the WebSocket with --code and --reason")
		end        = fs.Bool("end", false, "complete a streamed response")
		code       = fs.Int("code", 1000, "WebSocket close `code` with --close")
		reason     = fs.String("reason", "", "WebSocket close `reason` with --close")
		timeout    = fs.Duration("timeout", 5*time.Second, "how long to wait for the connection to the gateway")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "nanogate push: "+format+"\n", a...)
		return exitConfig
	}
	var id [16]byte
	if n, err := hex.Decode(id[:], []byte(*sid)); err != nil || n != 16 || len(*sid) != 32 {
		return fail("--session %q is not 32 hex digits", *sid)
	}
	t, body, err := pushFrame(*text, *binary, *chunk, *closeWS, *end, *code, *reason)
	if err != nil {
		return fail("%v", err)
	}
	url := *inbound
	if url == "" && *configPath != "" {
		cfg, err := config.Load(*configPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return exitConfig
		}
		url = cfg.Sessions.Inbound
		if url == "" {
			return fail("%s has no [sessions] inbound", *configPath)
		}
	}
	if url == "" {
		url = defaultInbound
	}
	if err := sendFrame(url, frames.Append(nil, id, t, uint32(*stream), body), *timeout); err != nil {
		fmt.Fprintf(stderr, "nanogate push: %s: %v\n", url, err)
		return exitFail
	}
	fmt.Fprintf(stdout, "sent %s (%d bytes) to session %s via %s\n", t, len(body), *sid, url)
	return exitOK
}

// pushFrame picks the frame type and body from the flags; exactly one kind
// of frame must be asked for.
func pushFrame(text, binary, chunk string, closeWS, end bool, code int, reason string) (frames.Type, []byte, error) {
	var t frames.Type
	var body []byte
	kinds := 0
	if text != "" {
		t, body, kinds = frames.WSText, []byte(text), kinds+1
	}
	if binary != "" {
		var err error
		if binary == "-" {
			body, err = io.ReadAll(io.LimitReader(os.Stdin, 64<<20))
		} else {
			body, err = os.ReadFile(binary)
		}
		if err != nil {
			return 0, nil, err
		}
		t, kinds = frames.WSBinary, kinds+1
	}
	if chunk != "" {
		t, body, kinds = frames.Chunk, []byte(chunk), kinds+1
	}
	if closeWS {
		if code < 1000 || code > 4999 {
			return 0, nil, fmt.Errorf("--code %d is not a WebSocket close code (1000-4999)", code)
		}
		t, body, kinds = frames.WSClose, frames.AppendClose(nil, code, reason), kinds+1
	}
	if end {
		t, body, kinds = frames.End, nil, kinds+1
	}
	if kinds != 1 {
		return 0, nil, errors.New("give exactly one of --text, --binary, --close, --chunk, --end")
	}
	return t, body, nil
}

// sendFrame connects to url, waiting up to timeout for the gateway, and
// writes msg before it returns.
func sendFrame(url string, msg []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s, err := sp.DialSender(ctx, url)
	if err != nil {
		return fmt.Errorf("no gateway listening within %s: %w", timeout, err)
	}
	defer s.Close()
	return s.Send(msg, time.Now().Add(timeout))
}
