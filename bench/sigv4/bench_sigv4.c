/* Signing throughput of Kiln's SigV4 signer.
 *
 * Usage: kiln-sigv4-bench SECONDS < requests.jsonl
 * Reads requests (tests/aws_tests/sigv4_jsonl.h format), then signs all of
 * them over and over for about SECONDS and prints
 * {"signed": N, "seconds": S, "per_second": R}. Run through bench/sigv4/run,
 * which feeds botocore the same requests.
 */
#include "kiln/error.h"
#include "sigv4_jsonl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  struct kiln_buf line;
  struct kiln_sigv4_result r;
  struct input *ins = NULL, *grown;
  size_t n = 0, cap = 0, i;
  unsigned long long count = 0;
  double seconds, start, elapsed;
  int rc = 0;

  if (argc != 2 || (seconds = atof(argv[1])) <= 0) {
    fprintf(stderr, "usage: kiln-sigv4-bench SECONDS < requests.jsonl\n");
    return 64;
  }
  kiln_buf_init(&line, 64u * 1024 * 1024);
  kiln_sigv4_result_init(&r);
  while (sigv4_jsonl_read_line(stdin, &line) == 0) {
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      grown = realloc(ins, cap * sizeof(*ins));
      if (grown == NULL) {
        rc = 1;
        goto done;
      }
      ins = grown;
    }
    if (sigv4_jsonl_parse(line.data, &ins[n]) != 0) {
      fprintf(stderr, "line %zu: bad input\n", n + 1);
      sigv4_jsonl_free(&ins[n]);
      rc = 1;
      goto done;
    }
    n++;
  }
  if (n == 0) {
    fprintf(stderr, "no requests on stdin\n");
    rc = 1;
    goto done;
  }
  start = now_s();
  do {
    for (i = 0; i < n; i++)
      if (kiln_sigv4_sign(&ins[i].req, &ins[i].cred, ins[i].region,
                          ins[i].service, ins[i].now, &r) != 0)
        rc = 1;
    count += n;
    elapsed = now_s() - start;
  } while (elapsed < seconds);
  printf("{\"signed\": %llu, \"seconds\": %.6f, \"per_second\": %.1f}\n", count,
         elapsed, (double)count / elapsed);
done:
  for (i = 0; i < n; i++)
    sigv4_jsonl_free(&ins[i]);
  free(ins);
  kiln_sigv4_result_cleanup(&r);
  kiln_buf_cleanup(&line);
  return rc;
}
