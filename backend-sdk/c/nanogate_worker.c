/*
 * nanogate_worker: request parser, reply writer and serve loop for nanogate
 * workers in C (nanogate_worker.h). docs/PROTOCOL.md is the contract.
 */
#define _GNU_SOURCE

#include "nanogate_worker.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

/* ---- request parser ------------------------------------------------- */

/* tchar, RFC 9110 section 5.6.2. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int is_token(const char *p, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar((unsigned char)p[i]))
            return 0;
    return 1;
}

/* A field value may hold HTAB, visible ASCII, SP and obs-text, never
 * another control character. */
static int is_value(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return 0;
    }
    return 1;
}

static int eq_fold(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    return an == bn && strncasecmp(a, b, an) == 0;
}

/* next_line finds the line at p (before end): its end, without CR LF or
 * LF, and the start of the next line. It returns 0 when there is no LF. */
static int next_line(const char *p, const char *end, const char **eol, const char **next)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (lf == NULL)
        return 0;
    *next = lf + 1;
    *eol = (lf > p && lf[-1] == '\r') ? lf - 1 : lf;
    return 1;
}

static int parse_request_line(ng_request *r, const char *p, const char *eol)
{
    const char *sp1 = memchr(p, ' ', (size_t)(eol - p));
    if (sp1 == NULL || !is_token(p, (size_t)(sp1 - p)))
        return NG_EMALFORMED;
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', (size_t)(eol - t));
    if (sp2 == NULL || sp2 == t)
        return NG_EMALFORMED;
    for (const char *c = t; c < sp2; c++)
        if ((unsigned char)*c <= 0x20 || *c == 0x7f)
            return NG_EMALFORMED;
    const char *v = sp2 + 1;
    size_t vn = (size_t)(eol - v);
    if (vn != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
        v[7] < '0' || v[7] > '9')
        return NG_EMALFORMED;
    r->method = (ng_str){p, (size_t)(sp1 - p)};
    r->target = (ng_str){t, (size_t)(sp2 - t)};
    r->version = (ng_str){v, vn};
    const char *q = memchr(t, '?', (size_t)(sp2 - t));
    if (q == NULL) {
        r->path = r->target;
        r->query = (ng_str){sp2, 0};
    } else {
        r->path = (ng_str){t, (size_t)(q - t)};
        r->query = (ng_str){q + 1, (size_t)(sp2 - q - 1)};
    }
    return NG_OK;
}

/* parse_length reads a Content-Length value: 1 to 18 digits. */
static int parse_length(ng_str v, size_t *out)
{
    if (v.len == 0 || v.len > 18)
        return NG_EMALFORMED;
    size_t n = 0;
    for (size_t i = 0; i < v.len; i++) {
        if (v.ptr[i] < '0' || v.ptr[i] > '9')
            return NG_EMALFORMED;
        n = n * 10 + (size_t)(v.ptr[i] - '0');
    }
    *out = n;
    return NG_OK;
}

int ng_parse_request(ng_request *r, const char *msg, size_t len)
{
    memset(r, 0, sizeof *r);
    if (msg == NULL)
        return NG_EMALFORMED;
    const char *p = msg, *end = msg + len, *eol, *next;
    if (!next_line(p, end, &eol, &next))
        return NG_EMALFORMED;
    int rc = parse_request_line(r, p, eol);
    if (rc != NG_OK)
        return rc;
    int has_length = 0;
    size_t length = 0;
    for (;;) {
        p = next;
        if (!next_line(p, end, &eol, &next))
            return NG_EMALFORMED; /* the head never ends */
        if (eol == p)
            break;
        /* No space before the colon and no folded lines: the gateway
         * refuses both from clients, so they mean a corrupt message. */
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon == NULL || !is_token(p, (size_t)(colon - p)))
            return NG_EMALFORMED;
        const char *v = colon + 1, *ve = eol;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (!is_value(v, (size_t)(ve - v)))
            return NG_EMALFORMED;
        if (r->nheaders == NG_MAX_HEADERS)
            return NG_ETOOMANY;
        ng_field *f = &r->headers[r->nheaders++];
        f->name = (ng_str){p, (size_t)(colon - p)};
        f->value = (ng_str){v, (size_t)(ve - v)};
        if (eq_fold(f->name.ptr, f->name.len, "Content-Length")) {
            size_t n;
            if (parse_length(f->value, &n) != NG_OK || (has_length && n != length))
                return NG_EMALFORMED;
            has_length = 1;
            length = n;
        } else if (eq_fold(f->name.ptr, f->name.len, "Transfer-Encoding")) {
            return NG_EMALFORMED; /* format http bodies arrive de-chunked */
        }
    }
    size_t rest = (size_t)(end - next);
    if (rest != (has_length ? length : 0))
        return NG_EMALFORMED;
    r->body = (ng_str){next, rest};
    return NG_OK;
}

