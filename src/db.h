#ifndef SLIPWAY_DB_H
#define SLIPWAY_DB_H

extern int db_placeholder_;

#endif
