#include "config.h"

#include "docker.h"

int docker_placeholder_;
