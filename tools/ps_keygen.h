/*  ps_keygen: "paystat keygen NAME", a CURVE key pair for a producer, a
    subscriber or a service, in the files ps_curve reads. */

#ifndef PS_KEYGEN_H_INCLUDED
#define PS_KEYGEN_H_INCLUDED

/*  Runs "paystat keygen" with ARGV[0] = "keygen". Returns the exit
    status: 0 written, 1 not written (a file exists, the directory is not
    writable), 2 usage (a bad name). */
int ps_keygen_main (int argc, char **argv);

#endif
