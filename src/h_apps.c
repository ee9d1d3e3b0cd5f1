#include "config.h"

#include "handlers.h"
#include "req.h"

int
h_upload(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_status_list(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_app_get(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_logs(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_stop(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_restart(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_start(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_edit_app(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_app_delete(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

int
h_update_status(struct req *r)
{
	return req_fail(r, HERR_UNAVAILABLE, "not_implemented", "not implemented yet");
}

