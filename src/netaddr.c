#include "config.h"

#include "netaddr.h"

int netaddr_placeholder_;
