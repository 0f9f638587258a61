/* AWS error responses, parsed into code, message and request id.
 *
 * Understands the four protocols Kiln speaks:
 *   EC2 query   <Response><Errors><Error><Code/><Message/></Error></Errors>
 *               <RequestID/></Response>
 *   query       <ErrorResponse><Error><Type/><Code/><Message/></Error>
 *               <RequestId/></ErrorResponse>   (Auto Scaling, STS)
 *   JSON 1.1    {"__type": "[namespace#]Code", "message"|"Message": ...}
 *   REST-JSON   x-amzn-ErrorType header ("Code[:...]"), else the body's
 *               "__type" or "code"; "message"|"Message"
 *
 * Pure functions of their input; thread-safe. XML is parsed with libxml2
 * without network access, DTDs or entity expansion (a document with a
 * DOCTYPE is refused), and bodies over KILN_AWS_ERROR_MAX_BODY_BYTES are
 * not parsed.
 */
#ifndef KILN_AWS_ERROR_H
#define KILN_AWS_ERROR_H

#include <stddef.h>

struct kiln_http_response;

#define KILN_AWS_ERROR_MAX_BODY_BYTES (256u * 1024)

enum kiln_aws_protocol {
  KILN_AWS_PROTOCOL_EC2_QUERY,
  KILN_AWS_PROTOCOL_QUERY,
  KILN_AWS_PROTOCOL_JSON,
  KILN_AWS_PROTOCOL_REST_JSON
};

struct kiln_aws_error {
  long http_status;
  char code[128];       /* "RequestLimitExceeded"; "" when none was found */
  char message[1024];   /* truncated on a UTF-8 boundary */
  char request_id[128]; /* from the body, else from the headers */
  int sender_fault;     /* query <Type>Sender</Type>: 1, Receiver: 0 */
};

/* Parses an error response. header_error_type is x-amzn-ErrorType and
 * header_request_id x-amzn-requestid / x-amz-request-id (both may be
 * NULL). out is always filled (status, whatever was found). Returns 0 when
 * an error code was found, KILN_EPARSE when the body is not a recognisable
 * error document (garbage, truncated, empty), KILN_ETOOBIG when it is
 * over the limit, KILN_EINVAL on bad arguments. */
int kiln_aws_error_parse(enum kiln_aws_protocol protocol, long http_status,
                         const char *body, size_t body_len,
                         const char *header_error_type,
                         const char *header_request_id,
                         struct kiln_aws_error *out);

/* The same for an HTTP response from kiln_http_request_start(). */
int kiln_aws_error_from_response(enum kiln_aws_protocol protocol,
                                 const struct kiln_http_response *res,
                                 struct kiln_aws_error *out);

#endif
