#include "config.h"

#include "compose.h"

int compose_placeholder_;
