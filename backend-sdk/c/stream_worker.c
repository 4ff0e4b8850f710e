/*
 * stream_worker: a nanogate worker for routes with format = "frames"
 * (docs/PROTOCOL.md, "Format frames"), written with stock libnanomsg only.
 * A NN_PULL socket binds the route's endpoint and takes the gateway's
 * frames; replies go to the gateway's inbound address, named by each
 * request's X-Nanogate-Inbound header, through one NN_PUSH socket per
 * distinct address.
 *
 *   gcc -Wall -Wextra -O2 -o stream_worker stream_worker.c -lnanomsg
 *   ./stream_worker ipc:///tmp/nanogate-stream.sock
 *
 *   GET /stream?n=N     N chunks "chunk i\n", 100 ms apart (N: 5, at most 1000), then end
 *   GET /sse            3 server-sent events, 100 ms apart, then an empty chunk
 *   a request with a body (POST /upload)   the number of body bytes
 *   Upgrade: websocket  every message echoed with its type (text or binary)
 *   anything else       404
 *
 * One thread runs a poll loop that reads frames and sends the chunks that
 * are due, so a slow stream holds up no other, and an end from the gateway
 * (the client went away) stops a stream between two chunks. Streams live in
 * a fixed table: past MAX_STREAMS a request gets 503.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <nanomsg/nn.h>
#include <nanomsg/pipeline.h>

#define SID_LEN 32          /* a session id: 32 lower-case hex digits */
#define MAX_TYPE_LEN 16     /* "websocket-binary" */
#define MAX_STREAMS 64      /* live streams at once */
#define MAX_INBOUND 8       /* distinct gateway inbound addresses */
#define TICK_MS 100         /* between two chunks of /stream and /sse */
#define DEFAULT_CHUNKS 5
#define MAX_CHUNKS 1000
#define SSE_EVENTS 3
#define MAX_POLL_MS 500     /* bounds how late a signal can be noticed */
#define SEND_TIMEOUT_MS 2000

/* An upload or WebSocket with no frame for this long is forgotten. The
 * gateway sends end long before (stream_idle_timeout, 60 s by default);
 * this frees the slots of streams whose end never comes, those of a
 * gateway that restarted. */
#define IDLE_MS (10 * 60 * 1000)

/* libnanomsg drops messages over 1 MiB silently by default (docs/PROTOCOL.md,
 * "Size"); a WebSocket message may be larger. */
#define RECV_MAX (64 << 20)

enum kind { FREE, STREAM, SSE, UPLOAD, WEBSOCKET };

struct stream {
    enum kind kind;
    char sid[SID_LEN];
    uint32_t id;
    int out;            /* PUSH socket to the inbound address of the request */
    uint32_t sent;      /* STREAM, SSE: chunks sent so far */
    uint32_t total;     /* STREAM, SSE: chunks to send */
    int64_t due;        /* STREAM, SSE: when the next chunk goes, monotonic ms */
    uint64_t bytes;     /* UPLOAD: body bytes so far */
    int64_t seen;       /* when its last frame arrived, monotonic ms */
};

static struct stream streams[MAX_STREAMS];

static struct {
    char url[NN_SOCKADDR_MAX];
    int sock;
} inbound[MAX_INBOUND];
static int n_inbound;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- frames ---------------------------------------------------------- */

struct frame {
    const char *sid;    /* SID_LEN bytes, not NUL-terminated */
    const char *type;
    size_t type_len;
    uint32_t stream;
    const char *body;
    size_t len;
};

static const char *const frame_types[] = {
    "request", "body", "end", "credit", "websocket", "websocket-binary",
    "websocket-close", "ping", "pong", "headers", "chunk", "close", "retry",
};

static int is(const char *p, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(p, word, n) == 0;
}

/*
 * parse_frame reads "sid SP type SP stream LF body" into f and returns NULL,
 * or returns why the message is not a frame. It refuses exactly what
 * protocol/frames.Parse refuses (protocol/frames/testdata/invalid/).
 */
