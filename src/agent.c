#include "config.h"

#include "agent.h"

int agent_placeholder_;