ng_str ng_header(const ng_request *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (eq_fold(r->headers[i].name.ptr, r->headers[i].name.len, name))
            return r->headers[i].value;
    return (ng_str){NULL, 0};
}

ng_str ng_session_id(const ng_request *r) { return ng_header(r, "X-Nanogate-Session"); }
ng_str ng_request_id(const ng_request *r) { return ng_header(r, "X-Request-Id"); }

ng_str ng_remote_addr(const ng_request *r)
{
    /* The gateway appends the client's address to the last line. */
    ng_str v = {NULL, 0};
    for (size_t i = 0; i < r->nheaders; i++)
        if (eq_fold(r->headers[i].name.ptr, r->headers[i].name.len, "X-Forwarded-For"))
            v = r->headers[i].value;
    if (v.ptr == NULL)
        return v;
    const char *s = v.ptr, *e = v.ptr + v.len;
    for (const char *c = e; c > v.ptr; c--)
        if (c[-1] == ',') {
            s = c;
            break;
        }
    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    return (ng_str){s, (size_t)(e - s)};
}

int ng_str_eq(ng_str s, const char *lit)
{
    size_t n = strlen(lit);
    return s.ptr != NULL && s.len == n && memcmp(s.ptr, lit, n) == 0;
}

/* ---- reply writer --------------------------------------------------- */

/* A buffer that grows. */
struct buf {
    char *p;
    size_t len, cap;
};

/* Buffers past this are freed after their reply, so that one large echo
 * does not leave every thread holding its size. */
#define KEEP_CAP (256 << 10)

struct ng_response {
    int status;
    const char *reason;
    struct buf fields; /* header lines, each ended by CRLF */
    struct buf body;
    const char *ref;   /* ng_set_body */
    size_t reflen;
    int use_ref;
    int err;           /* the first failed write; the reply becomes a 500 */
    struct buf head;   /* status line + fields + Content-Length + CRLF */
};

static int buf_grow(struct buf *b, size_t n)
{
    if (n <= b->cap - b->len)
        return NG_OK;
    if (n > SIZE_MAX / 2 - b->len)
        return NG_ENOMEM;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return NG_ENOMEM;
    b->p = p;
    b->cap = cap;
    return NG_OK;
}

static int buf_add(struct buf *b, const void *p, size_t n)
{
    if (buf_grow(b, n) != NG_OK)
        return NG_ENOMEM;
    if (n > 0)
        memcpy(b->p + b->len, p, n);
    b->len += n;
    return NG_OK;
}

static int buf_str(struct buf *b, const char *s) { return buf_add(b, s, strlen(s)); }

static void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->cap > KEEP_CAP) {
        free(b->p);
        b->p = NULL;
        b->cap = 0;
    }
}

ng_response *ng_response_new(void)
{
    ng_response *w = calloc(1, sizeof *w);
    if (w != NULL)
        w->status = 200;
    return w;
}

void ng_response_free(ng_response *w)
{
    if (w == NULL)
        return;
    free(w->fields.p);
    free(w->body.p);
    free(w->head.p);
    free(w);
}

