#ifndef SLIPWAY_JOBS_H
#define SLIPWAY_JOBS_H

extern int jobs_placeholder_;

#endif
