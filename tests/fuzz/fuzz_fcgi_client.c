/* fuzz_fcgi_client - storectl health's FastCGI client (lib/fcgi_client.c,
 * store_fcgi_get): the records a FastCGI program sends back (headers,
 * padding, STDOUT, END_REQUEST) and the CGI response in them (Status:,
 * the blank line, the body).
 *
 * Input: the bytes the program answers with. A thread of the target plays
 * the program on a unix socket: it reads the whole request, writes the
 * input and closes the connection. */
#include "fuzz.h"

#include <pthread.h>
#include <semaphore.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "store/fcgi.h"

static char sock_path[108];
static int listen_fd = -1;
static const uint8_t *answer;
static size_t answer_len;
static sem_t answered;      /* the program is done with answer */

/* The program: one connection per input. */
static void *
program(void *arg)
{
	unsigned char buf[4096];
	static const unsigned char stdin_end[8] = { 1, 5, 0, 1, 0, 0, 0, 0 };
	size_t have = 0;
	ssize_t n;
	int fd;

	(void)arg;
	for (;;) {
		if ((fd = accept(listen_fd, NULL, NULL)) < 0)
			continue;
		/* The request ends with an empty STDIN record. */
		have = 0;
		while (have < sizeof buf && (n = read(fd, buf + have, sizeof buf - have)) > 0) {
			have += (size_t)n;
			if (have >= 8 && memcmp(buf + have - 8, stdin_end, 8) == 0)
				break;
		}
		for (size_t off = 0; off < answer_len; off += (size_t)n)
			if ((n = send(fd, answer + off, answer_len - off, MSG_NOSIGNAL)) <= 0)
				break;
		close(fd);
		sem_post(&answered);
	}
	return NULL;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	char dir[] = "/tmp/fuzz-fcgi-XXXXXX";
	pthread_t t;

	(void)argc;
	(void)argv;
	fuzz_quiet();
	if (sem_init(&answered, 0, 0) != 0 || mkdtemp(dir) == NULL)
		return 1;
	snprintf(sock_path, sizeof sock_path, "%s/program.sock", dir);
	memcpy(un.sun_path, sock_path, strlen(sock_path) + 1);
	if ((listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(listen_fd, (struct sockaddr *)&un, sizeof un) != 0 ||
	    listen(listen_fd, 16) != 0 || pthread_create(&t, NULL, program, NULL) != 0)
		return 1;
	pthread_detach(t);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char body[256], err[256];
	int status = -1;
	store_err e;

	answer = data;
	answer_len = size;
	e = store_fcgi_get(sock_path, "/readyz", NULL, 5000, &status, body, sizeof body,
	                   err, sizeof err);
	/* The input is freed on return: wait until the program let it go (it
	 * was connected to unless the client refused before dialling). */
	if (e != STORE_EINVAL)
		sem_wait(&answered);
	if (e == STORE_OK && (status < 100 || status > 999 || strlen(body) >= sizeof body))
		abort();
	if (e != STORE_OK && err[0] == '\0')
		abort();
	return 0;
}
