/*
 * crypto/mac — a keyed hash for MACs kept in storage (crypto.h: mes_mac).
 */
#include <sodium.h>

#include "crypto/crypto.h"

void mes_mac(const uint8_t key[MES_KEY_BYTES], const void *in, size_t len, uint8_t out[32]) {
  crypto_generichash(out, 32, in, len, key, MES_KEY_BYTES);
}
