"""Format http: the parser against every golden request the gateway sends
(session/testdata/*.request), the reply writer checked strictly by the
gateway's rules (and the golden replies accepted by that check)."""

import glob
import os
import unittest

from helpers import SESSION_TESTDATA

from nanogate.http import (BadRequest, build_head, build_reply, check_status,
                           parse_request, parse_response)

FORWARDED = ["X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id", "X-Nanogate-Session"]
SID = "0123456789abcdeffedcba9876543210"

# What each golden request must parse to: method, target, version, header
# names in order, selected values, body.
GOLDEN = {
    "get.request": ("GET", "/api/hello?x=1&y=%20", "HTTP/1.1",
                    ["Host", "User-Agent", "Accept"] + FORWARDED,
                    {"Host": "example.com", "X-Forwarded-For": "127.0.0.1",
                     "X-Request-Id": "5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910", "X-Nanogate-Session": SID}, b""),
    "mod_nano.request": ("GET", "/index.html", "HTTP/1.0", ["Host", "X-Forwarded-For"],
                         {"X-Forwarded-For": "192.0.2.1"}, b""),
    "post-binary.request": ("POST", "/upload", "HTTP/1.1",
                            ["Host", "Content-Type", "Content-Length"] + FORWARDED,
                            {"Content-Length": "7", "X-Forwarded-For": "::1", "X-Request-Id": "r-1"},
                            b"a\x00b\r\n\x00\xff"),
    "post-dechunked.request": ("POST", "/chunked", "HTTP/1.1",
                               ["Host", "X-Trace", "Content-Length"] + FORWARDED,
                               {"Content-Length": "11", "X-Request-Id": "r-2"}, b"hello world"),
    "post-empty.request": ("POST", "/empty", "HTTP/1.1", ["Host", "Content-Length"] + FORWARDED,
                           {"Content-Length": "0", "X-Request-Id": "r-3"}, b""),
    "spoofed-headers.request": ("GET", "/", "HTTP/1.1", ["Host", "Cookie", "Cookie"] + FORWARDED,
                                {"X-Forwarded-For": "192.0.2.1, 192.0.2.2, 127.0.0.1",
                                 "X-Request-Id": "r-4"}, b""),
}


def read(name):
    with open(os.path.join(SESSION_TESTDATA, name), "rb") as f:
        return f.read()


