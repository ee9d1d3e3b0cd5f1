#include "config.h"

#include "ngxconf.h"

int ngxconf_placeholder_;