static void response_reset(ng_response *w)
{
    w->status = 200;
    w->reason = NULL;
    buf_reset(&w->fields);
    buf_reset(&w->body);
    buf_reset(&w->head);
    w->ref = NULL;
    w->reflen = 0;
    w->use_ref = 0;
    w->err = 0;
}

void ng_set_status(ng_response *w, int code, const char *reason)
{
    w->status = code;
    w->reason = reason;
}

int ng_add_header(ng_response *w, const char *name, const char *value)
{
    return ng_add_header_str(w, name, (ng_str){value, strlen(value)});
}

int ng_add_header_str(ng_response *w, const char *name, ng_str v)
{
    size_t nn = strlen(name), vn = v.ptr ? v.len : 0;
    const char *value = v.ptr ? v.ptr : "";
    if (!is_token(name, nn) || !is_value(value, vn) || eq_fold(name, nn, "Content-Length") ||
        eq_fold(name, nn, "Transfer-Encoding"))
        return NG_EINVAL;
    if (buf_grow(&w->fields, nn + vn + 4) != NG_OK)
        return w->err = NG_ENOMEM;
    buf_add(&w->fields, name, nn);
    buf_add(&w->fields, ": ", 2);
    buf_add(&w->fields, value, vn);
    buf_add(&w->fields, "\r\n", 2);
    return NG_OK;
}

int ng_write(ng_response *w, const void *p, size_t n)
{
    if (w->use_ref) { /* copy what was set, then append */
        w->use_ref = 0;
        if (buf_add(&w->body, w->ref, w->reflen) != NG_OK)
            return w->err = NG_ENOMEM;
    }
    if (buf_add(&w->body, p, n) != NG_OK)
        return w->err = NG_ENOMEM;
    return NG_OK;
}

int ng_write_str(ng_response *w, const char *s) { return ng_write(w, s, strlen(s)); }

int ng_printf(ng_response *w, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NG_EINVAL;
    if ((size_t)n < sizeof small)
        return ng_write(w, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        return w->err = NG_ENOMEM;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int rc = ng_write(w, big, (size_t)n);
    free(big);
    return rc;
}

void ng_set_body(ng_response *w, const void *p, size_t n)
{
    w->body.len = 0;
    w->ref = p;
    w->reflen = n;
    w->use_ref = 1;
}

static const char *reason_of(int code)
{
    switch (code) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }
    return ""; /* RFC 9112 allows an empty reason; the gateway sends the standard one */
}

/* finish writes the head; *body and *bodylen are what follows it. */
static int finish(ng_response *w, int head_only, const char **body, size_t *bodylen)
{
    int code = w->status;
    if (code < 200 || code > 999)
        return NG_EINVAL;
    const char *reason = w->reason ? w->reason : reason_of(code);
    if (!is_value(reason, strlen(reason)))
        return NG_EINVAL;
    const char *b = w->use_ref ? w->ref : w->body.p;
    size_t n = w->use_ref ? w->reflen : w->body.len;
    char line[64];
    int ln = snprintf(line, sizeof line, "HTTP/1.1 %d ", code);
    int rc = buf_add(&w->head, line, (size_t)ln);
    rc |= buf_str(&w->head, reason);
    rc |= buf_add(&w->head, "\r\n", 2);
    rc |= buf_add(&w->head, w->fields.p, w->fields.len);
    if (code == 204 || code == 304) {
        n = 0; /* no body and no length (RFC 9110 8.6) */
    } else {
        ln = snprintf(line, sizeof line, "Content-Length: %zu\r\n", n);
        rc |= buf_add(&w->head, line, (size_t)ln);
    }
    rc |= buf_add(&w->head, "\r\n", 2);
    if (rc != NG_OK)
        return NG_ENOMEM;
    if (head_only) /* HEAD keeps the length the body would have had */
        n = 0;
    *body = n ? b : NULL;
    *bodylen = n;
    return NG_OK;
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
    /* One write per line, so that lines from threads do not mix. */
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof line - 2)
        n = (int)sizeof line - 2;
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, stderr);
}