class TestParseRequest(unittest.TestCase):
    def test_every_golden_request_is_known(self):
        files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SESSION_TESTDATA, "*.request")))
        self.assertTrue(files)
        self.assertEqual(files, sorted(GOLDEN), "a golden request without expectations here")

    def test_golden_requests(self):
        for name, (method, target, version, names, values, body) in GOLDEN.items():
            with self.subTest(name):
                msg = read(name)
                # As the REP server hands it over: behind a 4-byte backtrace.
                req = parse_request(b"\x80\x00\x00\x01" + msg, 4)
                self.assertEqual((req.method, req.target, req.version), (method, target, version))
                self.assertEqual([n for n, _ in req.headers], names)
                for k, v in values.items():
                    self.assertEqual(req.header(k), v, k)
                self.assertEqual(req.body, body)

    def test_repeated_headers_kept_in_order(self):
        req = parse_request(read("spoofed-headers.request"))
        self.assertEqual([v for n, v in req.headers if n == "Cookie"], ["a=1", "b=2"])
        self.assertEqual(req.session_id, SID)
        self.assertEqual(req.request_id, "r-4")

    def test_refused(self):
        for name, msg in {
            "no end of head": b"GET / HTTP/1.1\r\nHost: h\r\n",
            "short body": b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc",
            "long body": b"POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nabc",
            "body without length": b"POST / HTTP/1.1\r\n\r\nabc",
            "two lengths": b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\na",
            "bad length": b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "request line": b"GET /\r\n\r\n",
            "version": b"GET / FTP/1.0\r\n\r\n",
            "header name": b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "no colon": b"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        }.items():
            with self.subTest(name):
                with self.assertRaises(BadRequest):
                    parse_request(msg)


class TestReply(unittest.TestCase):
    def test_golden_replies_pass_the_strict_check(self):
        created = parse_response(read("created.response"))
        self.assertEqual(created.status, 201)
        self.assertEqual([v for n, v in created.headers if n == "Set-Cookie"], ["a=1; Path=/", "b=2; Path=/"])
        self.assertEqual(created.body, b"made\n")
        mod = parse_response(read("mod_nano.response"))
        self.assertEqual((mod.status, mod.body), (200, b"hello world\n"))

    def test_writer_output_passes_the_strict_check(self):
        body = bytes(range(256)) * 3
        msg = build_reply("201 Created", [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/"),
                                          ("X-Empty", "")], body)
        r = parse_response(msg)
        self.assertEqual((r.status, r.reason), (201, "Created"))
        self.assertEqual(r.headers, [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; Path=/"),
                                     ("X-Empty", ""), ("Content-Length", str(len(body)))])
        self.assertEqual(r.body, body)
        self.assertEqual(msg, read_expected_created(body))
        head = build_head("204 No Content", [("X-Status", "204")])
        self.assertEqual(head, b"HTTP/1.1 204 No Content\r\nX-Status: 204\r\n\r\n")
        self.assertEqual(parse_response(head).status, 204)

    def test_writer_refuses_what_the_gateway_would(self):
        for headers in ([("Bad Name", "x")], [("X", "a\r\nInjected: 1")], [("X", "nul\x00")],
                        [("X", "\u20ac")], [(b"X", "1")]):
            with self.subTest(headers):
                with self.assertRaises(ValueError):
                    build_head("200 OK", headers)
        for status in ("200", "200 OK"):
            self.assertEqual(check_status(status), 200)
        for status in ("OK", "20 OK", "2000", "200\r\nX: 1", "101 Switching Protocols", 200):
            with self.subTest(status):
                with self.assertRaises(ValueError):
                    check_status(status)

    def test_strict_check_refuses(self):
        for name, msg in {
            "length mismatch": b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab",
            "1xx": b"HTTP/1.1 100 Continue\r\n\r\n",
            "204 with body": b"HTTP/1.1 204 No Content\r\n\r\nx",
            "both framings": b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "bad name": b"HTTP/1.1 200 OK\r\nA B: 1\r\n\r\n",
        }.items():
            with self.subTest(name):
                with self.assertRaises(ValueError):
                    parse_response(msg)
        r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        self.assertEqual(r.body, b"hello")


def read_expected_created(body):
    return (b"HTTP/1.1 201 Created\r\nSet-Cookie: a=1; Path=/\r\nSet-Cookie: b=2; Path=/\r\n"
            b"X-Empty: \r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)


if __name__ == "__main__":
    unittest.main()


class TestHostileInput(unittest.TestCase):
    """Mutated golden requests: the parser answers BadRequest or a
    request, never another exception."""

    def test_mutations(self):
        import random
        rnd = random.Random(7)
        seeds = [read(n) for n in GOLDEN]
        alphabet = b"\r\n: \t\x00\xb2\xff0123456789-aZ%"
        for i in range(3000):
            msg = bytearray(rnd.choice(seeds))
            for _ in range(rnd.randint(1, 4)):
                op = rnd.randrange(3)
                pos = rnd.randrange(len(msg) + 1)
                if op == 0 and msg:
                    del msg[pos % len(msg)]
                elif op == 1:
                    msg[pos:pos] = bytes([rnd.choice(alphabet)])
                elif msg:
                    msg[pos % len(msg)] = rnd.choice(alphabet)
            try:
                parse_request(bytes(msg))
            except BadRequest:
                pass

    def test_unicode_digits_refused(self):
        with self.assertRaises(BadRequest):
            parse_request("POST / HTTP/1.1\r\nContent-Length: \xb2\r\n\r\nab".encode("latin-1"))
