#include "config.h"

#include "auth.h"

int auth_placeholder_;
