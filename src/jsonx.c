#include "config.h"

#include "jsonx.h"

int jsonx_placeholder_;
