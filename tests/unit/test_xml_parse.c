/* aws/xml_parse.c judged against libxml2: on documents AWS writes, on
 * hostile ones, and on thousands of mutations of a real answer, Kiln's
 * scanner never accepts what libxml2 refuses, and where both accept, they
 * read the same tree (local names, and the text of elements without
 * children). */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "aws_client_private.h"
#include "kiln/error.h"
#include "xml_judge.h"

static void expect_same(const char *body, bool accepted)
{
  char why[256] = "";
  struct kiln_xml_doc *doc = NULL;

  if (kiln_test_xml_judge(body, strlen(body), why, sizeof(why)) != 0)
    fail_msg("%s: %s", body, why);
  assert_int_equal(kiln__xml_parse(body, strlen(body), &doc),
                   accepted ? 0 : KILN_EPARSE);
  kiln__xml_free(doc);
}

static void test_documents(void **state)
{
  (void)state;
  expect_same("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<R xmlns=\"u\">"
              "<a>x</a><b/><c>  </c></R>",
              true);
  expect_same("\xEF\xBB\xBF<R><a>caf\xC3\xA9 \xF0\x9F\x98\x80</a></R>", true);
  expect_same("<R><a>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;</a></R>",
              true);
  expect_same("<R><!-- note --><?pi data?><a><![CDATA[<&>]]>b</a></R>", true);
  expect_same("<ns:R xmlns:ns=\"u\"><ns:a>1</ns:a></ns:R>", true);
  expect_same("<R a='1' b = \"2\" ><a  >x</a ></R>\n<!-- after -->\n", true);
  expect_same("<R>\r\n\t<a>x\r\ny\rz</a></R>", true);
  expect_same("<R><a>x&#13;&#xD;\r<![CDATA[\r\n]]></a></R>", true);

  expect_same("", false);
  expect_same("   ", false);
  expect_same("<R>", false);
  expect_same("<R></r>", false);
  expect_same("<R><a></R></a>", false);
  expect_same("<R></R>x", false);
  expect_same("<R/><R/>", false);
  expect_same("x<R/>", false);
  expect_same("<R>&foo;</R>", false);
  expect_same("<R>&amp</R>", false);
  expect_same("<R>&#0;</R>", false);
  expect_same("<R>&#xD800;</R>", false);
  expect_same("<R>&#x110000;</R>", false);
  expect_same("<R>&#;</R>", false);
  expect_same("<R>a]]>b</R>", false);
  expect_same("<R>\x01</R>", false);
  expect_same("<R>\xC3</R>", false);
  expect_same("<R>\xC0\x80</R>", false);
  expect_same("<R>\xEF\xBF\xBF</R>", false);
  /* Names beyond ASCII: XML 1.0's NameStartChar and NameChar (a C1
   * control character is a Char, not a name's; U+00B7 goes on a name,
   * never starts one). */
  expect_same("<\xC2\x87m/>", false);
  expect_same("<R><\xC2\xB7"
              "b/></R>",
              false);
  expect_same("<R><a\xC2\xB7"
              "b/></R>",
              true);
  expect_same("<R><\xC3\xA9t\xC3\xA9>x</\xC3\xA9t\xC3\xA9></R>", true);
  expect_same("<R><?\xC2\x87 x?></R>", false);
  expect_same("<R><!-- a -- b --></R>", false);
  expect_same("<R><!-- a ---></R>", false);
  expect_same("<R><?xml version=\"1.0\"?></R>", false);
  expect_same("<R><? x?></R>", false);
  expect_same("<R a=1/>", false);
  expect_same("<R a='1'b='2'/>", false);
  expect_same("<R a='1' a='2'/>", false);
  expect_same("<R a='<'/>", false);
  expect_same("<R a='1/>", false);
  expect_same("<1R/>", false);
  expect_same("<R><![CDATA[x]></R>", false);
  expect_same("<!DOCTYPE R><R/>", false);
  expect_same("<!DOCTYPE R [<!ENTITY e \"x\">]><R>&e;</R>", false);
  expect_same("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><R/>", false);
  expect_same("<R><ns:/></R>", false);
  expect_same("<R></R ", false);
  expect_same("<R></Rx>", false);
}

