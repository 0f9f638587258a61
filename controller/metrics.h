/* /metrics: the daemon's state in Prometheus's text format (0.0.4), read
 * from the status model, the pass statistics and the AWS clients. */
#ifndef KILN_CONTROLLER_METRICS_H
#define KILN_CONTROLLER_METRICS_H

struct kiln_buf;
struct kiln__daemon;

void kiln__metrics_render(const struct kiln__daemon *d, struct kiln_buf *b);

#endif
