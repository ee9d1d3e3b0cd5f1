#ifndef SLIPWAY_NGXCONF_H
#define SLIPWAY_NGXCONF_H

extern int ngxconf_placeholder_;

#endif
