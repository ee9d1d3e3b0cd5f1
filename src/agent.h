#ifndef SLIPWAY_AGENT_H
#define SLIPWAY_AGENT_H

extern int agent_placeholder_;

#endif
