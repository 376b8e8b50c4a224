/*  ps_demo: the three services, the dataset and the article; see ps_demo.h. */

#define _GNU_SOURCE /* mkdtemp, prctl */

#include "ps_demo.h"
#include "ps_article.h"
#include "ps_cli.h"
#include "ps_clock.h"
#include "ps_send.h"
#include "ps_signal.h"
#include "ps_sock.h"
#include "ps_sub.h"
#include "ps_table.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#ifndef PS_SOURCE_DIR
#define PS_SOURCE_DIR "."
#endif

#define S_START_MS  10000 /* for a service to bind its ports */
#define S_STOP_MS   10000 /* for a service to exit after SIGTERM */
#define S_FIRST_MS  3000  /* for the first sync of the (empty) view */
#define S_SETTLE_MS 60000 /* at most, for the feed to go quiet */
#define S_LOG_TAIL  2000  /* bytes of a failed service's log shown */

/*  Endpoints: the five ZeroMQ ones and the dashboard are numbered from
    --port; the services' operations endpoints (/metrics, /healthz, /readyz)
    keep their defaults, 9101-9103, unless --port 0 picks every port. */
enum {
    S_INGEST,
    S_COMPUTE,
    S_PUBLISH,
    S_FEED,
    S_SNAPSHOT,
    S_HTTP,
    S_INGEST_OPS,
    S_COMPUTE_OPS,
    S_PUBLISH_OPS,
    S_NENDPOINTS
};
#define S_NNUMBERED 6    /* from --port: S_INGEST .. S_HTTP */
#define S_OPS_PORT  9101 /* S_INGEST_OPS with a fixed --port */

#define S_NCHILDREN 4 /* publish, compute, ingest, gateway */

typedef struct {
    const char *name; /* "ingest" */
    char exe[PATH_MAX];
    char log[PATH_MAX];
    char dir[PATH_MAX]; /* working directory */
    pid_t pid;          /* 0 when not running */
    int binds[4];       /* endpoints it binds (S_INGEST...), -1 for none */
} s_child_t;

typedef struct {
    int port[S_NENDPOINTS];
    char endpoint[S_NENDPOINTS][64];
    s_child_t child[S_NCHILDREN]; /* started in this order, stopped in the reverse */
} s_demo_t;

static void s_sleep_ms (int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000};
    nanosleep (&ts, NULL);
}

/*  Finds paystat-NAME in DIR or DIR/services/NAME (the build tree). Returns
    -1 when neither is executable or the path would not fit in PATH_MAX. */
static int s_find_in (const char *dir, const char *name, char *out)
{
    int n = snprintf (out, PATH_MAX, "%s/paystat-%s", dir, name);
    if (n > 0 && n < PATH_MAX && access (out, X_OK) == 0)
        return 0;
    n = snprintf (out, PATH_MAX, "%s/services/%s/paystat-%s", dir, name, name);
    return n > 0 && n < PATH_MAX && access (out, X_OK) == 0 ? 0 : -1;
}

/*  Finds paystat-NAME under BIN_DIR, or else next to this executable
    (installed) or in the build tree around it (tools/../services/...). */
static int s_find_exe (const char *bin_dir, const char *name, char *out)
{
    if (bin_dir)
        return s_find_in (bin_dir, name, out);
    char self[PATH_MAX];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr (self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    if (s_find_in (self, name, out) == 0)
        return 0;
    char parent[PATH_MAX + 4];
    snprintf (parent, sizeof parent, "%s/..", self);
    return s_find_in (parent, name, out);
}

/*  Picks N distinct free TCP ports on 127.0.0.1, holding them open
    together while choosing so that they differ. */
static int s_free_ports (int *ports, int n)
{
    int fds[S_NENDPOINTS];
    int rc = 0, opened = 0;
    for (; opened < n && rc == 0; opened++) {
        struct sockaddr_in addr = {.sin_family = AF_INET};
        addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        fds[opened] = socket (AF_INET, SOCK_STREAM, 0);
        if (fds[opened] < 0 || bind (fds[opened], (struct sockaddr *) &addr, sizeof addr) != 0 ||
            getsockname (fds[opened], (struct sockaddr *) &addr, &len) != 0)
            rc = -1;
        ports[opened] = ntohs (addr.sin_port);
    }
    for (int i = 0; i < opened; i++)
        if (fds[i] >= 0)
            close (fds[i]);
    return rc;
}

static bool s_port_open (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port)};
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool open = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return open;
}

