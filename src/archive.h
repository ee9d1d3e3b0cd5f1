#ifndef SLIPWAY_ARCHIVE_H
#define SLIPWAY_ARCHIVE_H

extern int archive_placeholder_;

#endif
