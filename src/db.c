#include "config.h"

#include "db.h"

int db_placeholder_;