/* printable bounds what a log line quotes from a request. */
static int printable(ng_str s) { return s.ptr ? (int)(s.len > 200 ? 200 : s.len) : 0; }
#define QUOTE(s) printable(s), (s).ptr ? (s).ptr : ""

/* fail_reply turns w into an error reply. */
static void fail_reply(ng_response *w, int code, ng_str request_id)
{
    response_reset(w);
    ng_set_status(w, code, NULL);
    ng_add_header(w, "Content-Type", "text/plain; charset=utf-8");
    if (request_id.ptr != NULL)
        ng_printf(w, "%d %s (request %.*s)\n", code, reason_of(code), QUOTE(request_id));
    else
        ng_printf(w, "%d %s\n", code, reason_of(code));
}

int ng_handle(ng_response *w, const char *msg, size_t len, ng_handler fn, void *ctx,
              const char **head, size_t *headlen, const char **body, size_t *bodylen)
{
    ng_request reqv, *req = &reqv; /* about 4 KiB, on the thread's stack */
    response_reset(w);
    int rc = ng_parse_request(req, msg, len), head_only = 0;
    if (rc != NG_OK) {
        /* The gateway never sends these; a corrupt or foreign peer does. */
        logf_("nanogate_worker: request rejected: %s (%zu bytes)", ng_strerror(rc), len);
        fail_reply(w, rc == NG_ETOOMANY ? 431 : 400, (ng_str){NULL, 0});
    } else {
        head_only = ng_str_eq(req->method, "HEAD");
        int hrc = fn(req, w, ctx);
        if (hrc != 0 || w->err != 0) {
            logf_("nanogate_worker: handler failed: %d request_id=%.*s method=%.*s target=%.*s",
                  hrc != 0 ? hrc : w->err, QUOTE(ng_request_id(req)), QUOTE(req->method),
                  QUOTE(req->target));
            fail_reply(w, 500, ng_request_id(req));
        }
    }
    buf_reset(&w->head);
    rc = finish(w, head_only, body, bodylen);
    if (rc != NG_OK) { /* a bad status or reason set by the handler */
        logf_("nanogate_worker: invalid reply (status %d) request_id=%.*s", w->status,
              QUOTE(ng_request_id(req)));
        fail_reply(w, 500, ng_request_id(req));
        buf_reset(&w->head);
        rc = finish(w, head_only, body, bodylen);
    }
    *head = w->head.p;
    *headlen = w->head.len;
    return rc;
}

const char *ng_strerror(int code)
{
    switch (code) {
    case NG_OK: return "ok";
    case NG_EMALFORMED: return "malformed request message";
    case NG_ETOOMANY: return "too many header lines";
    case NG_EINVAL: return "invalid header, status or reason";
    case NG_ENOMEM: return "out of memory";
    case NG_ESOCKET: return "socket error";
    }
    return "unknown error";
}

/* ---- serve loop ----------------------------------------------------- */

/*
 * A raw REP socket (AF_SP_RAW) does not pair one receive with one send, so
 * each of the pool's threads loops on nn_recvmsg, runs the handler and
 * answers with nn_sendmsg, all on one socket, and as many requests are in
 * flight as there are threads. The SP header of a request (libnanomsg's
 * 4-byte pipe key, then the REQ peer's request id) comes as the control
 * part of nn_recvmsg; handing the same control chunk to nn_sendmsg routes
 * the reply to its pipe under its id.
 */

#define MAX_PIPES 64          /* pipe keys remembered for the drain notice */
#define QUIET_NS 100000000LL  /* draining ends after 100 ms without a request */

