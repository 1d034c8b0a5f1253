/*
 * cli.h - the admin command line and `serve` (C30).
 */
#ifndef EG_CLI_CLI_H
#define EG_CLI_CLI_H

/* Run engage with argv; returns the process exit status. */
int eg_cli_main(int argc, char **argv);

#endif
