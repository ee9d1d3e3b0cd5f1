#ifndef SLIPWAY_AUTH_H
#define SLIPWAY_AUTH_H

extern int auth_placeholder_;

#endif
