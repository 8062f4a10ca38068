/*
 * LD_PRELOAD shim for load generators (smtp-source, imaptest) in bench/run:
 * binds every IPv4 TCP socket to the next address of $BENCH_SRC_ADDRS
 * (space-separated, e.g. "127.0.0.1 127.0.0.65 127.0.0.129 127.0.0.193")
 * before it connects, so that many connections come from several loopback
 * addresses. moxd admits at most 30 concurrent connections from one IPv4
 * address and 90 from one /26 (mox's limits), so 100 connections from
 * 127.0.0.1 alone would be refused.
 *
 * Build: gcc -shared -fPIC -O2 -o srcaddr.so srcaddr.c -ldl
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Most source addresses used. */
#define MAX_ADDRS 16

static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static struct in_addr addrs[MAX_ADDRS];
static int naddrs = -1;
static unsigned next;

static void load_addrs(void)
{
    const char *env = getenv("BENCH_SRC_ADDRS");
    char buf[512], *tok, *save = NULL;

    naddrs = 0;
    if (env == NULL || strlen(env) >= sizeof(buf))
        return;
    strcpy(buf, env);
    for (tok = strtok_r(buf, " ", &save); tok != NULL && naddrs < MAX_ADDRS;
         tok = strtok_r(NULL, " ", &save))
        if (inet_pton(AF_INET, tok, &addrs[naddrs]) == 1)
            naddrs++;
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
    if (real_connect == NULL)
        real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    if (naddrs < 0)
        load_addrs();
    if (naddrs > 0 && sa != NULL && sa->sa_family == AF_INET) {
        int type = 0;
        socklen_t tl = sizeof(type);
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_STREAM) {
            struct sockaddr_in src;
            memset(&src, 0, sizeof(src));
            src.sin_family = AF_INET;
            src.sin_addr = addrs[__atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % (unsigned)naddrs];
            /* A failed bind leaves the kernel's choice: the connection still works. */
            (void)bind(fd, (struct sockaddr *)&src, sizeof(src));
        }
    }
    return real_connect(fd, sa, len);
}
