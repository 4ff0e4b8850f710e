package worker

import (
	"net/http"
	"testing"
)

// TestResponseFieldNamesFold: the framing names are found whatever their
// case, and a name that only Unicode folds to one (long s, Kelvin sign) is
// not a token, hence dropped.
func TestResponseFieldNamesFold(t *testing.T) {
	got := serveString(t, "HEAD", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["CONTENT-TYPE"] = []string{"a/b"}
		h["content-length"] = []string{"42"}
		h["Tran\u017ffer-Encoding"] = []string{"chunked"}
		h["\u212aeep"] = []string{"x"}
		h["x-Ok"] = []string{"1"}
	})
	want := "HTTP/1.1 200 OK\r\nCONTENT-TYPE: a/b\r\nx-Ok: 1\r\nContent-Length: 42\r\n\r\n"
	if got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	got = serveString(t, "GET", func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["content-ENCODING"] = []string{"gzip"}
		w.Write([]byte("<html>"))
	})
	if want := "HTTP/1.1 200 OK\r\ncontent-ENCODING: gzip\r\nContent-Length: 6\r\n\r\n<html>"; got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}
