#include "config.h"

#include "ports.h"

int ports_placeholder_;
