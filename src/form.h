#ifndef SLIPWAY_FORM_H
#define SLIPWAY_FORM_H

extern int form_placeholder_;

#endif
