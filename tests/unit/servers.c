/* servers.c - real servers for the unit tests (servers.h). */
#include "servers.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NS_MS 1000000LL

static pid_t *watched_pid;
static const char *watched_dir;

long long
servers_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / NS_MS;
}

void
servers_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * NS_MS };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

bool
servers_find(const char *name, char *path, size_t pathlen)
{
	const char *env = getenv("PATH");
	char buf[4096];

	snprintf(buf, sizeof buf, "%s:/usr/sbin:/usr/local/sbin:/sbin",
	         env != NULL ? env : "/usr/bin:/bin");
	for (char *dir = strtok(buf, ":"); dir != NULL; dir = strtok(NULL, ":")) {
		snprintf(path, pathlen, "%s/%s", dir, name);
		if (access(path, X_OK) == 0)
			return true;
	}
	return false;
}

int
servers_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		p = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return p;
}

bool
servers_port_open(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	bool ok;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

pid_t
servers_spawn(const char *path, char *const argv[], const char *logpath)
{
	pid_t pid, parent = getpid();
	int fd;

	pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);   /* never outlive the test */
	if (getppid() != parent)
		_exit(1);
	fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	execv(path, argv);
	_exit(127);
}

bool
servers_wait(bool (*ready)(void), long ms)
{
	long long until = servers_now_ms() + ms;

	while (!ready() && servers_now_ms() < until)
		servers_sleep_ms(20);
	return ready();
}

void
servers_stop(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, NULL, 0);
	*pid = -1;
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void
servers_cleanup(void)
{
	if (watched_pid != NULL)
		servers_stop(watched_pid);
	/* A template mkdtemp did not fill was never made. */
	if (watched_dir != NULL && strstr(watched_dir, "XXXXXX") == NULL)
		nftw(watched_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	watched_dir = NULL;
}

void
servers_on_signal(int sig)
{
	if (watched_pid != NULL && *watched_pid > 0)
		kill(*watched_pid, SIGKILL);
	signal(sig, SIG_DFL);
	raise(sig);
}

void
servers_watch(pid_t *pid, const char *dir)
{
	watched_pid = pid;
	watched_dir = dir;
	atexit(servers_cleanup);
	signal(SIGINT, servers_on_signal);
	signal(SIGTERM, servers_on_signal);
}
