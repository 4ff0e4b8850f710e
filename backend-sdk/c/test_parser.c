/*
 * test_parser: unit test of nanogate_worker's parser and writer.
 *
 *   test_parser DIR     parse the golden vectors in DIR (the .request
 *                       files of session/testdata) and check every field; write
 *                       replies and compare them with its .response files and
 *                       with the bytes they must be. Exit 0 when all pass.
 *   test_parser --fuzz  a driver for backend-sdk/c/workertest: reads
 *                       messages from stdin (4-byte little-endian length,
 *                       then the bytes), parses each from a buffer of
 *                       exactly its size (so a sanitizer sees any read past
 *                       it), checks that every view lies inside it, runs a
 *                       handler that echoes headers, status and body, and
 *                       writes for each: int32 parse result, int32 HEAD flag,
 *                       uint32 reply length, the reply.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nanogate_worker.h"

static int failures;

#define CHECK(cond, ...)                                                  \
    do {                                                                  \
        if (!(cond)) {                                                    \
            failures++;                                                   \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                 \
            fputc('\n', stderr);                                          \
        }                                                                 \
    } while (0)

static char *read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "open %s failed\n", path);
        exit(2);
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            if (buf == NULL)
                exit(2);
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        if (r == 0)
            break;
        n += r;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int eq(ng_str s, const char *want) { return ng_str_eq(s, want); }

/* expect_headers checks the header lines, in order: "Name: value" each. */
static void expect_headers(const char *file, const ng_request *r, const char **want, size_t n)
{
    CHECK(r->nheaders == n, "%s: %zu headers, want %zu", file, r->nheaders, n);
    for (size_t i = 0; i < n && i < r->nheaders; i++) {
        char line[512];
        snprintf(line, sizeof line, "%.*s: %.*s", (int)r->headers[i].name.len, r->headers[i].name.ptr,
                 (int)r->headers[i].value.len, r->headers[i].value.ptr);
        CHECK(strcmp(line, want[i]) == 0, "%s: header %zu is %s, want %s", file, i, line, want[i]);
    }
}

static const char session_hex[] = "0123456789abcdeffedcba9876543210";

