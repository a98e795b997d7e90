/* Status codes and error details shared by every fallible call of libtakedown. */
#ifndef TAKEDOWN_STATUS_H
#define TAKEDOWN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum td_status {
    TD_OK = 0,
    TD_ERR_NOMEM = -1,       /* out of memory */
    TD_ERR_INVALID = -2,     /* invalid argument or malformed input */
    TD_ERR_IO = -3,          /* a read or write failed */
    TD_ERR_LIMIT = -4,       /* input exceeds a configured limit */
    TD_ERR_CORRUPT = -5,     /* input is truncated or corrupt */
    TD_ERR_UNSUPPORTED = -6, /* input format or feature not supported */
    TD_ERR_NOT_FOUND = -7,   /* no such file, key or entry */
    TD_ERR_INTERNAL = -8,    /* a bug: an invariant did not hold */
    TD_ERR_CONFLICT = -9,    /* conflicts with existing state (name taken, claimed by another) */
    TD_ERR_NOSPACE = -10     /* no space left to write (disk or database full): retry later */
} td_status;

#define TD_ERROR_MESSAGE_MAX 512

/* Optional detail for a failed call; callers may pass NULL where a td_error * is taken. */
typedef struct td_error {
    td_status code;
    char message[TD_ERROR_MESSAGE_MAX];
} td_error;

/* A short, static description of a status code. */
const char *td_strerror(td_status status);

/* Frees memory handed out by the library (td_file_read and friends); accepts NULL. */
void td_free(void *p);

/* Resets err (if not NULL) to TD_OK with an empty message. */
void td_error_clear(td_error *err);

#ifdef __cplusplus
}
#endif

#endif
