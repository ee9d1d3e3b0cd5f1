#ifndef SLIPWAY_COMPOSE_H
#define SLIPWAY_COMPOSE_H

extern int compose_placeholder_;

#endif
