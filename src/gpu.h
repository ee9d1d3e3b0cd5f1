#ifndef SLIPWAY_GPU_H
#define SLIPWAY_GPU_H

extern int gpu_placeholder_;

#endif