struct server {
    int sock;
    ng_handler fn;
    void *ctx;
    pthread_t main;
    pthread_mutex_t recv_mu;  /* held by the one thread waiting in nn_recvmsg */
    pthread_rwlock_t close_lk; /* read: a reply being sent; write: the socket closing */
    int closed;               /* under close_lk: the socket is closed, drop replies */
    atomic_int closing;       /* set before the close: followers stop before nn_recvmsg */
    pthread_mutex_t mu;
    pthread_cond_t idle;      /* signalled when in_flight drops to 0 */
    int in_flight;
    long long last_recv;      /* monotonic ns of the last request */
    int failed;               /* a thread stopped on a socket error */
    int stopping;             /* the socket is being closed */
    unsigned char pipes[MAX_PIPES][4];
    int npipes, nextpipe;
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* sp_header returns the SP header in a received control chunk. */
static const unsigned char *sp_header(struct nn_msghdr *hdr, size_t *len)
{
    for (struct nn_cmsghdr *c = NN_CMSG_FIRSTHDR(hdr); c != NULL; c = NN_CMSG_NXTHDR(hdr, c)) {
        if (c->cmsg_level != PROTO_SP || c->cmsg_type != SP_HDR)
            continue;
        const unsigned char *d = NN_CMSG_DATA(c);
        size_t n;
        memcpy(&n, d, sizeof n); /* libnanomsg: the header's size, then the header */
        *len = n;
        return d + sizeof n;
    }
    return NULL;
}

/* remember_pipe keeps the pipe key of a request, so that a drain notice can
 * go to every connection that sent one. Old keys are replaced in turn; a
 * key whose pipe is gone costs nothing (libnanomsg drops the send). */
static void remember_pipe(struct server *s, struct nn_msghdr *hdr)
{
    size_t n;
    const unsigned char *h = sp_header(hdr, &n);
    if (h == NULL || n < 4)
        return;
    for (int i = 0; i < s->npipes; i++)
        if (memcmp(s->pipes[i], h, 4) == 0)
            return;
    int i = s->npipes < MAX_PIPES ? s->npipes++ : s->nextpipe++ % MAX_PIPES;
    memcpy(s->pipes[i], h, 4);
}

static void *serve_thread(void *arg)
{
    struct server *s = arg;
    ng_response *w = ng_response_new();
    if (w == NULL) {
        logf_("nanogate_worker: out of memory");
        pthread_mutex_lock(&s->mu);
        s->failed = 1;
        pthread_mutex_unlock(&s->mu);
        pthread_kill(s->main, SIGTERM);
        return NULL;
    }
    for (;;) {
        void *msg = NULL, *control = NULL;
        struct nn_iovec iov = {&msg, NN_MSG};
        struct nn_msghdr hdr = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                .msg_controllen = NN_MSG};
        /* One thread at a time waits in nn_recvmsg (leader/followers):
         * libnanomsg wakes every thread that waits on a socket for each
         * message, and with 64 waiting that herd doubled the CPU per
         * request. A mutex wakes one follower when the leader has its
         * message. */
        pthread_mutex_lock(&s->recv_mu);
        if (atomic_load(&s->closing)) { /* its id may be another socket's soon */
            pthread_mutex_unlock(&s->recv_mu);
            break;
        }
        int n = nn_recvmsg(s->sock, &hdr, 0);
        pthread_mutex_unlock(&s->recv_mu);
        if (n < 0) {
            int e = nn_errno();
            if (e == EINTR || e == EAGAIN || e == ETIMEDOUT)
                continue;
            pthread_mutex_lock(&s->mu);
            int stopping = s->stopping;
            if (!stopping)
                s->failed = 1;
            pthread_mutex_unlock(&s->mu);
            if (!stopping) {
                logf_("nanogate_worker: nn_recvmsg: %s", nn_strerror(e));
                pthread_kill(s->main, SIGTERM);
            }
            break;
        }
        pthread_mutex_lock(&s->mu);
        s->in_flight++;
        s->last_recv = now_ns();
        remember_pipe(s, &hdr);
        pthread_mutex_unlock(&s->mu);

        const char *head, *body;
        size_t headlen, bodylen;
        int rc = ng_handle(w, msg, (size_t)n, s->fn, s->ctx, &head, &headlen, &body, &bodylen);
        if (rc == NG_OK) {
            struct nn_iovec out[2] = {{(void *)head, headlen}, {(void *)body, bodylen}};
            struct nn_msghdr reply = {.msg_iov = out, .msg_iovlen = bodylen ? 2 : 1,
                                      .msg_control = &control, .msg_controllen = NN_MSG};
            /* A handler that outlived the drain finds the socket closed
             * (its id may even be another socket's by then). */
            pthread_rwlock_rdlock(&s->close_lk);
            int sent = !s->closed && nn_sendmsg(s->sock, &reply, 0) >= 0;
            if (!sent && !s->closed)
                logf_("nanogate_worker: nn_sendmsg: %s", nn_strerror(nn_errno()));
            pthread_rwlock_unlock(&s->close_lk);
            if (!sent)
                nn_freemsg(control); /* kept by libnanomsg only on success */
        } else {
            logf_("nanogate_worker: no reply: %s", ng_strerror(rc));
            nn_freemsg(control);
        }
        nn_freemsg(msg);

        pthread_mutex_lock(&s->mu);
        if (--s->in_flight == 0)
            pthread_cond_broadcast(&s->idle);
        pthread_mutex_unlock(&s->mu);
    }
    ng_response_free(w);
    return NULL;
}

