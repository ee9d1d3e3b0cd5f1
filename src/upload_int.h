/*
 * upload_int: what upload.c (placing trees) and upload_rx.c (receiving)
 * share.  Not for other modules.
 */
#ifndef SLIPWAY_UPLOAD_INT_H
#define SLIPWAY_UPLOAD_INT_H

#include "archive.h"

struct req;

/* A failed extraction as the request's error (400, 413 or 500): -1. */
int	upload_archive_fail(struct req *, enum archive_result, const char *err);

#endif
