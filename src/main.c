/*
 * main.c - argv to the command line front end.
 */
#include <sodium.h>
#include <stdio.h>

#include "cli/cli.h"

int main(int argc, char **argv)
{
    if (sodium_init() < 0) {
        fprintf(stderr, "engage: libsodium cannot start\n");
        return 1;
    }
    return eg_cli_main(argc, argv);
}
