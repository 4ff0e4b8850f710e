/*
 * nanogate_worker: a small C library for nanogate workers (format "http",
 * docs/PROTOCOL.md) over libnanomsg.
 *
 *   static int hello(ng_request *req, ng_response *w, void *ctx) {
 *       ng_add_header(w, "Content-Type", "text/plain; charset=utf-8");
 *       return ng_write_str(w, "hello\n");
 *   }
 *   int main(void) { return ng_serve("ipc:///tmp/api.sock", 1, hello, NULL); }
 *
 *   cc -O2 -pthread -o hello hello.c nanogate_worker.c -lnanomsg
 *
 * Three parts, usable apart:
 *  - ng_parse_request: the gateway's request message, read in place. Every
 *    ng_str a request holds points into the message (no copy) and lives as
 *    long as the message: during the handler call.
 *  - ng_response: status, headers (repeats kept, in order), body; the
 *    library writes Content-Length, and no body for HEAD, 204 and 304.
 *  - ng_serve: a raw (AF_SP_RAW) REP socket and a pool of threads, so that
 *    many requests are in flight at once, each answered with the SP header
 *    it came with; SIGTERM or SIGINT drains (the gateway is told, requests in
 *    flight finish) and ng_serve returns 0.
 *
 * Errors are negative NG_E* codes; ng_strerror names them.
 */
#ifndef NANOGATE_WORKER_H
#define NANOGATE_WORKER_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    NG_OK = 0,
    NG_EMALFORMED = -1,  /* the message is not a request in format http */
    NG_ETOOMANY = -2,    /* more header lines than NG_MAX_HEADERS */
    NG_EINVAL = -3,      /* a header name or value that would break the reply */
    NG_ENOMEM = -4,
    NG_ESOCKET = -5,     /* libnanomsg failed; see nn_errno() */
};

/* NG_MAX_HEADERS bounds the header lines of one request; the gateway's
 * default max_header_bytes (8 KiB) rarely holds more than a few dozen. */
#define NG_MAX_HEADERS 128

/* A view of bytes in the request message; ptr is NULL when absent. */
typedef struct {
    const char *ptr;
    size_t len;
} ng_str;

typedef struct {
    ng_str name;   /* as the client spelled it */
    ng_str value;  /* without surrounding spaces */
} ng_field;

typedef struct {
    ng_str method;   /* "GET" */
    ng_str target;   /* "/env?x=1", as the client sent it */
    ng_str path;     /* "/env" */
    ng_str query;    /* "x=1"; empty (not NULL) when there is none */
    ng_str version;  /* "HTTP/1.1" */
    ng_field headers[NG_MAX_HEADERS]; /* in the message's order, repeats kept */
    size_t nheaders;
    ng_str body;     /* exactly Content-Length bytes; binary */
} ng_request;

/* ng_parse_request reads msg[0..len) into req. It never reads outside that
 * range and returns NG_OK, NG_EMALFORMED or NG_ETOOMANY. */
int ng_parse_request(ng_request *req, const char *msg, size_t len);

/* ng_header returns the value of the first header named name (compared
 * case-insensitively); ptr NULL when there is none. */
ng_str ng_header(const ng_request *req, const char *name);

/* The gateway's headers (docs/PROTOCOL.md): the client's connection
 * (X-Nanogate-Session, 32 hex digits), the request (X-Request-Id), and the
 * client's address: the last entry of X-Forwarded-For, the one the gateway
 * appended. ptr NULL when the route sends no forwarded headers. */
ng_str ng_session_id(const ng_request *req);
ng_str ng_request_id(const ng_request *req);
ng_str ng_remote_addr(const ng_request *req);

/* ng_str_eq reports whether s is exactly the C string lit. */
int ng_str_eq(ng_str s, const char *lit);

/* A reply being written. Zero value: 200, no headers, empty body. */
typedef struct ng_response ng_response;

/* ng_set_status sets the status code (200..999) and reason phrase (NULL:
 * the standard one). */
void ng_set_status(ng_response *w, int code, const char *reason);

/* ng_add_header appends a header line; a repeated name gives repeated
 * lines (Set-Cookie). Content-Length and Transfer-Encoding are the
 * library's (NG_EINVAL), as are names that are not tokens and values with
 * control characters (a CR or LF would let a value forge headers). */
int ng_add_header(ng_response *w, const char *name, const char *value);
/* ng_add_header_str is ng_add_header with the value as a view (a request's
 * header, say). */
int ng_add_header_str(ng_response *w, const char *name, ng_str value);

/* ng_write appends body bytes (copied). */
int ng_write(ng_response *w, const void *p, size_t n);
int ng_write_str(ng_response *w, const char *s);
int ng_printf(ng_response *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ng_set_body makes p[0..n) the whole body without copying it, replacing
 * what was written; p must stay valid until the handler's reply is sent
 * (the request's own bytes, static data). */
void ng_set_body(ng_response *w, const void *p, size_t n);

/* A handler answers one request. It returns 0, or anything else for an
 * error: then what it wrote is dropped, the client gets 500 and the log a
 * line with the request id. It runs on one of the pool's threads, with
 * other handlers at the same time. */
typedef int (*ng_handler)(ng_request *req, ng_response *w, void *ctx);

typedef struct {
    int threads;            /* requests served at once. Zero: $NANOGATE_THREADS, else 64 */
    size_t max_recv;        /* largest request accepted. Zero: 64 MiB (libnanomsg's 1 MiB drops more, silently) */
    int drain_ms;           /* SIGTERM: how long requests in flight get; then ng_serve returns, and
                               handlers still running finish unanswered. Zero: 30000 */
    void (*on_ready)(void *ctx); /* called once the socket is bound or connecting; may be NULL */
} ng_options;

/* ng_serve binds url (bind != 0: the gateway dials, mode "dial") or
 * connects to it (mode "listen") and serves until SIGTERM or SIGINT; then
 * it drains and returns 0. It returns a negative NG_E* code, with a line on
 * stderr, when the socket cannot be set up. Call it from the main thread
 * before starting other threads: it blocks SIGTERM and SIGINT and waits for
 * them itself. */
int ng_serve(const char *url, int bind, ng_handler fn, void *ctx);
int ng_serve_opts(const char *url, int bind, ng_handler fn, void *ctx, const ng_options *opt);

/* ng_handle parses msg, runs fn and builds the reply into head/body (as
 * ng_serve does for each message); exposed for tests and for other
 * transports. *head is NUL-free HTTP, *body is the body to send after it;
 * both stay valid until the next call with the same w. */
int ng_handle(ng_response *w, const char *msg, size_t len, ng_handler fn, void *ctx,
              const char **head, size_t *headlen, const char **body, size_t *bodylen);

ng_response *ng_response_new(void);
void ng_response_free(ng_response *w);

const char *ng_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