/* A real answer (moto's DescribeAutoScalingGroups, shortened), mutated
 * thousands of ways: one to three bytes changed, dropped or doubled, or
 * markup put in. */
static const char sample[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<DescribeAutoScalingGroupsResponse "
    "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\">"
    "<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"
    "<AutoScalingGroupName>app-00001</AutoScalingGroupName>"
    "<LaunchTemplate><LaunchTemplateName>app-00001</LaunchTemplateName>"
    "<Version>3</Version></LaunchTemplate><MinSize>0</MinSize>"
    "<Tags><member><Key>Application</Key><Value>a &amp; b &lt;c&gt;</Value>"
    "<PropagateAtLaunch>true</PropagateAtLaunch></member></Tags>"
    "<Instances><member><InstanceId>i-0abc</InstanceId>"
    "<HealthStatus>Healthy</HealthStatus></member></Instances>"
    "<Note><![CDATA[x<y]]>&#233;</Note><Empty/>"
    "</member></AutoScalingGroups><NextToken/>"
    "</DescribeAutoScalingGroupsResult><ResponseMetadata>"
    "<RequestId>r-1</RequestId></ResponseMetadata>"
    "</DescribeAutoScalingGroupsResponse>\n";

static const char *const insertions[] = {
    "<",     ">",         "&",     "/",           "]]>", "<!--",
    "-->",   "<?",        "?>",    "'",           "\"",  "&#0;",
    "&amp;", "\x80",      "\xC3",  "\x00",        "<a>", "</a>",
    "<a/>",  "<![CDATA[", ":",     "=",           " ",   "\xEF\xBF\xBE",
    "\r",    "\r\n",      "&#13;", "xmlns:p='u' "};

static uint32_t next_random(uint32_t *seed)
{
  *seed = *seed * 1664525u + 1013904223u;
  return *seed >> 8;
}

/* One change to doc (len bytes, room for 16 more); its new length. */
static size_t mutate(char *doc, size_t len, uint32_t *seed)
{
  size_t at = next_random(seed) % len;
  uint32_t kind = next_random(seed) % 4;

  if (kind == 0) { /* a byte changed */
    doc[at] = (char)(next_random(seed) & 0xFF);
  } else if (kind == 1) { /* dropped */
    memmove(doc + at, doc + at + 1, len - at - 1);
    len--;
  } else if (kind == 2) { /* doubled */
    memmove(doc + at + 1, doc + at, len - at);
    len++;
  } else { /* markup put in */
    const char *ins = insertions[next_random(seed) %
                                 (sizeof(insertions) / sizeof(insertions[0]))];
    size_t n = ins[0] == '\0' ? 1 : strlen(ins);
    memmove(doc + at + n, doc + at, len - at);
    memcpy(doc + at, ins, n);
    len += n;
  }
  return len;
}

static void test_mutations(void **state)
{
  static char doc[sizeof(sample) + 64];
  uint32_t seed = 20261206;
  size_t base = sizeof(sample) - 1, len;
  char why[256];
  int accepted = 0;

  (void)state;
  for (int round = 0; round < 50000; round++) {
    uint32_t changes = 1 + next_random(&seed) % 3;

    memcpy(doc, sample, base);
    len = base;
    for (uint32_t c = 0; c < changes; c++)
      len = mutate(doc, len, &seed);
    if (kiln_test_xml_judge(doc, len, why, sizeof(why)) != 0)
      fail_msg("mutation %d: %s\n%.*s", round, why, (int)len, doc);
    struct kiln_xml_doc *d = NULL;
    if (kiln__xml_parse(doc, len, &d) == 0)
      accepted++;
    kiln__xml_free(d);
  }
  /* Most changes to text keep the document valid. */
  assert_true(accepted > 2000);
}

int main(void)
{
  kiln_test_xml_quiet();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_documents),
      cmocka_unit_test(test_mutations),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
