#include "config.h"

#include "handlers.h"

int h_auth_placeholder_;
