/* clib-hello: make bench's hello contender on the C worker library
 * (backend-sdk/c/nanogate_worker.h): "hello world" (payload.Hello) to
 * every request, as the other hello contenders answer /hello.
 *
 *   cc -O2 -pthread -I backend-sdk/c -o clib-hello main.c backend-sdk/c/nanogate_worker.c -lnanomsg
 *   NANOGATE_THREADS=64 ./clib-hello ipc:///tmp/bench.sock
 */
#include "nanogate_worker.h"

static int hello(ng_request *req, ng_response *w, void *ctx)
{
    (void)req, (void)ctx;
    ng_add_header(w, "Content-Type", "text/plain; charset=utf-8");
    return ng_write_str(w, "hello world");
}

int main(int argc, char **argv)
{
    return argc == 2 && ng_serve(argv[1], 1, hello, 0) == 0 ? 0 : 1;
}
