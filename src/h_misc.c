#include "config.h"

#include "handlers.h"

int h_misc_placeholder_;
