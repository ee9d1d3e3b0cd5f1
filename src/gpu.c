#include "config.h"

#include "gpu.h"

int gpu_placeholder_;