static void test_vectors(const char *dir)
{
    ng_request r;
    size_t n;
    char *m;

    m = read_file(dir, "get.request", &n);
    CHECK(ng_parse_request(&r, m, n) == NG_OK, "get.request refused");
    CHECK(eq(r.method, "GET") && eq(r.target, "/api/hello?x=1&y=%20") && eq(r.version, "HTTP/1.1"),
          "get.request: request line");
    CHECK(eq(r.path, "/api/hello") && eq(r.query, "x=1&y=%20"), "get.request: path, query");
    const char *get_h[] = {"Host: example.com", "User-Agent: curl/8.0", "Accept: */*",
                           "X-Forwarded-For: 127.0.0.1", "X-Forwarded-Proto: http",
                           "X-Request-Id: 5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910",
                           "X-Nanogate-Session: 0123456789abcdeffedcba9876543210"};
    expect_headers("get.request", &r, get_h, 7);
    CHECK(eq(ng_header(&r, "user-agent"), "curl/8.0"), "get.request: ng_header is case-sensitive");
    CHECK(ng_header(&r, "Cookie").ptr == NULL, "get.request: a missing header found");
    CHECK(eq(ng_session_id(&r), session_hex), "get.request: session id");
    CHECK(eq(ng_request_id(&r), "5f0c6a1e9b2d4c8f8a7e6d5c4b3a2910"), "get.request: request id");
    CHECK(eq(ng_remote_addr(&r), "127.0.0.1"), "get.request: remote addr");
    CHECK(r.body.len == 0, "get.request: body of %zu bytes", r.body.len);
    free(m);

    m = read_file(dir, "mod_nano.request", &n);
    CHECK(ng_parse_request(&r, m, n) == NG_OK, "mod_nano.request refused");
    CHECK(eq(r.method, "GET") && eq(r.path, "/index.html") && eq(r.version, "HTTP/1.0") &&
              r.query.len == 0 && r.query.ptr != NULL,
          "mod_nano.request: request line");
    CHECK(ng_session_id(&r).ptr == NULL && eq(ng_remote_addr(&r), "192.0.2.1"), "mod_nano.request: forwarded");
    free(m);

    m = read_file(dir, "post-binary.request", &n);
    CHECK(ng_parse_request(&r, m, n) == NG_OK, "post-binary.request refused");
    CHECK(eq(r.method, "POST") && eq(r.target, "/upload"), "post-binary.request: request line");
    CHECK(r.body.len == 7 && memcmp(r.body.ptr, "a\0b\r\n\0\xff", 7) == 0, "post-binary.request: body");
    CHECK(eq(ng_remote_addr(&r), "::1") && eq(ng_request_id(&r), "r-1"), "post-binary.request: forwarded");
    CHECK(eq(ng_header(&r, "content-type"), "application/octet-stream"), "post-binary.request: type");
    free(m);

    m = read_file(dir, "post-dechunked.request", &n);
    CHECK(ng_parse_request(&r, m, n) == NG_OK, "post-dechunked.request refused");
    const char *dechunked_h[] = {"Host: h", "X-Trace: 1", "Content-Length: 11", "X-Forwarded-For: 10.0.0.7",
                                 "X-Forwarded-Proto: http", "X-Request-Id: r-2",
                                 "X-Nanogate-Session: 0123456789abcdeffedcba9876543210"};
    expect_headers("post-dechunked.request", &r, dechunked_h, 7);
    CHECK(eq(r.body, "hello world"), "post-dechunked.request: body");
    free(m);

    m = read_file(dir, "post-empty.request", &n);
    CHECK(ng_parse_request(&r, m, n) == NG_OK, "post-empty.request refused");
    CHECK(eq(r.method, "POST") && r.body.len == 0 && eq(ng_header(&r, "Content-Length"), "0"),
          "post-empty.request: empty body");
    free(m);

    m = read_file(dir, "spoofed-headers.request", &n);
    CHECK(ng_parse_request(&r, m, n) == NG_OK, "spoofed-headers.request refused");
    const char *spoofed_h[] = {"Host: h", "Cookie: a=1", "Cookie: b=2",
                               "X-Forwarded-For: 192.0.2.1, 192.0.2.2, 127.0.0.1", "X-Forwarded-Proto: http",
                               "X-Request-Id: r-4", "X-Nanogate-Session: 0123456789abcdeffedcba9876543210"};
    expect_headers("spoofed-headers.request", &r, spoofed_h, 7);
    CHECK(eq(ng_header(&r, "Cookie"), "a=1"), "spoofed-headers.request: first Cookie");
    CHECK(eq(ng_remote_addr(&r), "127.0.0.1"), "spoofed-headers.request: remote addr is the last entry");
    free(m);
}

/* Malformed messages: each must be refused. */
static void test_malformed(void)
{
    static const char *bad[] = {
        "",
        "GET / HTTP/1.1",                                         /* no line end */
        "GET / HTTP/1.1\r\nHost: h\r\n",                          /* no empty line */
        "GET /  HTTP/1.1\r\n\r\n",                                /* two spaces */
        "GET / HTTP/11\r\n\r\n",
        " GET / HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",                     /* space before colon */
        "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\nbody without length",
        "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabc",        /* short */
        "POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\nabc",        /* long */
        "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\na",
        "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ng_request r;
        size_t n = strlen(bad[i]);
        char *m = malloc(n ? n : 1);
        memcpy(m, bad[i], n);
        CHECK(ng_parse_request(&r, m, n) == NG_EMALFORMED, "accepted malformed #%zu %s", i, bad[i]);
        free(m);
    }
    /* Equal repeated lengths are one length. */
    const char *twice = "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na";
    ng_request r;
    CHECK(ng_parse_request(&r, twice, strlen(twice)) == NG_OK, "equal Content-Length twice refused");
    /* Bare LF line ends are read too. */
    const char *lf = "GET /x HTTP/1.1\nHost: h\n\n";
    CHECK(ng_parse_request(&r, lf, strlen(lf)) == NG_OK && eq(ng_header(&r, "host"), "h"), "bare LF refused");
    /* Too many headers. */
    char big[NG_MAX_HEADERS * 8 + 64];
    size_t n = (size_t)snprintf(big, sizeof big, "GET / HTTP/1.1\r\n");
    for (int i = 0; i <= NG_MAX_HEADERS; i++)
        n += (size_t)snprintf(big + n, sizeof big - n, "A: 1\r\n");
    n += (size_t)snprintf(big + n, sizeof big - n, "\r\n");
    CHECK(ng_parse_request(&r, big, n) == NG_ETOOMANY, "%d headers accepted", NG_MAX_HEADERS + 1);
}