static void s_print_log_tail (const s_child_t *child)
{
    FILE *log = fopen (child->log, "r");
    if (!log)
        return;
    if (fseek (log, -S_LOG_TAIL, SEEK_END) != 0)
        rewind (log);
    fprintf (stderr, "----- %s (last lines) -----\n", child->log);
    char buf[512];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, log)) > 0)
        fwrite (buf, 1, n, stderr);
    fclose (log);
}

/*  Checks whether CHILD is still running; reports it when it is not. */
static bool s_alive (s_child_t *child)
{
    if (child->pid <= 0)
        return false;
    int status;
    if (waitpid (child->pid, &status, WNOHANG) != child->pid)
        return true;
    child->pid = 0;
    if (WIFSIGNALED (status))
        fprintf (stderr, "paystat demo: paystat-%s was killed by signal %d\n", child->name,
                 WTERMSIG (status));
    else
        fprintf (stderr, "paystat demo: paystat-%s exited with status %d\n", child->name,
                 WEXITSTATUS (status));
    s_print_log_tail (child);
    return false;
}

static pid_t s_spawn (const s_child_t *child, char **args)
{
    pid_t pid = fork ();
    if (pid != 0)
        return pid;
    /* Child: its own process group, so that Ctrl-C reaches the demo only
       and the demo stops the services in order; killed if the demo dies. */
    setpgid (0, 0);
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    signal (SIGPIPE, SIG_DFL);
    int log = open (child->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    int null = open ("/dev/null", O_RDONLY);
    if (log < 0 || null < 0 || chdir (child->dir) != 0)
        _exit (127);
    dup2 (null, STDIN_FILENO);
    dup2 (log, STDOUT_FILENO);
    dup2 (log, STDERR_FILENO);
    execv (child->exe, args);
    dprintf (STDERR_FILENO, "cannot run %s: %s\n", child->exe, strerror (errno));
    _exit (127);
}

/*  Starts CHILD and waits until every endpoint it binds accepts TCP
    connections. Returns 0, or -1 after saying why. */
static int s_start (s_demo_t *demo, s_child_t *child, char **args)
{
    if (mkdir (child->dir, 0755) != 0 && errno != EEXIST) {
        fprintf (stderr, "paystat demo: cannot create %s: %s\n", child->dir, strerror (errno));
        return -1;
    }
    child->pid = s_spawn (child, args);
    if (child->pid < 0) {
        fprintf (stderr, "paystat demo: cannot fork: %s\n", strerror (errno));
        child->pid = 0;
        return -1;
    }
    int64_t deadline = ps_clock_ms () + S_START_MS;
    for (int i = 0; i < 4; i++) {
        int e = child->binds[i];
        while (e >= 0 && !s_port_open (demo->port[e])) {
            if (!s_alive (child))
                return -1;
            if (ps_signal_stop ())
                return -1;
            if (ps_clock_ms () > deadline) {
                fprintf (stderr, "paystat demo: paystat-%s did not bind %s within %d ms\n",
                         child->name, demo->endpoint[e], S_START_MS);
                s_print_log_tail (child);
                return -1;
            }
            s_sleep_ms (20);
        }
    }
    return 0;
}

/*  SIGTERM, then up to S_STOP_MS for a clean exit, then SIGKILL. Returns
    0 when it exited with status 0. */
static int s_stop (s_child_t *child)
{
    if (child->pid <= 0)
        return 0;
    kill (child->pid, SIGTERM);
    int status = 0;
    int64_t deadline = ps_clock_ms () + S_STOP_MS;
    pid_t done;
    while ((done = waitpid (child->pid, &status, WNOHANG)) == 0 && ps_clock_ms () < deadline)
        s_sleep_ms (20);
    if (done == 0) {
        fprintf (stderr, "paystat demo: paystat-%s did not stop within %d ms; killing it\n",
                 child->name, S_STOP_MS);
        kill (child->pid, SIGKILL);
        waitpid (child->pid, &status, 0);
        child->pid = 0;
        return -1;
    }
    child->pid = 0;
    if (done < 0 || !WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        fprintf (stderr, "paystat demo: paystat-%s did not exit cleanly (see %s)\n", child->name,
                 child->log);
        return -1;
    }
    return 0;
}

/*  Feeds every topic message into TABLE until none has come for QUIET_MS.
    Returns the number of messages. */
static long s_settle (ps_sub_t *sub, ps_table_t *table, long quiet_ms)
{
    long count = 0;
    int64_t start = ps_clock_ms (), last = start;
    for (;;) {
        int64_t now = ps_clock_ms ();
        if (now - last >= quiet_ms || now - start >= S_SETTLE_MS)
            return count;
        json_t *msg = NULL;
        ps_client_event_type_t type;
        int rc = ps_sub_recv (sub, (int) (last + quiet_ms - now), &type, &msg);
        if (rc < 0)
            return count;
        if (rc > 0 && (type == PS_CLIENT_UPDATE || type == PS_CLIENT_REMOVED)) {
            ps_table_update (table, msg);
            last = ps_clock_ms ();
            count++;
        }
        json_decref (msg);
    }
}

/* ---- Command line ------------------------------------------------------- */

static ps_option_t s_options[] = {
    {"bin-dir", "PAYSTAT_BIN_DIR", NULL, "where the services are (see above)", false, NULL},
    {"data", NULL, PS_SOURCE_DIR "/data/morocco-2011-2012.csv", "dataset to send", false, NULL},
    {"ratios", NULL, PS_SOURCE_DIR "/data/ratios.conf", "ratio definitions for paystat-compute",
     false, NULL},
    {"port", NULL, "7401",
     "first of 6 ports: ingest, compute, publish, feed, snapshot, dashboard (0: any free, "
     "also for the services' /metrics ports, else 9101-9103)",
     false, NULL},
    {"log-dir", NULL, NULL, "services' logs (default: a new directory in /tmp)", false, NULL},
    {"quiet-ms", NULL, "1500", "the feed is settled after this long without an update", false,
     NULL},
    {"no-wait", NULL, NULL, "stop the services and exit right after printing", true, NULL},
    PS_CLI_LOG_OPTION,
    PS_OPTION_END};

static const char *s_description =
    "Starts paystat-publish, paystat-compute (with --ratios), paystat-ingest and\n"
    "paystat-gateway on 127.0.0.1, sends the dataset, waits until the feed is quiet\n"
    "and prints the send summary, the table of indicators and the article check:\n"
    "each figure of the 2012 article on Moroccan online card payments next to\n"
    "paystat's, rounded as the article rounds it. Then prints the live dashboard's\n"
    "URL and keeps the services running (Ctrl-C stops them) unless --no-wait.\n"
    "The services are paystat-<name> in --bin-dir or in its services/<name>/, else\n"
    "next to paystat (installed) or in ../services/<name>/ from it (build tree).\n"
    "\n"
    "Exit status: 0 every row accepted and every figure matching, 1 otherwise,\n"
    "2 usage, 3 a service failed, 130 interrupted before the check.";

/*  Runs the demo once the children are known; returns the exit status. */
static int s_run (s_demo_t *demo, const char *data, long quiet_ms, bool no_wait)
{
    void *ctx = zmq_ctx_new ();
    ps_sub_t *sub =
        ctx ? ps_sub_new (ctx, demo->endpoint[S_FEED], demo->endpoint[S_SNAPSHOT], NULL, 0, 0, NULL)
            : NULL;
    ps_table_t *table = ps_table_new ();
    int status = PS_EXIT_UNREACHABLE;
    if (!sub || !table)
        goto done;
    /* The first sync proves the subscription is live (no slow joiner). */
    ps_client_event_type_t type = 0;
    int64_t give_up = ps_clock_ms () + S_FIRST_MS;
    while (type != PS_CLIENT_SYNCED && ps_clock_ms () < give_up) {
        json_t *first = NULL;
        if (ps_sub_recv (sub, (int) (give_up - ps_clock_ms ()), &type, &first) <= 0)
            break;
        json_decref (first);
    }
    if (type != PS_CLIENT_SYNCED)
        fprintf (stderr, "paystat demo: no snapshot from %s yet; going on\n",
                 demo->endpoint[S_SNAPSHOT]);

    char producer[PS_ID_MAX + 1];
    ps_sender_default_producer (producer);
    ps_send_job_t job = {data,
                         ps_input_format_guess (data),
                         {demo->endpoint[S_INGEST], producer, 1, 500, 4, 3000, 5, NULL},
                         false};
    printf ("Sending %s\n", data);
    fflush (stdout);
    status = ps_send_run (ctx, &job, stdout);
    long updates = s_settle (sub, table, quiet_ms);
    if (ps_signal_stop ()) {
        status = PS_EXIT_INTERRUPTED;
        goto done;
    }
    printf ("\nIndicators (%ld feed messages, %zu topics)\n\n", updates, ps_table_size (table));
    ps_table_print (table, stdout);
    printf ("\nArticle check\n\n");
    int differ = ps_article_check (table, stdout);
    fflush (stdout);
    if (status == PS_EXIT_OK && differ > 0)
        status = PS_EXIT_REJECTED;
    ps_sub_destroy (&sub);
    if (!no_wait) {
        printf ("\nDashboard: %s\n", demo->endpoint[S_HTTP]);
        printf ("Metrics (ingest, compute, publish): http://127.0.0.1:%d/metrics "
                "http://127.0.0.1:%d/metrics http://127.0.0.1:%d/metrics\n",
                demo->port[S_INGEST_OPS], demo->port[S_COMPUTE_OPS], demo->port[S_PUBLISH_OPS]);
        printf ("\nServices running: ingest %s, feed %s, snapshot %s\n"
                "Try: paystat sub --table --feed %s --snapshot %s\n"
                "     paystat send --ingest %s FILE\n"
                "Ctrl-C stops them.\n",
                demo->endpoint[S_INGEST], demo->endpoint[S_FEED], demo->endpoint[S_SNAPSHOT],
                demo->endpoint[S_FEED], demo->endpoint[S_SNAPSHOT], demo->endpoint[S_INGEST]);
        fflush (stdout);
        while (!ps_signal_stop ()) {
            bool all = true;
            for (int i = 0; i < S_NCHILDREN; i++)
                all &= s_alive (&demo->child[i]);
            if (!all) {
                status = PS_EXIT_UNREACHABLE;
                break;
            }
            s_sleep_ms (200);
        }
    }
done:
    ps_table_destroy (&table);
    ps_sub_destroy (&sub);
    if (ctx)
        zmq_ctx_term (ctx);
    return status;
}

int ps_demo_main (int argc, char **argv)
{
    const char *program = "paystat demo";
    int first;
    int rc = ps_config_parse (s_options, argc, argv, program, "[options]", s_description, &first);
    if (rc != 0)
        return rc > 0 ? PS_EXIT_OK : PS_EXIT_USAGE;
    long base, quiet_ms;
    if (ps_cli_log_init (s_options, program) != 0 ||
        ps_config_long (s_options, "port", 0, 65535 - S_NNUMBERED + 1, &base) != 0 ||
        ps_config_long (s_options, "quiet-ms", 1, 600000, &quiet_ms) != 0)
        return PS_EXIT_USAGE;
    if (first != argc) {
        fprintf (stderr, "%s: unexpected argument '%s' (see --help)\n", program, argv[first]);
        return PS_EXIT_USAGE;
    }
    s_demo_t demo = {
        .child = {{"publish", "", "", "", 0, {S_PUBLISH, S_FEED, S_SNAPSHOT, S_PUBLISH_OPS}},
                  {"compute", "", "", "", 0, {S_COMPUTE, S_COMPUTE_OPS, -1, -1}},
                  {"ingest", "", "", "", 0, {S_INGEST, S_INGEST_OPS, -1, -1}},
                  {"gateway", "", "", "", 0, {S_HTTP, -1, -1, -1}}}};
    const char *bin_dir = ps_config_get (s_options, "bin-dir")->value;
    for (int i = 0; i < S_NCHILDREN; i++)
        if (s_find_exe (bin_dir, demo.child[i].name, demo.child[i].exe) != 0) {
            fprintf (stderr,
                     "%s: cannot find paystat-%s %s%s (give its directory with --bin-dir)\n",
                     program, demo.child[i].name, bin_dir ? "in " : "next to paystat",
                     bin_dir ? bin_dir : "");
            return PS_EXIT_USAGE;
        }
    if (base == 0 && s_free_ports (demo.port, S_NENDPOINTS) != 0) {
        fprintf (stderr, "%s: cannot find free TCP ports: %s\n", program, strerror (errno));
        return PS_EXIT_UNREACHABLE;
    }
    for (int e = 0; e < S_NENDPOINTS; e++) {
        if (base != 0)
            demo.port[e] = e < S_NNUMBERED ? (int) base + e : S_OPS_PORT + e - S_INGEST_OPS;
        snprintf (demo.endpoint[e], sizeof demo.endpoint[e], "tcp://127.0.0.1:%d", demo.port[e]);
    }
    snprintf (demo.endpoint[S_HTTP], sizeof demo.endpoint[S_HTTP], "http://127.0.0.1:%d/",
              demo.port[S_HTTP]);
    char log_dir[PATH_MAX];
    const char *given = ps_config_get (s_options, "log-dir")->value;
    snprintf (log_dir, sizeof log_dir, "%s", given ? given : "/tmp/paystat-demo-XXXXXX");
    if (given ? (mkdir (log_dir, 0755) != 0 && errno != EEXIST) : !mkdtemp (log_dir)) {
        fprintf (stderr, "%s: cannot create log directory %s: %s\n", program, log_dir,
                 strerror (errno));
        return PS_EXIT_USAGE;
    }
    printf ("paystat demo: services' logs in %s\n", log_dir);
    fflush (stdout);
    for (int i = 0; i < S_NCHILDREN; i++) {
        s_child_t *c = &demo.child[i];
        snprintf (c->log, sizeof c->log, "%.*s/%s.log", PATH_MAX - 16, log_dir, c->name);
        snprintf (c->dir, sizeof c->dir, "%.*s/%s", PATH_MAX - 16, log_dir, c->name);
    }
    const char *ratios = ps_config_get (s_options, "ratios")->value;
    char **ep = (char *[]){demo.endpoint[0], demo.endpoint[1], demo.endpoint[2], demo.endpoint[3],
                           demo.endpoint[4]};
    char listen[4][32]; /* the dashboard, then ingest's, compute's and publish's ops */
    for (int i = 0; i < 4; i++)
        snprintf (listen[i], sizeof listen[i], "127.0.0.1:%d",
                  demo.port[i == 0 ? S_HTTP : S_INGEST_OPS + i - 1]);
    char *publish_args[] = {demo.child[0].exe, "--bind",       ep[S_PUBLISH], "--feed",  ep[S_FEED],
                            "--snapshot",      ep[S_SNAPSHOT], "--http",      listen[3], NULL};
    char *compute_args[] = {demo.child[1].exe, "--bind",   ep[S_COMPUTE],   "--publish",
                            ep[S_PUBLISH],     "--ratios", (char *) ratios, "--http",
                            listen[2],         NULL};
    char *ingest_args[] = {demo.child[2].exe, "--bind", ep[S_INGEST], "--compute",
                           ep[S_COMPUTE],     "--http", listen[1],    NULL};
    char *gateway_args[] = {demo.child[3].exe, "--feed",   ep[S_FEED], "--snapshot",
                            ep[S_SNAPSHOT],    "--listen", listen[0],  NULL};
    char **args[S_NCHILDREN] = {publish_args, compute_args, ingest_args, gateway_args};

    ps_signal_install ();
    int status = PS_EXIT_OK;
    for (int i = 0; i < S_NCHILDREN && status == PS_EXIT_OK; i++)
        if (s_start (&demo, &demo.child[i], args[i]) != 0)
            status = ps_signal_stop () ? PS_EXIT_INTERRUPTED : PS_EXIT_UNREACHABLE;
    if (status == PS_EXIT_OK)
        status = s_run (&demo, ps_config_get (s_options, "data")->value, quiet_ms,
                        ps_config_flag (s_options, "no-wait"));
    /* Upstream first, so that what is in flight drains downstream. */
    for (int i = S_NCHILDREN - 1; i >= 0; i--)
        if (s_stop (&demo.child[i]) != 0 && status == PS_EXIT_OK)
            status = PS_EXIT_UNREACHABLE;
    return status;
}
