/*
 * mesura — the one table of result codes.
 *
 * Every fallible call in libmesura returns an `int` that is 0 (MES_OK) or a
 * positive MES_E* code from this table. Each row gives the code, the name the
 * HTTP contract uses (`"code"` of an error reply), the HTTP status and a
 * default sentence. Because the HTTP layer and the CLI read the same rows, the
 * mapping from a failure to what the user sees cannot drift.
 *
 * Sentences never carry personal data: details go in struct mes_err, filled
 * by the callee with a message written for the person reading it.
 */
#ifndef MESURA_ERROR_H
#define MESURA_ERROR_H

#include <stddef.h>

/* X(ENUM, "contract_code", http_status, "Default sentence.") */
#define MES_ERR_MAP(X)                                                                            \
  X(OK, "ok", 200, "Done.")                                                                      \
  X(NOMEM, "out_of_memory", 503, "The server is short of memory; please retry shortly.")        \
  X(IO, "io_error", 500, "A file could not be read or written.")                               \
  X(STORE, "store_error", 500, "The data store failed; nothing was changed.")                  \
  X(CRYPTO, "crypto_error", 500, "A cryptographic operation failed.")                          \
  X(INTERNAL, "internal_error", 500, "Something went wrong inside the server.")                 \
  X(UNAVAILABLE, "unavailable", 503, "The service is not ready; please retry shortly.")        \
  X(STORAGE_FULL, "storage_full", 507,                                                          \
    "The server's storage is full; nothing was changed. Please retry later.")                 \
  X(USAGE, "usage", 400, "The command was not used as documented.")                             \
  X(BAD_REQUEST, "bad_request", 400, "The request does not follow HTTP/1.1.")                  \
  X(BAD_JSON, "malformed_json", 400, "The request body is not valid JSON.")                    \
  X(BAD_UTF8, "invalid_utf8", 400, "The text is not valid UTF-8.")                             \
  X(UNKNOWN_FIELD, "unknown_field", 400, "The request has a field this endpoint does not take.") \
  X(MISSING_FIELD, "missing_field", 400, "A required field is missing.")                       \
  X(WRONG_TYPE, "wrong_type", 400, "A field has the wrong type.")                              \
  X(INVALID_ID, "invalid_id", 400,                                                              \
    "An id must be 1 to 128 bytes of UTF-8 without control characters.")                       \
  X(OUT_OF_RANGE, "out_of_range", 400, "A value is outside the allowed range.")                \
  X(INVALID_VALUE, "invalid_value", 400, "A value is not one of those allowed.")               \
  X(BAD_TS, "invalid_timestamp", 400,                                                           \
    "A timestamp must be an RFC 3339 string or integer epoch milliseconds.")                   \
  X(TS_IN_FUTURE, "ts_in_future", 400, "The timestamp is more than 5 minutes in the future.")  \
  X(UNKNOWN_EVENT_TYPE, "unknown_event_type", 400, "The policy does not declare this event type.") \
  X(UNKNOWN_PURPOSE, "unknown_purpose", 404, "The policy does not declare this purpose.")      \
  X(BATCH_TOO_LARGE, "batch_too_large", 413, "A batch holds at most 10,000 entries.")          \
  X(EMPTY_BODY, "empty_body", 400, "The request needs a JSON body.")                           \
  X(BODY_TOO_LARGE, "body_too_large", 413, "The request body is larger than 16 MiB.")          \
  X(UNSUPPORTED_MEDIA, "unsupported_media_type", 415, "The body must be JSON.")                \
  X(UNAUTHORIZED, "unauthorized", 401, "A valid API key is required.")                         \
  X(TOKEN_EXPIRED, "token_expired", 401, "The token has expired; ask for a new one.")          \
  X(FORBIDDEN, "forbidden", 403, "This key does not have the scope this request needs.")       \
  X(NOT_FOUND, "not_found", 404, "Nothing is here.")                                            \
  X(METHOD_NOT_ALLOWED, "method_not_allowed", 405, "This method is not allowed here.")         \
  X(CONFLICT, "conflict", 409, "The request conflicts with the current state.")                \
  X(EXISTS, "already_exists", 409, "It already exists.")                                       \
  X(GPC_CONFLICT, "gpc_conflict", 409,                                                          \
    "The browser sent Global Privacy Control, asking not to be tracked for this purpose.")     \
  X(RATE_LIMITED, "rate_limited", 429, "Too many requests for this key; retry later.")         \
  X(RESTRICTED, "restricted", 409, "Processing of this person's data is restricted.")          \
  X(BAD_POLICY, "invalid_policy", 400, "The policy file mesura.yaml is not valid.")            \
  X(NOT_EMPTY, "directory_not_empty", 400, "The directory is not empty.")                      \
  X(BAD_INPUT, "invalid_input", 400, "The input is not valid.")                                \
  X(NO_CONSENT, "no_consent", 409, "This person has not agreed to this use of their data.")    \
  X(AUDIT_NOT_ENABLED, "audit_not_enabled", 409,                                                \
    "Audits are not enabled: the policy declares no purpose named audit.")                     \
  X(GROUPS_TOO_SMALL, "groups_too_small", 422,                                                  \
    "Every group is smaller than the policy's audit.min_group_size; nothing was computed.")

enum mes_rc {
#define MES_X_ENUM(e, c, s, m) MES_E##e,
  MES_ERR_MAP(MES_X_ENUM)
#undef MES_X_ENUM
  MES_E_COUNT_
};
#define MES_OK 0

/*
 * Details of a failure, filled by the callee (caller-provided storage, no
 * allocation). `field` is a JSON pointer ("/events/3/ts") or empty; `msg` a
 * plain sentence for the user, or empty for the table's default. Never holds
 * personal data: no subject ids, property values or query text.
 */
struct mes_err {
  int rc;         /* an enum mes_rc value (positive index), MES_OK when unset */
  char field[160];
  char msg[256];
};

/* Contract name of a code ("unknown_field"). Static string; never NULL. */
const char *mes_rc_code(int rc);
/* HTTP status of a code. */
int mes_rc_status(int rc);
/* Default sentence of a code. Static string; never NULL. */
const char *mes_rc_message(int rc);
/* The same sentence in language `lang` ("en", "es", "pl"; any other gives
 * English). Static string; never NULL. */
const char *mes_rc_message_in(int rc, const char *lang);

#endif
