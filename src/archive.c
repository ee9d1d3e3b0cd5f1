#include "config.h"

#include "archive.h"

int archive_placeholder_;
