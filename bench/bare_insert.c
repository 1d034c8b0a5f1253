/* bare_insert: the "bare loop" baseline of `make bench` (issue #4).
 *
 * Inserts one credential-sized row per transaction into a fresh SQLite file
 * in WAL mode with synchronous=FULL, for a given number of seconds, and
 * prints the rate. Every COMMIT is durable before the next row starts, as a
 * naive server answering 201 after its own commit would be.
 *
 *   cc -O2 -o bare_insert bench/bare_insert.c -lsqlite3
 *   bare_insert PATH [SECONDS]      ->  "inserts=N seconds=S rate=R"
 *
 * PATH is removed first (with its -wal and -shm files) and left behind.
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(sqlite3 *db, const char *what)
{
    fprintf(stderr, "bare_insert: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(1);
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "bare_insert: %s: %s\n", sql, err ? err : "?");
        exit(1);
    }
}

/* 22 URL-safe characters, like a credential id (C12). */
static void random_id(char out[23], unsigned long long *state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 22; i++) {
        *state ^= *state << 13;
        *state ^= *state >> 7;
        *state ^= *state << 17;
        out[i] = alphabet[*state & 63];
    }
    out[22] = '\0';
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bare_insert PATH [SECONDS]\n");
        return 2;
    }
    const char *path = argv[1];
    double seconds = argc > 2 ? atof(argv[2]) : 5.0;
    if (seconds <= 0 || seconds > 600)
        seconds = 5.0;

    char side[4096];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);

    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK)
        die(db, "open");
    exec(db, "PRAGMA journal_mode=WAL");
    exec(db, "PRAGMA synchronous=FULL");
    /* The same columns as engage's credentials table, primary key only. */
    exec(db, "CREATE TABLE credentials ("
             " tenant_id TEXT NOT NULL, credential_id TEXT NOT NULL,"
             " user_id TEXT NOT NULL, user_email TEXT, user_name TEXT,"
             " access_profile TEXT NOT NULL, valid_from INTEGER NOT NULL,"
             " valid_to INTEGER, created_at INTEGER NOT NULL, revoked_at INTEGER,"
             " PRIMARY KEY (tenant_id, credential_id))");

    sqlite3_stmt *begin = NULL, *ins = NULL, *commit = NULL;
    if (sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "COMMIT", -1, &commit, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
            "INSERT INTO credentials (tenant_id, credential_id, user_id,"
            " user_email, user_name, access_profile, valid_from, valid_to,"
            " created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?, NULL)",
            -1, &ins, NULL) != SQLITE_OK)
        die(db, "prepare");

    unsigned long long state = 0x9E3779B97F4A7C15ULL ^ (unsigned long long)getpid();
    char id[23], user[64];
    long long n = 0;
    double t0 = now_s(), t = t0;
    while (t - t0 < seconds) {
        long long ms = (long long)(t * 1000.0);
        random_id(id, &state);
        snprintf(user, sizeof user, "bench-%lld", n);
        if (sqlite3_step(begin) != SQLITE_DONE)
            die(db, "begin");
        sqlite3_reset(begin);
        sqlite3_bind_text(ins, 1, "tn_benchbenchbench", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 3, user, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 4, "someone@example.com", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, "Some One", -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, "staff", -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 7, ms);
        sqlite3_bind_int64(ins, 8, ms);
        if (sqlite3_step(ins) != SQLITE_DONE)
            die(db, "insert");
        sqlite3_reset(ins);
        if (sqlite3_step(commit) != SQLITE_DONE)
            die(db, "commit");
        sqlite3_reset(commit);
        n++;
        t = now_s();
    }
    double elapsed = t - t0;
    printf("inserts=%lld seconds=%.3f rate=%.1f\n", n, elapsed, (double)n / elapsed);
    sqlite3_finalize(begin);
    sqlite3_finalize(ins);
    sqlite3_finalize(commit);
    sqlite3_close(db);
    return 0;
}
