#ifndef SLIPWAY_APPS_H
#define SLIPWAY_APPS_H

extern int apps_placeholder_;

#endif