static const char *parse_frame(const char *m, size_t n, struct frame *f)
{
    static const char sep[] = "header fields not separated by SP, SP, LF";
    if (n < SID_LEN + 5)
        return "shorter than a frame header";
    if (m[SID_LEN] != ' ')
        return sep;
    for (size_t i = 0; i < SID_LEN; i++)
        if (!((m[i] >= '0' && m[i] <= '9') || (m[i] >= 'a' && m[i] <= 'f')))
            return "session id is not 32 lower-case hex digits";
    f->sid = m;

    const char *p = m + SID_LEN + 1, *end = m + n;
    size_t room = (size_t)(end - p);
    const char *sp = memchr(p, ' ', room < MAX_TYPE_LEN + 1 ? room : MAX_TYPE_LEN + 1);
    if (sp == NULL)
        return sep;
    f->type = p;
    f->type_len = (size_t)(sp - p);
    size_t t = 0;
    while (t < sizeof frame_types / sizeof frame_types[0] && !is(f->type, f->type_len, frame_types[t]))
        t++;
    if (t == sizeof frame_types / sizeof frame_types[0])
        return "unknown frame type";

    p = sp + 1;
    uint64_t v = 0;
    size_t i = 0;
    for (; p + i < end && p[i] >= '0' && p[i] <= '9'; i++) {
        v = v * 10 + (uint64_t)(p[i] - '0');
        if (i >= 10 || v > UINT32_MAX)
            return "stream is not a decimal number below 2^32";
    }
    if (i == 0)
        return "stream is not a decimal number below 2^32";
    if (p + i == end || p[i] != '\n')
        return sep;
    f->stream = (uint32_t)v;
    f->body = p + i + 1;
    f->len = (size_t)(end - f->body);
    return NULL;
}

/* send_frame sends one frame whose body is a then b; -1 on failure (logged). */
static int send_frame(int sock, const char *sid, uint32_t stream, const char *type,
                      const void *a, size_t alen, const void *b, size_t blen)
{
    char hdr[SID_LEN + MAX_TYPE_LEN + 16];
    int h = snprintf(hdr, sizeof hdr, "%.32s %s %u\n", sid, type, (unsigned)stream);
    if (h < 0 || (size_t)h >= sizeof hdr)
        return -1;
    size_t len = (size_t)h + alen + blen;
    char *msg = nn_allocmsg(len, 0);
    if (msg == NULL) {
        fprintf(stderr, "stream_worker: nn_allocmsg %zu: %s\n", len, nn_strerror(nn_errno()));
        return -1;
    }
    memcpy(msg, hdr, (size_t)h);
    if (alen > 0)
        memcpy(msg + h, a, alen);
    if (blen > 0)
        memcpy(msg + h + alen, b, blen);
    /* With NN_MSG a successful send takes the message; a failed one leaves it. */
    if (nn_send(sock, &msg, NN_MSG, 0) < 0) {
        fprintf(stderr, "stream_worker: send %s for %.32s %u: %s\n", type, sid,
                (unsigned)stream, nn_strerror(nn_errno()));
        nn_freemsg(msg);
        return -1;
    }
    return 0;
}

