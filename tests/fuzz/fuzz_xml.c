/* libFuzzer target: arbitrary bytes as an AWS answer, through Kiln's XML
 * scanner and libxml2 both; any disagreement (Kiln accepting what libxml2
 * refuses, or the two reading different trees) is a crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "xml_judge.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  kiln_test_xml_quiet();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char why[256];

  if (size == 0)
    return 0;
  if (kiln_test_xml_judge((const char *)data, size, why, sizeof(why)) != 0) {
    fprintf(stderr, "disagreement: %s\n", why);
    abort();
  }
  return 0;
}
