#include "config.h"

#include "handlers.h"

int h_templates_placeholder_;
