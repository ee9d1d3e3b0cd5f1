#include "config.h"

#include "config.h"

int config_placeholder_;
