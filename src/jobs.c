#include "config.h"

#include "jobs.h"

int jobs_placeholder_;
