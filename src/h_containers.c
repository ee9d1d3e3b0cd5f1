#include "config.h"

#include "handlers.h"

int h_containers_placeholder_;
