/*
 * explain — the words of mesura's explanations (contract §6): the reason
 * text of a recommendation in en, es and pl, and the sentences of
 * GET /v1/subjects/{s}/why.
 *
 * Tact, enforced here so that no caller can get it wrong:
 *   - a text names items by their titles, and never says how many times,
 *     how long or at what time of day something happened;
 *   - an item shown with implicit disclosure gets one neutral sentence that
 *     reveals nothing personal, whatever its reason was;
 *   - a text never states an inference about the person (no "you seem to be
 *     expecting"): personal reasons only name what the person did or said.
 * Polish avoids inflecting titles (which we cannot decline): the title
 * follows a colon or sits after a noun that carries the case ("Pasuje do
 * produktu kupionego przez Ciebie: Namiot 2p"), and no participle agrees
 * with the title's unknown gender.
 *
 * Every function is pure and thread-safe; texts are written into caller
 * buffers (truncated at a UTF-8 boundary, always NUL-terminated).
 */
#ifndef MES_EXPLAIN_H
#define MES_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>

#include "guard/guard.h"
#include "model/model.h"
#include "policy/policy.h"

#define MES_EXPLAIN_TEXT 512 /* bytes a reason text needs at most with a 128-byte title */

/*
 * The reason text of one recommended item.
 *   r        the reason code;
 *   l        the language;
 *   subject  what the text names (borrowed, may be NULL): for
 *            because_you_viewed and bought_together the title of the history
 *            item that contributed most; for buy_again the title of the
 *            bought item itself; for similar_to_current the title of
 *            the item on screen; for you_told_us the label of the category
 *            the person named; unused by the non-personal reasons;
 *   kind     for because_you_viewed, what the person did with `subject`
 *            (view, click or cart change the verb);
 *   implicit the item is shown with implicit disclosure: the neutral text.
 * A personal reason without a subject falls back to a sentence that names
 * nothing. Returns the length written.
 */
size_t mes_explain_reason(enum mes_reason r, enum mes_lang l, const char *subject, enum mes_kind kind,
                          bool implicit, char *out, size_t cap);

/* The sentences of GET /v1/subjects/{s}/why. */
enum mes_why_text {
  MES_WHY_RECOMMENDED = 0,  /* "This item may be recommended to you." */
  MES_WHY_NOT_RECOMMENDED,  /* nothing in the data makes it a recommendation */
  MES_WHY_SUPPRESSED,       /* a rule keeps it from being shown */
  MES_WHY_NOT_PERSONAL,     /* no consent (or restricted): nothing personal used */
  MES_WHY_UNKNOWN_ITEM,     /* the catalog has no such item */
  MES_WHY_UNAVAILABLE,      /* the item is not available */
  MES_WHY_DATA_USED,        /* heading: the data used */
  MES_WHY_NO_DATA_USED,     /* none of your data was used */
  MES_WHY_ACT_DISMISS,      /* what the person can do: */
  MES_WHY_ACT_WITHDRAW,
  MES_WHY_ACT_EXCLUDE,
  MES_WHY_ACT_DELETE_EVENT,
  MES_WHY_ACT_INTERESTS,
  MES_WHY_N
};
/* A static sentence in l (en when l is unknown). Never NULL. */
const char *mes_explain_why(enum mes_why_text t, enum mes_lang l);

/* The localized sentence of a guard rule's decision, by the rule's stable
 * name ("frequency_cap", ...), or NULL for a rule this module has no words
 * for (callers then show the rule's own detail). */
const char *mes_explain_rule(const char *rule, enum mes_lang l);

#endif
