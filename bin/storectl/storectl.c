/* storectl - the store from the command line, for scripts, admins and
 * on-call engineers: publish and replay events, tail them, re-drive
 * consumers, handle dead letters, list delayed jobs, charge a test card,
 * check every dependency, seed a catalogue.
 *
 * Subcommands come from one table; each cmd_* (lib/ctl_*.c) returns the
 * exit status. Settings come from the services' own environment
 * variables (store(7)). */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "ctl_impl.h"
#include "store/log.h"

static int cmd_help(ctl *c, int argc, char **argv);

static const char help_help[] =
	"usage: storectl help [COMMAND]\n"
	"\n"
	"Prints the list of commands, or the help of COMMAND (the same as\n"
	"storectl COMMAND --help).\n";

static const ctl_cmd commands[] = {
	{ "publish", cmd_publish, "publish an event of the catalogue", ctl_help_publish },
	{ "replay", cmd_replay, "print history, or re-drive consumers from a point",
	  ctl_help_replay },
	{ "tail", cmd_tail, "print events as they are published", ctl_help_tail },
	{ "dead", cmd_dead, "list, retry or drop dead letters", ctl_help_dead },
	{ "jobs", cmd_jobs, "list or count pending delayed jobs", ctl_help_jobs },
	{ "card-charge", cmd_card_charge, "charge a card through the configured provider",
	  ctl_help_card_charge },
	{ "health", cmd_health, "check every dependency and service", ctl_help_health },
	{ "seed", cmd_seed, "load a catalogue through the API", ctl_help_seed },
	{ "help", cmd_help, "this list, or a command's help", help_help },
};

#define NCOMMANDS (sizeof commands / sizeof *commands)

static const char overview_head[] =
	"usage: storectl [--format json|table] [--timeout SECONDS] [-v] COMMAND [ARGS]\n"
	"       storectl help [COMMAND]\n"
	"\n"
	"The command line of Store, for scripts, admins and on-call engineers.\n"
	"Data goes to stdout as JSON lines (one object a line, for jq), or as a\n"
	"table for people with --format table; messages go to stderr.\n"
	"\n"
	"commands:\n";

static const char overview_tail[] =
	"\n"
	"options, before or after the command:\n"
	"  --format json|table   output: JSON lines (default) or a table\n"
	"  --timeout SECONDS     how long to wait for NATS, Redis or a service (5)\n"
	"  -v, --verbose         the library's log lines on stderr (-v -v: debug)\n"
	"  -h, --help            help\n"
	"\n"
	"environment (the services' own, see store(7)):\n"
	"  NATS_URL              NATS with JetStream (nats://127.0.0.1:4222): publish,\n"
	"                        replay, tail, dead, health\n"
	"  STORE_STREAM_MAX_AGE, STORE_ACK_WAIT_MS, STORE_MAX_DELIVER,\n"
	"  STORE_NAK_DELAY_MS    read and checked as the services do; storectl never\n"
	"                        changes the stream's settings\n"
	"  REDIS_URL, STORE_JOBS_PREFIX   delayed jobs: jobs, health\n"
	"  STORE_DB, STORE_PAYMENTS, STRIPE_KEY, STRIPE_API_BASE, STORE_CURRENCY,\n"
	"  STRIPE_CONNECT_TIMEOUT_MS, STRIPE_TIMEOUT_MS   card-charge (STORE_DB: the\n"
	"                        payments database, for the sandbox); health\n"
	"  STORE_MODULE_DIR      folder of db_mongo.so, for a mongodb:// STORE_DB\n"
	"                        (lib/store beside storectl's folder)\n"
	"  STORE_URL, STORE_SEED_PASSWORD   seed\n"
	"\n"
	"exit status:\n"
	"  0   done\n"
	"  1   it failed: a card declined, a consumer that did not catch up, an\n"
	"      unknown dead letter, the API refused\n"
	"  64  usage: a bad command, option or argument, a subject not in the catalogue\n"
	"  65  bad input data: a payload, a file\n"
	"  69  a dependency is unavailable: NATS, Redis, a database, a service,\n"
	"      the card provider (health: something is down)\n"
	"  70  internal error\n"
	"  78  configuration: a missing or malformed setting\n";

static void
overview(FILE *f)
{
	fputs(overview_head, f);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fputs(overview_tail, f);
}

static const ctl_cmd *
find(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int
cmd_help(ctl *c, int argc, char **argv)
{
	const ctl_cmd *cmd;
	char *pos[2];
	int npos, rc;

	if ((rc = ctl_parse(c, NULL, 0, argc, argv, pos, &npos, 0, 1)) != 0)
		return rc == CTL_HELP ? CTL_OK : rc;
	if (npos == 0) {
		overview(stdout);
		return CTL_OK;
	}
	if ((cmd = find(pos[0])) == NULL)
		return ctl_usage(c, "unknown command '%.64s'", pos[0]);
	fputs(cmd->help, stdout);
	return CTL_OK;
}

static volatile sig_atomic_t stopping;

static void
on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

int
main(int argc, char **argv)
{
	ctl c = { .prog = "storectl", .format = CTL_JSON, .timeout_ms = 5000,
	          .stop = &stopping };
	struct sigaction sa;
	int i = 1, rc;

	store_log_init("storectl", STORE_LOG_ERROR);
	c.tty = isatty(STDERR_FILENO) != 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A closed pipe is an error on write, not a death (stdout, Redis). */
	signal(SIGPIPE, SIG_IGN);

	/* Options before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		rc = ctl_common_opt(&c, argc, argv, &i);
		if (rc == CTL_HELP) {
			overview(stdout);
			return CTL_OK;
		}
		if (rc == CTL_USAGE)
			return rc;
		if (rc == 0)
			return ctl_usage(&c, "unknown option '%.64s'", argv[i]);
	}
	if (i >= argc) {
		overview(stderr);
		return CTL_USAGE;
	}
	if ((c.cmd = find(argv[i])) == NULL)
		return ctl_usage(&c, "unknown command '%.64s'", argv[i]);
	rc = c.cmd->fn(&c, argc - i - 1, argv + i + 1);
	if (fflush(stdout) == EOF && !c.broken) {
		fprintf(stderr, "storectl: cannot write to stdout\n");
		return CTL_FAIL;
	}
	return rc == CTL_HELP ? CTL_OK : rc;
}
