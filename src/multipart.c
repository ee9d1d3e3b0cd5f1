#include "config.h"

#include "multipart.h"

int multipart_placeholder_;
