#ifndef SLIPWAY_YAMLCFG_H
#define SLIPWAY_YAMLCFG_H

extern int yamlcfg_placeholder_;

#endif
