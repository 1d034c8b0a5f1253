/*
 * writer.h - the single writer of a store, with group commit (C27, DESIGN
 * "Concurrency").
 *
 * Any thread may submit a struct eg_write. One writer thread takes every write
 * that is waiting, applies them in one durable transaction, and only then
 * calls each write's done callback (on the writer's completer thread). A write that
 * arrives while a commit is in flight joins the next batch, so the batch size
 * follows the load: a lone write is committed at once, never after a timer.
 */
#ifndef EG_STORE_WRITER_H
#define EG_STORE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

struct eg_writer;

/* Start the writer thread of s. Returns 0 or EG_EINTERNAL. */
int eg_writer_start(struct eg_store *s, struct eg_writer **out);

/* Queue w (kind, u and actor filled; done set). w->done(w) is called on the
 * completer thread once w->rc is known and, on success, durable. w must stay
 * valid until then. Never blocks on I/O. */
void eg_writer_submit(struct eg_writer *wr, struct eg_write *w);

/* Commit what is queued, stop the thread and free wr. */
void eg_writer_stop(struct eg_writer *wr);

/* Counters for /metrics: batches committed, writes in them, and the total
 * commit time in microseconds. */
void eg_writer_stats(struct eg_writer *wr, uint64_t *batches, uint64_t *writes,
                     uint64_t *commit_us);

#endif
