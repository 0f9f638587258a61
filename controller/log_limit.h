/* Rate limit for log lines that outsiders can cause (refused connections,
 * malformed requests, badly signed hooks): per (kind, peer), the first
 * `burst` events of a window are logged, the others only counted, and
 * when the window ends each (kind, peer) that lost lines gets one summary
 * ("... and 12345 more in the last 10 s").
 *
 * Pure: no I/O, no clock (time is passed in), no allocation; the caller
 * logs. Bounded: at most KILN_LOG_LIMIT_SLOTS (kind, peer) pairs per
 * window, and at most max_lines logged per window in all; events beyond
 * the table are counted under the peer "others". So a window produces at
 * most max_lines + KILN_LOG_LIMIT_SLOTS lines whatever the clients do.
 */
#ifndef KILN_CONTROLLER_LOG_LIMIT_H
#define KILN_CONTROLLER_LOG_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KILN_LOG_LIMIT_SLOTS    64
#define KILN_LOG_LIMIT_KIND_MAX 24 /* bytes, with the NUL; longer is cut */
#define KILN_LOG_LIMIT_PEER_MAX 48
#define KILN_LOG_LIMIT_OTHERS   "others"

struct kiln_log_limit_slot {
  char kind[KILN_LOG_LIMIT_KIND_MAX];
  char peer[KILN_LOG_LIMIT_PEER_MAX];
  uint64_t logged;
  uint64_t suppressed;
};

struct kiln_log_limit {
  uint64_t window_ms;
  unsigned burst;     /* per (kind, peer) and window */
  unsigned max_lines; /* all kinds and peers, per window */
  bool open;          /* a window has started */
  uint64_t window_start_ms;
  unsigned lines; /* logged in this window */
  size_t n;       /* slots in use */
  struct kiln_log_limit_slot slots[KILN_LOG_LIMIT_SLOTS];
};

/* A window's account of one (kind, peer) that lost lines. */
typedef void kiln_log_limit_summary_cb(const char *kind, const char *peer,
                                       uint64_t suppressed, uint64_t window_ms,
                                       void *data);

/* window_ms, burst and max_lines must be > 0. */
void kiln_log_limit_init(struct kiln_log_limit *l, uint64_t window_ms,
                         unsigned burst, unsigned max_lines);

/* An event of kind from peer (its address, no port) at now_ms. Ends a
 * window that is over first (summaries to cb, which may be NULL). Returns
 * true when the event should be logged, false when it was only counted. */
bool kiln_log_limit_take(struct kiln_log_limit *l, const char *kind,
                         const char *peer, uint64_t now_ms,
                         kiln_log_limit_summary_cb *cb, void *data);

/* Ends the window if it is over at now_ms (or at once when force), passing
 * each (kind, peer) that lost lines to cb. Call it from a timer, so that
 * the summary of the last burst is not held back until the next event,
 * and with force at exit. */
void kiln_log_limit_flush(struct kiln_log_limit *l, uint64_t now_ms, bool force,
                          kiln_log_limit_summary_cb *cb, void *data);

#endif
