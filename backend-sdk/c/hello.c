/* hello: the shortest nanogate worker in C (docs/sdk-c.md).
 *
 *   cc -O2 -pthread -o hello hello.c nanogate_worker.c -lnanomsg
 *   ./hello ipc:///tmp/nanogate-api.sock
 *   nanogate --route /=ipc:///tmp/nanogate-api.sock
 */
#include <stdio.h>

#include "nanogate_worker.h"

static int hello(ng_request *req, ng_response *w, void *ctx)
{
    (void)req, (void)ctx;
    ng_add_header(w, "Content-Type", "text/plain; charset=utf-8");
    return ng_write_str(w, "hello\n");
}

int main(int argc, char **argv)
{
    const char *url = argc > 1 ? argv[1] : "ipc:///tmp/nanogate-api.sock";
    return ng_serve(url, 1, hello, NULL) == 0 ? 0 : 1;
}
