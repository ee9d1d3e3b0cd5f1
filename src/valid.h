#ifndef SLIPWAY_VALID_H
#define SLIPWAY_VALID_H

extern int valid_placeholder_;

#endif