/* reply runs fn on msg and returns the reply as one string (static). */
static const char *reply(const char *msg, ng_handler fn, void *ctx)
{
    static char out[4096];
    static ng_response *w;
    if (w == NULL)
        w = ng_response_new();
    const char *head, *body;
    size_t hn, bn;
    if (ng_handle(w, msg, strlen(msg), fn, ctx, &head, &hn, &body, &bn) != NG_OK)
        return "(ng_handle failed)";
    snprintf(out, sizeof out, "%.*s%.*s", (int)hn, head, (int)bn, body ? body : "");
    return out;
}

static int created(ng_request *req, ng_response *w, void *ctx)
{
    (void)req, (void)ctx;
    ng_set_status(w, 201, NULL);
    ng_add_header(w, "Content-Type", "text/plain");
    ng_add_header(w, "Set-Cookie", "a=1; Path=/");
    ng_add_header(w, "Set-Cookie", "b=2; Path=/");
    return ng_write_str(w, "made\n");
}

static int hello(ng_request *req, ng_response *w, void *ctx)
{
    (void)req, (void)ctx;
    ng_add_header(w, "Content-Type", "text/plain; charset=utf-8");
    return ng_printf(w, "%s\n", "hello");
}

static int no_content(ng_request *req, ng_response *w, void *ctx)
{
    (void)req, (void)ctx;
    ng_set_status(w, 204, NULL);
    ng_add_header(w, "X-Status", "204");
    return ng_write_str(w, "dropped");
}

static int failing(ng_request *req, ng_response *w, void *ctx)
{
    (void)req, (void)ctx;
    ng_write_str(w, "half a reply");
    return 7;
}

static int injecting(ng_request *req, ng_response *w, void *ctx)
{
    (void)req;
    int *rcs = ctx;
    rcs[0] = ng_add_header(w, "X-A", "1\r\nSet-Cookie: evil=1");
    rcs[1] = ng_add_header(w, "Content-Length", "3");
    rcs[2] = ng_add_header(w, "Bad Name", "1");
    rcs[3] = ng_add_header(w, "X-Tab", "a\tb");
    ng_set_status(w, 299, "Fine By Me");
    ng_set_body(w, "ref", 3);
    return ng_write_str(w, "+more");
}

static int teapot(ng_request *req, ng_response *w, void *ctx)
{
    (void)req, (void)ctx;
    ng_set_status(w, 418, NULL);
    return 0;
}

