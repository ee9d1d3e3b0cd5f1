#ifndef SLIPWAY_PORTS_H
#define SLIPWAY_PORTS_H

extern int ports_placeholder_;

#endif
