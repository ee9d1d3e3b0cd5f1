#include "config.h"

#include "handlers.h"

int h_apps_placeholder_;
