#ifndef SLIPWAY_MULTIPART_H
#define SLIPWAY_MULTIPART_H

extern int multipart_placeholder_;

#endif
