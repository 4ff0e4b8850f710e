/*
 * modnano_worker: a nanogate worker written the way Apache mod_nano's
 * workers are, with libnanomsg and a REP socket that binds. nanogate's
 * end-to-end tests run it to prove that such workers work unchanged.
 *
 *   cc -O2 -Wall -Wextra -o modnano_worker modnano_worker.c -lnanomsg
 *   ./modnano_worker ipc:///tmp/nanogate-api.sock        # "hello world"
 *   ./modnano_worker ipc:///tmp/nanogate-api.sock echo   # the request line
 *
 * As mod_nano's sample worker, the reply has no Content-Length: the body is
 * the rest of the message.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nanomsg/nn.h>
#include <nanomsg/reqrep.h>

static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "echo") != 0)) {
        fprintf(stderr, "usage: %s URL [echo]\n", argv[0]);
        return 2;
    }
    int echo = argc == 3;

    int s = nn_socket(AF_SP, NN_REP);
    if (s < 0) {
        fprintf(stderr, "nn_socket: %s\n", nn_strerror(nn_errno()));
        return 1;
    }
    /* libnanomsg drops messages over 1 MiB by default; take up to 64 MiB. */
    int maxsz = 64 << 20;
    nn_setsockopt(s, NN_SOL_SOCKET, NN_RCVMAXSIZE, &maxsz, sizeof maxsz);
    if (nn_bind(s, argv[1]) < 0) {
        fprintf(stderr, "nn_bind %s: %s\n", argv[1], nn_strerror(nn_errno()));
        return 1;
    }

    for (;;) {
        char *buf = NULL;
        int n = nn_recv(s, &buf, NN_MSG, 0);
        if (n < 0) {
            if (nn_errno() == EINTR)
                continue;
            fprintf(stderr, "nn_recv: %s\n", nn_strerror(nn_errno()));
            break;
        }
        size_t line = 0; /* the request line, without its CRLF */
        if (echo) {
            char *lf = memchr(buf, '\n', (size_t)n);
            line = lf ? (size_t)(lf - buf) : (size_t)n;
            if (line > 0 && buf[line - 1] == '\r')
                line--;
        }
        size_t len = sizeof head - 1 + (echo ? line : strlen("hello world"));
        char *reply = malloc(len);
        if (reply == NULL) {
            nn_freemsg(buf);
            break;
        }
        memcpy(reply, head, sizeof head - 1);
        memcpy(reply + sizeof head - 1, echo ? buf : "hello world", len - (sizeof head - 1));
        nn_freemsg(buf);
        if (nn_send(s, reply, len, 0) < 0)
            fprintf(stderr, "nn_send: %s\n", nn_strerror(nn_errno()));
        free(reply);
    }
    nn_close(s);
    return 1;
}
