/* base/err — the contract names, statuses and sentences of result codes. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char *code;
  int status;
  const char *msg;
} rows[] = {
#define MES_X_ROW(e, c, s, m) {c, s, m},
    MES_ERR_MAP(MES_X_ROW)
#undef MES_X_ROW
};

/* The table's sentences in the other languages of contract §2, by code.
 * Keyed by the enum, so a row added to MES_ERR_MAP is a gap here (English
 * is shown meanwhile), which tests/unit/base/test_err_lang.c refuses. */
#define T(e, text) [MES_E##e] = text
static const char *const sentences_es[MES_E_COUNT_] = {
    T(OK, "Hecho."),
    T(NOMEM, "Al servidor le falta memoria; vuelve a intentarlo en unos momentos."),
    T(IO, "No se pudo leer o escribir un archivo."),
    T(STORE, "El almacén de datos falló; no se cambió nada."),
    T(CRYPTO, "Falló una operación criptográfica."),
    T(INTERNAL, "Algo falló dentro del servidor."),
    T(UNAVAILABLE, "El servicio no está listo; vuelve a intentarlo en unos momentos."),
    T(STORAGE_FULL, "El almacenamiento del servidor está lleno; no se cambió nada. Vuelve a intentarlo más tarde."),
    T(USAGE, "La orden no se usó como está documentado."),
    T(BAD_REQUEST, "La petición no sigue HTTP/1.1."),
    T(BAD_JSON, "El cuerpo de la petición no es JSON válido."),
    T(BAD_UTF8, "El texto no es UTF-8 válido."),
    T(UNKNOWN_FIELD, "La petición tiene un campo que este punto de acceso no admite."),
    T(MISSING_FIELD, "Falta un campo obligatorio."),
    T(WRONG_TYPE, "Un campo tiene un tipo incorrecto."),
    T(INVALID_ID, "Un identificador debe tener de 1 a 128 bytes de UTF-8 sin caracteres de control."),
    T(OUT_OF_RANGE, "Un valor está fuera del rango permitido."),
    T(INVALID_VALUE, "Un valor no es uno de los permitidos."),
    T(BAD_TS, "Una marca de tiempo debe ser un texto RFC 3339 o milisegundos enteros desde 1970."),
    T(TS_IN_FUTURE, "La marca de tiempo está más de 5 minutos en el futuro."),
    T(UNKNOWN_EVENT_TYPE, "La política no declara este tipo de evento."),
    T(UNKNOWN_PURPOSE, "La política no declara esta finalidad."),
    T(BATCH_TOO_LARGE, "Un lote contiene como máximo 10.000 elementos."),
    T(EMPTY_BODY, "La petición necesita un cuerpo JSON."),
    T(BODY_TOO_LARGE, "El cuerpo de la petición supera los 16 MiB."),
    T(UNSUPPORTED_MEDIA, "El cuerpo debe ser JSON (Content-Type: application/json)."),
    T(UNAUTHORIZED, "Se necesita una clave de API válida."),
    T(TOKEN_EXPIRED, "El token ha caducado; pide uno nuevo."),
    T(FORBIDDEN, "Esta clave no tiene el permiso que necesita esta petición."),
    T(NOT_FOUND, "Aquí no hay nada."),
    T(METHOD_NOT_ALLOWED, "Este método no está permitido aquí."),
    T(CONFLICT, "La petición entra en conflicto con el estado actual."),
    T(EXISTS, "Ya existe."),
    T(GPC_CONFLICT, "El navegador envió Global Privacy Control: pide no ser rastreado para esta finalidad."),
    T(RATE_LIMITED, "Demasiadas peticiones con esta clave; vuelve a intentarlo más tarde."),
    T(RESTRICTED, "El tratamiento de los datos de esta persona está limitado."),
    T(BAD_POLICY, "El archivo de política mesura.yaml no es válido."),
    T(NOT_EMPTY, "El directorio no está vacío."),
    T(BAD_INPUT, "La entrada no es válida."),
    T(NO_CONSENT, "Esta persona no ha aceptado este uso de sus datos."),
    T(AUDIT_NOT_ENABLED, "Las auditorías no están activadas: la política no declara ninguna finalidad llamada audit."),
    T(GROUPS_TOO_SMALL,
      "Todos los grupos son más pequeños que audit.min_group_size de la política; no se calculó nada."),
};
static const char *const sentences_pl[MES_E_COUNT_] = {
    T(OK, "Gotowe."),
    T(NOMEM, "Serwerowi brakuje pamięci; spróbuj ponownie za chwilę."),
    T(IO, "Nie udało się odczytać ani zapisać pliku."),
    T(STORE, "Magazyn danych zawiódł; nic nie zostało zmienione."),
    T(CRYPTO, "Operacja kryptograficzna nie powiodła się."),
    T(INTERNAL, "Coś poszło nie tak wewnątrz serwera."),
    T(UNAVAILABLE, "Usługa nie jest gotowa; spróbuj ponownie za chwilę."),
    T(STORAGE_FULL, "Pamięć dyskowa serwera jest pełna; nic nie zostało zmienione. Spróbuj ponownie później."),
    T(USAGE, "Polecenie nie zostało użyte zgodnie z dokumentacją."),
    T(BAD_REQUEST, "Żądanie nie jest zgodne z HTTP/1.1."),
    T(BAD_JSON, "Treść żądania nie jest poprawnym JSON-em."),
    T(BAD_UTF8, "Tekst nie jest poprawnym UTF-8."),
    T(UNKNOWN_FIELD, "Żądanie zawiera pole, którego ten punkt dostępu nie przyjmuje."),
    T(MISSING_FIELD, "Brakuje wymaganego pola."),
    T(WRONG_TYPE, "Pole ma niewłaściwy typ."),
    T(INVALID_ID, "Identyfikator musi mieć od 1 do 128 bajtów UTF-8 bez znaków sterujących."),
    T(OUT_OF_RANGE, "Wartość jest poza dozwolonym zakresem."),
    T(INVALID_VALUE, "Wartość nie należy do dozwolonych."),
    T(BAD_TS, "Znacznik czasu musi być tekstem RFC 3339 lub liczbą milisekund od 1970 roku."),
    T(TS_IN_FUTURE, "Znacznik czasu wybiega ponad 5 minut w przyszłość."),
    T(UNKNOWN_EVENT_TYPE, "Polityka nie deklaruje tego typu zdarzenia."),
    T(UNKNOWN_PURPOSE, "Polityka nie deklaruje tego celu."),
    T(BATCH_TOO_LARGE, "Partia może zawierać najwyżej 10 000 pozycji."),
    T(EMPTY_BODY, "Żądanie wymaga treści w formacie JSON."),
    T(BODY_TOO_LARGE, "Treść żądania przekracza 16 MiB."),
    T(UNSUPPORTED_MEDIA, "Treść musi być JSON-em (Content-Type: application/json)."),
    T(UNAUTHORIZED, "Wymagany jest ważny klucz API."),
    T(TOKEN_EXPIRED, "Token wygasł; poproś o nowy."),
    T(FORBIDDEN, "Ten klucz nie ma uprawnienia, którego wymaga to żądanie."),
    T(NOT_FOUND, "Nic tu nie ma."),
    T(METHOD_NOT_ALLOWED, "Ta metoda nie jest tu dozwolona."),
    T(CONFLICT, "Żądanie jest sprzeczne z bieżącym stanem."),
    T(EXISTS, "To już istnieje."),
    T(GPC_CONFLICT, "Przeglądarka wysłała Global Privacy Control: prosi, by nie śledzić jej w tym celu."),
    T(RATE_LIMITED, "Zbyt wiele żądań z tym kluczem; spróbuj ponownie później."),
    T(RESTRICTED, "Przetwarzanie danych tej osoby jest ograniczone."),
    T(BAD_POLICY, "Plik polityki mesura.yaml jest niepoprawny."),
    T(NOT_EMPTY, "Katalog nie jest pusty."),
    T(BAD_INPUT, "Dane wejściowe są niepoprawne."),
    T(NO_CONSENT, "Ta osoba nie zgodziła się na takie wykorzystanie swoich danych."),
    T(AUDIT_NOT_ENABLED, "Audyty nie są włączone: polityka nie deklaruje celu o nazwie audit."),
    T(GROUPS_TOO_SMALL, "Każda grupa jest mniejsza niż audit.min_group_size z polityki; niczego nie obliczono."),
};
#undef T

