#include "config.h"

#include "valid.h"

int valid_placeholder_;
