package session

import (
	"strings"
	"testing"
)

func TestFieldOf(t *testing.T) {
	names := map[string]Field{
		"Content-Length": FieldContentLength, "transfer-encoding": FieldTransferEncoding,
		"X-Forwarded-For": FieldForwardedFor, "X-FORWARDED-PROTO": FieldForwardedProto,
		"X-Request-Id": FieldRequestID, "x-nanogate-session": FieldSession, "X-Nanogate-Inbound": FieldInbound, "Host": FieldHost,
		"Server": FieldServer, "Date": FieldDate, "Connection": FieldConnection,
		"Keep-Alive": FieldKeepAlive, "Proxy-Connection": FieldProxyConnection, "TE": FieldTE,
		"Trailer": FieldTrailer, "Upgrade": FieldUpgrade,
		"Content-Type": FieldOther, "Hos": FieldOther, "Hosx": FieldOther, "Content_Length": FieldOther,
		"X-Forwarded-Fox": FieldOther, "Te": FieldTE, "T\x05": FieldOther, "Dat\x05": FieldOther,
		"": FieldOther, "Content-Lengt\x8d": FieldOther,
	}
	for name, want := range names {
		if got := FieldOf([]byte(name)); got != want {
			t.Errorf("FieldOf(%q) = %d, want %d", name, got, want)
		}
	}
	// '-' | 0x20 is '-', but other bytes must not fold onto a letter.
	if FieldOf([]byte("Content\rLength")) != FieldOther || FieldOf([]byte("Content\x0dLength")) != FieldOther {
		t.Error("a control byte matched '-'")
	}
	for _, f := range []Field{FieldConnection, FieldKeepAlive, FieldProxyConnection, FieldTE, FieldTrailer, FieldUpgrade, FieldTransferEncoding} {
		if !f.HopByHop() {
			t.Errorf("%d is hop-by-hop", f)
		}
	}
	for _, f := range []Field{FieldOther, FieldContentLength, FieldServer, FieldDate, FieldHost} {
		if f.HopByHop() {
			t.Errorf("%d is not hop-by-hop", f)
		}
	}
}

func FuzzFieldOf(f *testing.F) {
	f.Add("Content-Length")
	f.Add("x-forwarded-for")
	f.Fuzz(func(t *testing.T, name string) {
		got := FieldOf([]byte(name))
		lower := strings.ToLower(name)
		for want, field := range map[string]Field{"content-length": FieldContentLength, "transfer-encoding": FieldTransferEncoding,
			"x-forwarded-for": FieldForwardedFor, "connection": FieldConnection, "te": FieldTE} {
			if (lower == want) != (got == field) && strings.EqualFold(name, want) {
				t.Fatalf("FieldOf(%q) = %d", name, got)
			}
		}
		if got != FieldOther && !ValidName([]byte(name)) {
			t.Fatalf("FieldOf(%q) classified an invalid name", name)
		}
	})
}