/* send_drain_notices tells every known connection that this worker is
 * going away: a reply to request id 0x80000000, body "nanogate:draining"
 * (docs/PROTOCOL.md, "Draining"). The gateway sends no new request on it. */
static void send_drain_notices(struct server *s)
{
    static const char notice[] = "nanogate:draining";
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->npipes; i++) {
        unsigned char control[NN_CMSG_SPACE(sizeof(size_t) + 8)];
        memset(control, 0, sizeof control);
        struct nn_cmsghdr *c = (struct nn_cmsghdr *)control;
        c->cmsg_len = sizeof control;
        c->cmsg_level = PROTO_SP;
        c->cmsg_type = SP_HDR;
        size_t n = 8;
        unsigned char *d = NN_CMSG_DATA(c);
        memcpy(d, &n, sizeof n);
        memcpy(d + sizeof n, s->pipes[i], 4);
        memcpy(d + sizeof n + 4, "\x80\x00\x00\x00", 4);
        struct nn_iovec iov = {(void *)notice, sizeof notice - 1};
        struct nn_msghdr hdr = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                                .msg_controllen = sizeof control};
        if (nn_sendmsg(s->sock, &hdr, NN_DONTWAIT) < 0 && nn_errno() != EAGAIN)
            logf_("nanogate_worker: drain notice: %s", nn_strerror(nn_errno()));
    }
    pthread_mutex_unlock(&s->mu);
}

/* drain waits until nothing is in flight and no request came for 100 ms,
 * or drain_ms pass; it returns the requests still in flight. */
static int drain(struct server *s, int drain_ms)
{
    long long deadline = now_ns() + (long long)drain_ms * 1000000LL;
    pthread_mutex_lock(&s->mu);
    /* The quiet time counts from the notice: requests the gateway sent
     * just before it may not have been received yet. */
    s->last_recv = now_ns();
    for (;;) {
        long long now = now_ns(), until = s->last_recv + QUIET_NS;
        if (now >= deadline) {
            if (s->in_flight > 0)
                logf_("nanogate_worker: drain timeout with %d requests in flight", s->in_flight);
            break;
        }
        if (s->in_flight == 0 && now >= until)
            break;
        if (s->in_flight > 0 || until > deadline)
            until = deadline;
        /* the condition variable runs on CLOCK_MONOTONIC (see ng_serve_opts) */
        struct timespec ts = {(time_t)(until / 1000000000LL), (long)(until % 1000000000LL)};
        pthread_cond_timedwait(&s->idle, &s->mu, &ts);
    }
    s->stopping = 1;
    int left = s->in_flight;
    pthread_mutex_unlock(&s->mu);
    return left;
}

static int env_threads(void)
{
    const char *v = getenv("NANOGATE_THREADS");
    if (v == NULL)
        return 64;
    char *end;
    long n = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || n < 1 || n > 4096) {
        logf_("nanogate_worker: NANOGATE_THREADS=%s: want 1..4096; using 64", v);
        return 64;
    }
    return (int)n;
}

