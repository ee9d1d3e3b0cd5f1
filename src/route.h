#ifndef SLIPWAY_ROUTE_H
#define SLIPWAY_ROUTE_H

extern int route_placeholder_;

#endif
