#ifndef SLIPWAY_JSONX_H
#define SLIPWAY_JSONX_H

extern int jsonx_placeholder_;

#endif