int ng_serve(const char *url, int bind, ng_handler fn, void *ctx)
{
    return ng_serve_opts(url, bind, fn, ctx, NULL);
}

int ng_serve_opts(const char *url, int bind, ng_handler fn, void *ctx, const ng_options *opt)
{
    ng_options o = {0};
    if (opt != NULL)
        o = *opt;
    if (o.threads <= 0)
        o.threads = env_threads();
    if (o.max_recv == 0)
        o.max_recv = 64 << 20;
    if (o.max_recv > INT_MAX)
        o.max_recv = INT_MAX;
    if (o.drain_ms <= 0)
        o.drain_ms = 30000;

    /* On the heap: after a drain timeout the threads of stuck handlers
     * are left running, and it must outlive this call for them. */
    struct server *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NG_ENOMEM;
    s->fn = fn;
    s->ctx = ctx;
    s->main = pthread_self();
    s->last_recv = now_ns();
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->recv_mu, NULL);
    pthread_rwlock_init(&s->close_lk, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->idle, &ca);
    pthread_condattr_destroy(&ca);

    /* Blocked before the first socket, so that every thread started from
     * here on (ours, and libnanomsg's own) inherits the mask, and this
     * thread takes the signals with sigwait. */
    sigset_t sigs, old;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, &old);

    s->sock = nn_socket(AF_SP_RAW, NN_REP);
    if (s->sock < 0) {
        logf_("nanogate_worker: nn_socket: %s", nn_strerror(nn_errno()));
        goto fail;
    }
    int maxrecv = (int)o.max_recv;
    nn_setsockopt(s->sock, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxrecv, sizeof maxrecv);
    if ((bind ? nn_bind(s->sock, url) : nn_connect(s->sock, url)) < 0) {
        logf_("nanogate_worker: %s %s: %s", bind ? "nn_bind" : "nn_connect", url,
              nn_strerror(nn_errno()));
        nn_close(s->sock);
        goto fail;
    }

    pthread_t *threads = calloc((size_t)o.threads, sizeof *threads);
    int started = 0, left = 0;
    for (; threads != NULL && started < o.threads; started++)
        if (pthread_create(&threads[started], NULL, serve_thread, s) != 0)
            break;
    if (started == 0) {
        logf_("nanogate_worker: cannot start threads");
        s->failed = 1;
    } else {
        if (started < o.threads)
            logf_("nanogate_worker: started %d of %d threads", started, o.threads);
        if (o.on_ready != NULL)
            o.on_ready(ctx);
        int sig;
        sigwait(&sigs, &sig);
        pthread_mutex_lock(&s->mu);
        int failed = s->failed;
        pthread_mutex_unlock(&s->mu);
        if (!failed) {
            send_drain_notices(s);
            left = drain(s, o.drain_ms);
        }
    }
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    int rc = s->failed ? NG_ESOCKET : NG_OK;
    pthread_mutex_unlock(&s->mu);
    atomic_store(&s->closing, 1);
    pthread_rwlock_wrlock(&s->close_lk);
    s->closed = 1;
    nn_close(s->sock); /* wakes the threads blocked in nn_recvmsg */
    pthread_rwlock_unlock(&s->close_lk);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (left > 0) {
        /* Handlers stuck past drain_ms: their threads are left to finish
         * (their replies are dropped) with s, which is not freed. */
        for (int i = 0; i < started; i++)
            if (pthread_tryjoin_np(threads[i], NULL) != 0)
                pthread_detach(threads[i]);
        logf_("nanogate_worker: stopped with %d handlers still running", left);
        free(threads);
        return rc;
    }
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    pthread_cond_destroy(&s->idle);
    pthread_rwlock_destroy(&s->close_lk);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->recv_mu);
    free(s);
    return rc;
fail:
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_cond_destroy(&s->idle);
    pthread_rwlock_destroy(&s->close_lk);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->recv_mu);
    free(s);
    return NG_ESOCKET;
}