/* reply sends a whole response with Content-Length in one headers frame. */
static int reply(int out, const char *sid, uint32_t id, const char *status, const char *body)
{
    char head[128];
    size_t blen = strlen(body);
    int h = snprintf(head, sizeof head,
                     "HTTP/1.1 %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     status, blen);
    if (h < 0 || (size_t)h >= sizeof head)
        return -1;
    return send_frame(out, sid, id, "headers", head, (size_t)h, body, blen);
}

/* ---- request heads --------------------------------------------------- */

struct request {
    const char *method;
    size_t method_len;
    const char *path;   /* the request target up to '?' */
    size_t path_len;
    const char *query;  /* after '?', or NULL */
    size_t query_len;
    const char *inbound;
    size_t inbound_len;
    int inbound_count;
    int websocket;      /* Upgrade: websocket */
    int chunked;        /* Transfer-Encoding: the body's length is not known */
    int has_length;
    uint64_t length;    /* Content-Length */
    size_t head_len;    /* through the empty line */
};

/* next_line returns the line at *p without its LF (and CR) and moves *p
 * past the LF, or returns NULL when no LF is left. */
static const char *next_line(const char **p, const char *end, size_t *len)
{
    if (*p >= end)
        return NULL;
    const char *lf = memchr(*p, '\n', (size_t)(end - *p));
    if (lf == NULL)
        return NULL;
    const char *line = *p;
    *len = (size_t)(lf - line);
    if (*len > 0 && line[*len - 1] == '\r')
        (*len)--;
    *p = lf + 1;
    return line;
}

/* Header names and these values compare without case (RFC 9110 5.1, 7.8). */
static int same(const char *p, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/* decimal reads 1 to 18 digits. */
static int decimal(const char *p, size_t n, uint64_t *v)
{
    if (n == 0 || n > 18)
        return 0;
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        *v = *v * 10 + (uint64_t)(p[i] - '0');
    }
    return 1;
}

static const char *parse_request(const char *b, size_t n, struct request *r)
{
    memset(r, 0, sizeof *r);
    const char *p = b, *end = b + n;
    size_t len;
    const char *line = next_line(&p, end, &len);
    if (line == NULL)
        return "request line without LF";
    const char *sp1 = memchr(line, ' ', len);
    if (sp1 == NULL || sp1 == line)
        return "malformed request line";
    const char *target = sp1 + 1;
    size_t rest = len - (size_t)(target - line);
    const char *sp2 = memchr(target, ' ', rest);
    if (sp2 == NULL || sp2 == target)
        return "malformed request line";
    r->method = line;
    r->method_len = (size_t)(sp1 - line);
    size_t tlen = (size_t)(sp2 - target);
    const char *q = memchr(target, '?', tlen);
    r->path = target;
    r->path_len = q ? (size_t)(q - target) : tlen;
    if (q) {
        r->query = q + 1;
        r->query_len = tlen - r->path_len - 1;
    }

    for (;;) {
        line = next_line(&p, end, &len);
        if (line == NULL)
            return "request head without its empty line";
        if (len == 0)
            break;
        const char *colon = memchr(line, ':', len);
        if (colon == NULL || colon == line)
            return "header line without a name";
        size_t nlen = (size_t)(colon - line);
        const char *v = colon + 1, *vend = line + len;
        while (v < vend && (*v == ' ' || *v == '\t'))
            v++;
        while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
            vend--;
        size_t vlen = (size_t)(vend - v);
        if (same(line, nlen, "X-Nanogate-Inbound")) {
            r->inbound = v;
            r->inbound_len = vlen;
            r->inbound_count++;
        } else if (same(line, nlen, "Upgrade")) {
            r->websocket |= same(v, vlen, "websocket");
        } else if (same(line, nlen, "Transfer-Encoding")) {
            r->chunked = 1;
        } else if (same(line, nlen, "Content-Length")) {
            if (r->has_length || !decimal(v, vlen, &r->length))
                return "bad or repeated Content-Length";
            r->has_length = 1;
        }
    }
    r->head_len = (size_t)(p - b);
    /* The gateway adds one X-Nanogate-Inbound. A second one came from the
     * client, and following it would let a client point the worker's
     * replies at an address of its choosing. */
    if (r->inbound_count == 0)
        return "no X-Nanogate-Inbound header";
    if (r->inbound_count > 1)
        return "X-Nanogate-Inbound more than once";
    return NULL;
}

/* chunks_wanted reads n from the query of /stream into *n (DEFAULT_CHUNKS
 * when absent, at most MAX_CHUNKS) and returns 1, or 0 when n is not a
 * number. */
static int chunks_wanted(const struct request *r, uint32_t *n)
{
    *n = DEFAULT_CHUNKS;
    const char *p = r->query, *end = r->query + r->query_len;
    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if (stop - p >= 2 && p[0] == 'n' && p[1] == '=') {
            uint64_t v;
            size_t digits = (size_t)(stop - p - 2);
            if (digits == 0)
                return 0;
            if (digits > 18) /* a number, just a big one */
                v = MAX_CHUNKS;
            else if (!decimal(p + 2, digits, &v))
                return 0;
            *n = v > MAX_CHUNKS ? MAX_CHUNKS : (uint32_t)v;
        }
        p = amp ? amp + 1 : end;
    }
    return 1;
}

