#ifndef SLIPWAY_CONFIG_H
#define SLIPWAY_CONFIG_H

extern int config_placeholder_;

#endif
