/*  ps_demo: "paystat demo": starts paystat-publish, paystat-compute and
    paystat-ingest, sends the bundled dataset, prints the indicators and the
    article check, and keeps the services running until Ctrl-C. */

#ifndef PS_DEMO_H_INCLUDED
#define PS_DEMO_H_INCLUDED

/*  Runs "paystat demo" with ARGV[0] = "demo". Returns the exit status. */
int ps_demo_main (int argc, char **argv);

#endif