/* ---- state ----------------------------------------------------------- */

static struct stream *find(const char *sid, uint32_t id)
{
    for (int i = 0; i < MAX_STREAMS; i++)
        if (streams[i].kind != FREE && streams[i].id == id && memcmp(streams[i].sid, sid, SID_LEN) == 0)
            return &streams[i];
    return NULL;
}

static struct stream *claim(const char *sid, uint32_t id, int out, enum kind kind)
{
    for (int i = 0; i < MAX_STREAMS; i++) {
        struct stream *s = &streams[i];
        if (s->kind == FREE) {
            memset(s, 0, sizeof *s);
            s->kind = kind;
            memcpy(s->sid, sid, SID_LEN);
            s->id = id;
            s->out = out;
            s->seen = now_ms();
            return s;
        }
    }
    return NULL;
}

static void forget(struct stream *s)
{
    s->kind = FREE;
}

/* outbound returns the PUSH socket connected to url, making it on first use. */
static int outbound(const char *url, size_t len)
{
    for (int i = 0; i < n_inbound; i++)
        if (is(url, len, inbound[i].url))
            return inbound[i].sock;
    if (len == 0 || len >= NN_SOCKADDR_MAX || memchr(url, '\0', len) != NULL) {
        fprintf(stderr, "stream_worker: request rejected: unusable X-Nanogate-Inbound (%zu bytes)\n", len);
        return -1;
    }
    if (n_inbound == MAX_INBOUND) {
        fprintf(stderr, "stream_worker: request rejected: more than %d inbound addresses, not %.*s\n",
                MAX_INBOUND, (int)len, url);
        return -1;
    }
    int s = nn_socket(AF_SP, NN_PUSH);
    if (s < 0) {
        fprintf(stderr, "stream_worker: nn_socket: %s\n", nn_strerror(nn_errno()));
        return -1;
    }
    /* A send waits while the gateway is not connected or not reading; this
     * single thread must not wait forever. */
    int tmo = SEND_TIMEOUT_MS;
    nn_setsockopt(s, NN_SOL_SOCKET, NN_SNDTIMEO, &tmo, sizeof tmo);
    memcpy(inbound[n_inbound].url, url, len);
    inbound[n_inbound].url[len] = '\0';
    if (nn_connect(s, inbound[n_inbound].url) < 0) {
        fprintf(stderr, "stream_worker: request rejected: nn_connect %s: %s\n",
                inbound[n_inbound].url, nn_strerror(nn_errno()));
        nn_close(s);
        return -1;
    }
    inbound[n_inbound].sock = s;
    fprintf(stderr, "stream_worker: replying to %s\n", inbound[n_inbound].url);
    return inbound[n_inbound++].sock;
}

/* ---- behaviour ------------------------------------------------------- */

static void reply_count(int out, const char *sid, uint32_t id, uint64_t bytes)
{
    char num[24];
    snprintf(num, sizeof num, "%llu", (unsigned long long)bytes);
    reply(out, sid, id, "200 OK", num);
}

/* tick sends the next chunk of a /stream or /sse response, and its end
 * after the last one. */
static void tick(struct stream *s)
{
    if (s->sent < s->total) {
        char buf[32];
        s->sent++;
        int n = s->kind == SSE ? snprintf(buf, sizeof buf, "data: tick %u\n\n", (unsigned)s->sent)
                               : snprintf(buf, sizeof buf, "chunk %u\n", (unsigned)s->sent);
        if (send_frame(s->out, s->sid, s->id, "chunk", buf, (size_t)n, NULL, 0) < 0) {
            forget(s);
            return;
        }
    }
    if (s->sent == s->total) {
        /* SSE ends the BlastBeat way, with an empty chunk; /stream with end. */
        send_frame(s->out, s->sid, s->id, s->kind == SSE ? "chunk" : "end", NULL, 0, NULL, 0);
        forget(s);
        return;
    }
    s->due = now_ms() + TICK_MS;
}

