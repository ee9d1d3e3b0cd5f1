#include "config.h"

#include "apps.h"

int apps_placeholder_;
