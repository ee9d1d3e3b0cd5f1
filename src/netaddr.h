#ifndef SLIPWAY_NETADDR_H
#define SLIPWAY_NETADDR_H

extern int netaddr_placeholder_;

#endif
