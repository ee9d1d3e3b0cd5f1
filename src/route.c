#include "config.h"

#include "route.h"

int route_placeholder_;