static void start_timed(int out, const struct frame *f, enum kind kind, uint32_t total)
{
    static const char text[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    static const char sse[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                              "Cache-Control: no-cache\r\n\r\n";
    struct stream *s = claim(f->sid, f->stream, out, kind);
    if (s == NULL) {
        reply(out, f->sid, f->stream, "503 Service Unavailable", "busy\n");
        return;
    }
    /* No Content-Length: the gateway streams the body chunked. */
    const char *head = kind == SSE ? sse : text;
    if (send_frame(out, f->sid, f->stream, "headers", head, strlen(head), NULL, 0) < 0) {
        forget(s);
        return;
    }
    s->total = total;
    s->due = now_ms(); /* the first chunk goes at once */
}

static void on_request(const struct frame *f)
{
    struct request r;
    const char *why = parse_request(f->body, f->len, &r);
    if (why != NULL) {
        fprintf(stderr, "stream_worker: request rejected: %s (%.32s %u)\n", why, f->sid, (unsigned)f->stream);
        return;
    }
    int out = outbound(r.inbound, r.inbound_len);
    if (out < 0)
        return;
    struct stream *old = find(f->sid, f->stream);
    if (old != NULL) {
        fprintf(stderr, "stream_worker: request again for live stream %.32s %u: starting over\n",
                f->sid, (unsigned)f->stream);
        forget(old);
    }

    if (r.websocket) {
        /* The gateway has answered the handshake: nothing to send yet. */
        if (claim(f->sid, f->stream, out, WEBSOCKET) == NULL)
            send_frame(out, f->sid, f->stream, "websocket-close", "1013 busy", 9, NULL, 0);
        return;
    }
    /* Body bytes the request frame itself carries, if any. */
    uint64_t early = f->len - r.head_len;
    int has_body = r.chunked || (r.has_length && r.length > 0);
    if (has_body || (is(r.method, r.method_len, "POST") && is(r.path, r.path_len, "/upload"))) {
        if (!has_body || (!r.chunked && early >= r.length)) {
            reply_count(out, f->sid, f->stream, early);
            return;
        }
        struct stream *s = claim(f->sid, f->stream, out, UPLOAD);
        if (s == NULL) {
            reply(out, f->sid, f->stream, "503 Service Unavailable", "busy\n");
            return;
        }
        s->bytes = early;
        return;
    }
    if (is(r.method, r.method_len, "GET") && is(r.path, r.path_len, "/stream")) {
        uint32_t n;
        if (!chunks_wanted(&r, &n))
            reply(out, f->sid, f->stream, "400 Bad Request", "n is not a number\n");
        else
            start_timed(out, f, STREAM, n);
        return;
    }
    if (is(r.method, r.method_len, "GET") && is(r.path, r.path_len, "/sse")) {
        start_timed(out, f, SSE, SSE_EVENTS);
        return;
    }
    reply(out, f->sid, f->stream, "404 Not Found", "not found\n");
}

static void on_frame(const struct frame *f)
{
    if (is(f->type, f->type_len, "request")) {
        on_request(f);
        return;
    }
    struct stream *s = find(f->sid, f->stream);
    if (is(f->type, f->type_len, "end")) {
        if (s != NULL) /* the client went away, or the gateway cut the stream */
            forget(s);
        return;
    }
    /* Chunks go at a human pace, far below the window: credit is not needed. */
    if (is(f->type, f->type_len, "credit") || is(f->type, f->type_len, "pong"))
        return;
    if (s == NULL) {
        fprintf(stderr, "stream_worker: %.*s frame for no live stream (%.32s %u)\n",
                (int)f->type_len, f->type, f->sid, (unsigned)f->stream);
        return;
    }
    s->seen = now_ms();
    if (s->kind == UPLOAD && is(f->type, f->type_len, "body")) {
        if (f->len > 0) {
            s->bytes += f->len;
            return;
        }
        reply_count(s->out, s->sid, s->id, s->bytes); /* an empty body ends it */
        forget(s);
        return;
    }
    if (s->kind == WEBSOCKET &&
        (is(f->type, f->type_len, "websocket") || is(f->type, f->type_len, "websocket-binary"))) {
        char type[MAX_TYPE_LEN + 1];
        memcpy(type, f->type, f->type_len);
        type[f->type_len] = '\0';
        if (send_frame(s->out, s->sid, s->id, type, f->body, f->len, NULL, 0) < 0)
            forget(s);
        return;
    }
    if (s->kind == WEBSOCKET && is(f->type, f->type_len, "websocket-close")) {
        forget(s);
        return;
    }
    fprintf(stderr, "stream_worker: unexpected %.*s frame (%.32s %u)\n",
            (int)f->type_len, f->type, f->sid, (unsigned)f->stream);
}

/* run_due sends the chunks that are due, forgets idle streams and returns
 * how long poll may wait. */
static int run_due(void)
{
    int64_t now = now_ms(), next = now + MAX_POLL_MS;
    for (int i = 0; i < MAX_STREAMS; i++) {
        struct stream *s = &streams[i];
        if ((s->kind == UPLOAD || s->kind == WEBSOCKET) && now - s->seen > IDLE_MS) {
            fprintf(stderr, "stream_worker: forgetting idle stream %.32s %u\n", s->sid, (unsigned)s->id);
            forget(s);
        }
        if (s->kind != STREAM && s->kind != SSE)
            continue;
        if (s->due <= now) {
            tick(s);
            now = now_ms();
        }
        if ((s->kind == STREAM || s->kind == SSE) && s->due < next)
            next = s->due;
    }
    return next <= now ? 0 : (int)(next - now);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s URL   (the route's endpoint, e.g. ipc:///tmp/nanogate-stream.sock)\n", argv[0]);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal; /* no SA_RESTART: nn_poll returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int pull = nn_socket(AF_SP, NN_PULL);
    if (pull < 0) {
        fprintf(stderr, "stream_worker: nn_socket: %s\n", nn_strerror(nn_errno()));
        return 1;
    }
    int maxsz = RECV_MAX;
    nn_setsockopt(pull, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof maxsz);
    if (nn_bind(pull, argv[1]) < 0) {
        fprintf(stderr, "stream_worker: nn_bind %s: %s\n", argv[1], nn_strerror(nn_errno()));
        return 1;
    }
    fprintf(stderr, "stream_worker: listening on %s\n", argv[1]);

    int status = 0;
    while (!stopping) {
        struct nn_pollfd pfd = {.fd = pull, .events = NN_POLLIN};
        int rc = nn_poll(&pfd, 1, run_due());
        if (rc < 0) {
            if (nn_errno() == EINTR)
                continue;
            fprintf(stderr, "stream_worker: nn_poll: %s\n", nn_strerror(nn_errno()));
            status = 1;
            break;
        }
        /* A bounded batch, then the timers again. */
        for (int k = 0; k < 64 && rc > 0 && !stopping; k++) {
            char *msg = NULL;
            int n = nn_recv(pull, &msg, NN_MSG, NN_DONTWAIT);
            if (n < 0) {
                int e = nn_errno();
                if (e == EAGAIN || e == EINTR)
                    break;
                fprintf(stderr, "stream_worker: nn_recv: %s\n", nn_strerror(e));
                status = 1;
                stopping = 1;
                break;
            }
            struct frame f;
            const char *why = parse_frame(msg, (size_t)n, &f);
            if (why != NULL)
                fprintf(stderr, "stream_worker: frame rejected: %s (%d bytes)\n", why, n);
            else
                on_frame(&f);
            nn_freemsg(msg);
        }
    }

    nn_close(pull);
    for (int i = 0; i < n_inbound; i++)
        nn_close(inbound[i].sock);
    /* Every socket is closed; nn_term releases what libnanomsg still holds
     * (a threaded worker calls it to wake threads blocked in nn_recv). */
    nn_term();
    if (status == 0)
        fprintf(stderr, "stream_worker: stopped\n");
    return status;
}