static void test_writer(const char *dir)
{
    const char *get = "GET /hello HTTP/1.1\r\nX-Request-Id: r-9\r\n\r\n";
    const char *head = "HEAD /hello HTTP/1.1\r\n\r\n";
    size_t n;
    char *want = read_file(dir, "created.response", &n);
    const char *got = reply(get, created, NULL);
    CHECK(strlen(got) == n && memcmp(got, want, n) == 0, "created reply:\n%s\nwant:\n%.*s", got, (int)n, want);
    free(want);

    got = reply(get, hello, NULL);
    CHECK(strcmp(got, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\nhello\n") == 0,
          "hello reply: %s", got);
    got = reply(head, hello, NULL);
    CHECK(strcmp(got, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\r\n") == 0,
          "HEAD reply: %s", got);
    got = reply(get, no_content, NULL);
    CHECK(strcmp(got, "HTTP/1.1 204 No Content\r\nX-Status: 204\r\n\r\n") == 0, "204 reply: %s", got);
    got = reply(get, teapot, NULL);
    CHECK(strcmp(got, "HTTP/1.1 418 \r\nContent-Length: 0\r\n\r\n") == 0, "418 reply: %s", got);
    got = reply(get, failing, NULL);
    CHECK(strcmp(got, "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain; charset=utf-8\r\n"
                      "Content-Length: 40\r\n\r\n500 Internal Server Error (request r-9)\n") == 0,
          "failing handler's reply: %s", got);
    got = reply("not a request", hello, NULL);
    CHECK(strncmp(got, "HTTP/1.1 400 Bad Request\r\n", 26) == 0, "reply to garbage: %s", got);

    int rcs[4];
    got = reply(get, injecting, rcs);
    CHECK(rcs[0] == NG_EINVAL && rcs[1] == NG_EINVAL && rcs[2] == NG_EINVAL && rcs[3] == NG_OK,
          "header checks: %d %d %d %d", rcs[0], rcs[1], rcs[2], rcs[3]);
    CHECK(strcmp(got, "HTTP/1.1 299 Fine By Me\r\nX-Tab: a\tb\r\nContent-Length: 8\r\n\r\nref+more") == 0,
          "reply after refused headers: %s", got);
}

/* ---- fuzz driver ---- */

static int inside(ng_str s, const char *m, size_t n)
{
    return s.ptr == NULL ? s.len == 0 : (s.ptr >= m && s.len <= n && s.ptr - m <= (ptrdiff_t)(n - s.len));
}

/* echo_all answers with the request's headers, body and a status taken
 * from X-Status, so that what the parser read flows into the writer. */
static int echo_all(ng_request *req, ng_response *w, void *ctx)
{
    (void)ctx;
    for (size_t i = 0; i < req->nheaders; i++) {
        char name[64];
        ng_str nm = req->headers[i].name;
        snprintf(name, sizeof name, "%.*s", (int)nm.len, nm.ptr);
        ng_add_header_str(w, name, req->headers[i].value);
    }
    ng_str st = ng_header(req, "X-Status");
    if (st.ptr != NULL) {
        int code = 0;
        for (size_t i = 0; i < st.len && i < 4; i++)
            code = code * 10 + (st.ptr[i] - '0');
        if (code == 400 || code == 431)
            code = 599; /* the library's own refusals; the test tells them apart */
        ng_set_status(w, code, st.len > 4 ? "Custom Reason" : NULL);
    }
    if (ng_str_eq(req->method, "FAIL"))
        return 1;
    ng_set_body(w, req->body.ptr, req->body.len);
    return 0;
}

static int fuzz(void)
{
    ng_response *w = ng_response_new();
    unsigned char lenb[4];
    while (fread(lenb, 1, 4, stdin) == 4) {
        uint32_t n = (uint32_t)lenb[0] | (uint32_t)lenb[1] << 8 | (uint32_t)lenb[2] << 16 | (uint32_t)lenb[3] << 24;
        char *m = malloc(n ? n : 1);
        if (m == NULL || fread(m, 1, n, stdin) != n)
            return 2;
        ng_request r;
        int32_t rc = ng_parse_request(&r, m, n);
        if (rc == NG_OK) {
            int ok = inside(r.method, m, n) && inside(r.target, m, n) && inside(r.path, m, n) &&
                     inside(r.query, m, n) && inside(r.version, m, n) && inside(r.body, m, n) &&
                     r.nheaders <= NG_MAX_HEADERS;
            for (size_t i = 0; i < r.nheaders; i++)
                ok = ok && inside(r.headers[i].name, m, n) && inside(r.headers[i].value, m, n);
            ok = ok && inside(ng_remote_addr(&r), m, n);
            if (!ok) {
                fprintf(stderr, "a view points outside the message\n");
                abort();
            }
        }
        int32_t head_only = rc == NG_OK && ng_str_eq(r.method, "HEAD");
        const char *head, *body;
        size_t hn, bn;
        if (ng_handle(w, m, n, echo_all, NULL, &head, &hn, &body, &bn) != NG_OK) {
            fprintf(stderr, "ng_handle failed\n");
            abort();
        }
        uint32_t total = (uint32_t)(hn + bn);
        fwrite(&rc, 4, 1, stdout);
        fwrite(&head_only, 4, 1, stdout);
        fwrite(&total, 4, 1, stdout); /* little-endian hosts only, as the test */
        fwrite(head, 1, hn, stdout);
        if (bn)
            fwrite(body, 1, bn, stdout);
        fflush(stdout); /* the fuzz test waits for each answer */
        free(m);
    }
    ng_response_free(w);
    return fflush(stdout) == 0 ? 0 : 2;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--fuzz") == 0)
        return fuzz();
    if (argc != 2) {
        fprintf(stderr, "usage: %s TESTDATA_DIR | --fuzz\n", argv[0]);
        return 2;
    }
    test_vectors(argv[1]);
    test_malformed();
    test_writer(argv[1]);
    if (failures) {
        fprintf(stderr, "test_parser: %d failures\n", failures);
        return 1;
    }
    printf("test_parser: ok\n");
    return 0;
}
