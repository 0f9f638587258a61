#include "history_writer.h"
#include "history_proofs.h"

#include "kiln/error.h"
#include "kiln/history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct kiln_history_job {
  uv_work_t work;
  struct kiln_history_writer *w;
  struct kiln_history_job *next;
  const char *commit;
  const struct kiln_pass_app *apps;
  size_t n;
  int64_t now_ms;
  const struct kiln_spec_repo *proofs_for;
  struct kiln_proofs *proofs;
  /* A collection's deletions instead of a pass (NULL: a pass). */
  const struct kiln_history_collection *collection;
  kiln_history_written_cb *done;
  void *data;
  int err;
  char why[512];
};

void kiln_history_writer_init(struct kiln_history_writer *w, uv_loop_t *loop,
                              struct kiln_history *h)
{
  memset(w, 0, sizeof(*w));
  w->loop = loop;
  w->h = h;
}

/* On the thread pool: the job and the store are this thread's alone. */
static void write_work(uv_work_t *req)
{
  struct kiln_history_job *j = req->data;
  j->err = j->collection != NULL
               ? kiln_history_record_collection(j->w->h, j->collection, j->n,
                                                j->now_ms)
               : kiln_history_record_pass(j->w->h, j->commit, j->apps, j->n,
                                          j->now_ms);
  if (j->err != 0)
    snprintf(j->why, sizeof(j->why), "%s", kiln_history_errmsg(j->w->h));
  if (j->proofs_for != NULL && (j->proofs = calloc(1, sizeof(*j->proofs))) &&
      kiln_history_proofs_load(j->w->h, j->proofs_for, j->proofs) != 0) {
    kiln_proofs_cleanup(j->proofs);
    free(j->proofs);
    j->proofs = NULL;
  }
}

static void next(struct kiln_history_writer *w);

static void write_done(uv_work_t *req, int status)
{
  struct kiln_history_job *j = req->data;
  struct kiln_history_writer *w = j->w;

  if (status != 0 && j->err == 0) {
    j->err = KILN_EINTERNAL;
    snprintf(j->why, sizeof(j->why), "the write was cancelled");
  }
  j->err != 0 ? w->failed++ : w->written++;
  w->busy = false;
  j->done(j->err, j->why, j->proofs, j->data);
  free(j);
  next(w);
}

static void next(struct kiln_history_writer *w)
{
  struct kiln_history_job *j = w->head;

  if (w->busy || j == NULL)
    return;
  w->head = j->next;
  if (w->head == NULL)
    w->tail = NULL;
  w->busy = true;
  j->work.data = j;
  if (uv_queue_work(w->loop, &j->work, write_work, write_done) != 0) {
    /* uv_queue_work fails only on a missing callback: should it ever,
     * the record is dropped and the owner told. */
    j->err = KILN_EINTERNAL;
    snprintf(j->why, sizeof(j->why), "cannot queue the write");
    w->busy = false;
    w->failed++;
    j->done(j->err, j->why, NULL, j->data);
    free(j);
    next(w);
  }
}

static void enqueue(struct kiln_history_writer *w, struct kiln_history_job *j)
{
  if (w->tail != NULL)
    w->tail->next = j;
  else
    w->head = j;
  w->tail = j;
  next(w);
}

int kiln_history_writer_submit(struct kiln_history_writer *w,
                               const char *commit,
                               const struct kiln_pass_app *apps, size_t n,
                               int64_t now_ms,
                               const struct kiln_spec_repo *proofs_for,
                               kiln_history_written_cb *done, void *data)
{
  struct kiln_history_job *j = calloc(1, sizeof(*j));

  if (j == NULL)
    return KILN_ENOMEM;
  *j = (struct kiln_history_job){.w = w,
                                 .commit = commit,
                                 .apps = apps,
                                 .n = n,
                                 .now_ms = now_ms,
                                 .proofs_for = proofs_for,
                                 .done = done,
                                 .data = data};
  enqueue(w, j);
  return 0;
}

int kiln_history_writer_submit_collection(
    struct kiln_history_writer *w, const struct kiln_history_collection *items,
    size_t n, int64_t now_ms, kiln_history_written_cb *done, void *data)
{
  struct kiln_history_job *j = calloc(1, sizeof(*j));

  if (j == NULL)
    return KILN_ENOMEM;
  *j = (struct kiln_history_job){.w = w,
                                 .collection = items,
                                 .n = n,
                                 .now_ms = now_ms,
                                 .done = done,
                                 .data = data};
  enqueue(w, j);
  return 0;
}

bool kiln_history_writer_busy(const struct kiln_history_writer *w)
{
  return w->busy || w->head != NULL;
}
