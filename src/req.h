#ifndef SLIPWAY_REQ_H
#define SLIPWAY_REQ_H

extern int req_placeholder_;

#endif
