/*
 * conformance_worker: the app of nanogate's SDK conformance suite
 * (cmd/nanogate/conformance_test.go) on the C library, nanogate_worker.h.
 *
 *   cc -O2 -pthread -o conformance_worker conformance_worker.c nanogate_worker.c -lnanomsg
 *   ./conformance_worker --bind ipc:///tmp/conf.sock     # or --dial URL
 *   ./conformance_worker --bind URL --drain-ms 300       # SIGTERM waits 300 ms at most
 *
 * It prints "ready" on stdout once the socket is bound, and serves 256
 * requests at once (the suite sends 200 concurrent /sleep requests).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nanogate_worker.h"

static int text(ng_response *w, int code, const char *body)
{
    ng_set_status(w, code, NULL);
    ng_add_header(w, "Content-Type", "text/plain; charset=utf-8");
    return ng_write_str(w, body);
}

static int echo(ng_request *req, ng_response *w)
{
    ng_str ct = ng_header(req, "Content-Type");
    if (ct.ptr != NULL)
        ng_add_header_str(w, "Content-Type", ct);
    else
        ng_add_header(w, "Content-Type", "application/octet-stream");
    char n[32];
    snprintf(n, sizeof n, "%zu", req->body.len);
    ng_add_header(w, "X-Body-Length", n);
    ng_set_body(w, req->body.ptr, req->body.len); /* no copy: the request outlives the reply's send */
    return 0;
}

static int status(ng_request *req, ng_response *w)
{
    ng_str code = {req->path.ptr + 8, req->path.len - 8}; /* after "/status/" */
    char x[8];
    if (code.len != 3)
        return text(w, 404, "not found\n");
    snprintf(x, sizeof x, "%.3s", code.ptr);
    if (strcmp(x, "201") == 0) {
        ng_add_header(w, "Location", "/created");
        ng_add_header(w, "X-Status", x);
        return text(w, 201, "created\n");
    } else if (strcmp(x, "204") == 0) {
        ng_set_status(w, 204, NULL);
        return ng_add_header(w, "X-Status", x);
    } else if (strcmp(x, "301") == 0) {
        ng_add_header(w, "Location", "/hello");
        ng_add_header(w, "X-Status", x);
        return text(w, 301, "moved\n");
    } else if (strcmp(x, "404") == 0) {
        ng_add_header(w, "X-Status", x);
        return text(w, 404, "not found\n");
    } else if (strcmp(x, "500") == 0) {
        ng_add_header(w, "X-Status", x);
        return text(w, 500, "error\n");
    }
    return text(w, 404, "not found\n");
}

/* json_str writes s as a JSON string. */
static void json_str(ng_response *w, ng_str s)
{
    ng_write(w, "\"", 1);
    for (size_t i = 0; s.ptr != NULL && i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\')
            ng_printf(w, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            ng_printf(w, "\\u%04x", c);
        else
            ng_write(w, &s.ptr[i], 1);
    }
    ng_write(w, "\"", 1);
}

static int env(ng_request *req, ng_response *w)
{
    ng_add_header(w, "Content-Type", "application/json");
    const char *names[] = {"method", "path", "query", "remote_addr", "session_id", "request_id"};
    ng_str vals[] = {req->method, req->path, req->query, ng_remote_addr(req),
                     ng_session_id(req), ng_request_id(req)};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        ng_printf(w, "%s\"%s\":", i ? "," : "{", names[i]);
        json_str(w, vals[i]);
    }
    return ng_write_str(w, "}\n");
}

static int sleep_ms(ng_request *req, ng_response *w)
{
    long ms = 0;
    ng_str q = req->query;
    if (q.len > 3 && memcmp(q.ptr, "ms=", 3) == 0)
        for (size_t i = 3; i < q.len && i < 9 && q.ptr[i] >= '0' && q.ptr[i] <= '9'; i++)
            ms = ms * 10 + (q.ptr[i] - '0');
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ; /* EINTR: sleep the rest */
    return text(w, 200, "slept\n");
}

static int app(ng_request *req, ng_response *w, void *ctx)
{
    (void)ctx;
    ng_str p = req->path;
    if (ng_str_eq(p, "/hello"))
        return text(w, 200, "hello\n");
    if (ng_str_eq(p, "/echo"))
        return echo(req, w);
    if (ng_str_eq(p, "/cookies")) {
        ng_add_header(w, "Set-Cookie", "a=1; Path=/");
        ng_add_header(w, "Set-Cookie", "b=2; Path=/");
        return text(w, 200, "cookies\n");
    }
    if (p.len > 8 && memcmp(p.ptr, "/status/", 8) == 0)
        return status(req, w);
    if (ng_str_eq(p, "/raise"))
        return -1; /* the library answers 500 and logs the request id */
    if (ng_str_eq(p, "/env"))
        return env(req, w);
    if (ng_str_eq(p, "/sleep"))
        return sleep_ms(req, w);
    return text(w, 404, "not found\n");
}

static void ready(void *ctx)
{
    (void)ctx;
    printf("ready\n");
    fflush(stdout);
}

int main(int argc, char **argv)
{
    ng_options opt = {.threads = 256, .on_ready = ready};
    if ((argc != 3 && argc != 5) || (strcmp(argv[1], "--bind") != 0 && strcmp(argv[1], "--dial") != 0) ||
        (argc == 5 && (strcmp(argv[3], "--drain-ms") != 0 || (opt.drain_ms = atoi(argv[4])) <= 0))) {
        fprintf(stderr, "usage: %s --bind URL | --dial URL [--drain-ms N]\n", argv[0]);
        return 2;
    }
    return ng_serve_opts(argv[2], strcmp(argv[1], "--bind") == 0, app, NULL, &opt) == 0 ? 0 : 1;
}
