#include "config.h"

#include "yamlcfg.h"

int yamlcfg_placeholder_;
