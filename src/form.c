#include "config.h"

#include "form.h"

int form_placeholder_;
