#ifndef SLIPWAY_DOCKER_H
#define SLIPWAY_DOCKER_H

extern int docker_placeholder_;

#endif
