/* Writes each pass's record to the history store on the uv thread pool,
 * so the loop never waits on SQLite's fsync.
 *
 * Records are written in the order they were submitted, one at a time
 * (the store's handle is never used by two threads at once). A submitted
 * record borrows the caller's commit and apps until its done callback runs
 * on the loop; the caller keeps them alive and unchanged until then.
 */
#ifndef KILN_CONTROLLER_HISTORY_WRITER_H
#define KILN_CONTROLLER_HISTORY_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct kiln_history;
struct kiln_pass_app;

struct kiln_proofs;
struct kiln_spec_repo;

/* The record was written (err 0) or not (err, why says why). proofs: the
 * promotion proofs read after it, when asked for and read (the callee
 * takes them: kiln_proofs_cleanup() and free()), else NULL. Loop thread. */
typedef void kiln_history_written_cb(int err, const char *why,
                                     struct kiln_proofs *proofs, void *data);

struct kiln_history_job;

struct kiln_history_writer {
  uv_loop_t *loop;
  struct kiln_history *h; /* used only by the job in flight */
  struct kiln_history_job *head, *tail;
  bool busy;
  uint64_t written, failed;
};

void kiln_history_writer_init(struct kiln_history_writer *w, uv_loop_t *loop,
                              struct kiln_history *h);

/* Queues the record of a pass at commit over apps[0..n), at now_ms, and
 * then (proofs_for not NULL: a snapshot the caller keeps alive until done)
 * the read of that snapshot's promotion proofs, with the record in them.
 * done always runs later on the loop. Returns 0 or KILN_ENOMEM (done never
 * runs). */
int kiln_history_writer_submit(struct kiln_history_writer *w,
                               const char *commit,
                               const struct kiln_pass_app *apps, size_t n,
                               int64_t now_ms,
                               const struct kiln_spec_repo *proofs_for,
                               kiln_history_written_cb *done, void *data);

/* Queues the record of a collection's deletions (items borrowed until
 * done runs). done gets no proofs. Returns 0 or KILN_ENOMEM. */
struct kiln_history_collection;
int kiln_history_writer_submit_collection(
    struct kiln_history_writer *w, const struct kiln_history_collection *items,
    size_t n, int64_t now_ms, kiln_history_written_cb *done, void *data);

/* Records queued or in flight. */
bool kiln_history_writer_busy(const struct kiln_history_writer *w);

#endif
