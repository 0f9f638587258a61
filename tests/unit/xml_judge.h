/* Judges aws/xml_parse.c against libxml2, for the unit test and the
 * fuzzer: Kiln's scanner must never accept what libxml2 refuses, and where
 * both accept they must read the same tree (local names, and the text of
 * elements without children). */
#ifndef KILN_TEST_XML_JUDGE_H
#define KILN_TEST_XML_JUDGE_H

#include <stddef.h>

/* 0 when they agree on body; 1 when they do not, with why set. */
int kiln_test_xml_judge(const char *body, size_t len, char *why, size_t size);

/* Silences libxml2's messages on stderr. */
void kiln_test_xml_quiet(void);

#endif
