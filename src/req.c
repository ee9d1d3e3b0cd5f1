#include "config.h"

#include "req.h"

int req_placeholder_;
