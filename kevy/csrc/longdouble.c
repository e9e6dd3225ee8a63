/* INCRBYFLOAT arithmetic in C `long double`, the way Redis does it.
 *
 * Redis parses both operands with strtold, adds them in `long double`
 * (80-bit x87 extended precision on x86-64) and prints the sum with
 * "%.17Lf", trailing zeros removed. Rust has no such type, so kevy does
 * these three steps here and keeps everything else on the Rust side
 * (kevy/src/cmd/strings/float.rs). The caller passes byte slices with their
 * lengths and an output buffer with its capacity: nothing here reads or
 * writes outside them. */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Redis's MAX_LONG_DOUBLE_CHARS: the longest number text it parses and the
 * size of the buffer it prints into. */
#define KEVY_LD_CHARS (5 * 1024)

enum {
    KEVY_LD_OK = 0,
    KEVY_LD_NOT_FLOAT = 1,
    KEVY_LD_NAN_OR_INF = 2,
};

/* Redis's string2ld: the whole text must be a number, no leading space,
 * no NaN, no overflow to infinity and no underflow to zero. */
static int parse_long_double(const unsigned char *text, size_t len, long double *out) {
    char buf[KEVY_LD_CHARS];
    char *end;
    long double value;

    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';

    errno = 0;
    value = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end[0] != '\0' || (size_t)(end - buf) != len ||
        (errno == ERANGE &&
         (value == HUGE_VALL || value == -HUGE_VALL || fpclassify(value) == FP_ZERO)) ||
        errno == EINVAL || isnan(value))
        return 0;
    *out = value;
    return 1;
}

/* Redis's ld2string in LD_STR_HUMAN mode. Returns the length, 0 when the
 * buffer is too small. */
static size_t format_long_double(char *out, size_t cap, long double value) {
    int printed = snprintf(out, cap, "%.17Lf", value);
    size_t len;

    if (printed < 0 || (size_t)printed + 1 > cap) return 0;
    len = (size_t)printed;
    if (strchr(out, '.') != NULL) {
        char *p = out + len - 1;
        while (*p == '0') {
            p--;
            len--;
        }
        if (*p == '.') len--;
    }
    if (len == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        len = 1;
    }
    return len;
}

/* current (absent when current == NULL, meaning 0) + increment, printed
 * into out. On KEVY_LD_OK, *out_len holds the length of the text: 0 when
 * out is too small, as Redis then stores an empty string (it cannot happen
 * with an out of KEVY_LD_CHARS bytes: the largest finite long double
 * prints in under 5000). */
int kevy_incrbyfloat(const unsigned char *current, size_t current_len,
                     const unsigned char *increment, size_t increment_len,
                     char *out, size_t out_cap, size_t *out_len) {
    long double value = 0, incr;

    if (current != NULL && !parse_long_double(current, current_len, &value))
        return KEVY_LD_NOT_FLOAT;
    if (!parse_long_double(increment, increment_len, &incr)) return KEVY_LD_NOT_FLOAT;
    value += incr;
    if (isnan(value) || isinf(value)) return KEVY_LD_NAN_OR_INF;
    *out_len = format_long_double(out, out_cap, value);
    return KEVY_LD_OK;
}