static int valid(int rc) { return rc >= 0 && rc < MES_E_COUNT_; }

const char *mes_rc_code(int rc) { return valid(rc) ? rows[rc].code : "internal_error"; }
int mes_rc_status(int rc) { return valid(rc) ? rows[rc].status : 500; }
const char *mes_rc_message(int rc) { return valid(rc) ? rows[rc].msg : rows[MES_EINTERNAL].msg; }

const char *mes_rc_message_in(int rc, const char *lang) {
  if (!valid(rc))
    rc = MES_EINTERNAL;
  const char *const *t = NULL;
  if (lang && strcmp(lang, "es") == 0)
    t = sentences_es;
  else if (lang && strcmp(lang, "pl") == 0)
    t = sentences_pl;
  return t && t[rc] ? t[rc] : rows[rc].msg;
}

/* Cuts a multi-byte UTF-8 character that a truncation left incomplete at the
 * end of s. The field and the sentence are cut to their buffers, and both end
 * up in JSON replies: jansson refuses a string that is not valid UTF-8, which
 * turned a client's long unknown member name into a 503 (found by fuzz_events). */
static void trim_partial_utf8(char *s) {
  size_t n = strlen(s), back = 0;
  while (back < n && back < 4 && ((unsigned char)s[n - 1 - back] & 0xC0) == 0x80)
    back++;
  if (back == n)
    return;
  unsigned char lead = (unsigned char)s[n - 1 - back];
  size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (back + 1 < need)
    s[n - 1 - back] = '\0';
}

int mes_err_set(struct mes_err *err, int rc, const char *field, const char *fmt, ...) {
  if (!err)
    return rc;
  err->rc = rc;
  err->field[0] = '\0';
  err->msg[0] = '\0';
  if (field)
    snprintf(err->field, sizeof err->field, "%s", field);
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
  }
  trim_partial_utf8(err->field);
  trim_partial_utf8(err->msg);
  return rc;
}

void mes_err_clear(struct mes_err *err) {
  if (err)
    memset(err, 0, sizeof *err);
}

const char *mes_err_text(const struct mes_err *err) {
  if (!err)
    return rows[MES_EINTERNAL].msg;
  return err->msg[0] ? err->msg : mes_rc_message(err->rc);
}
